"""The HNSW graph's parameters: build time, search time and recall@10, side by side.

    python benchmarks/hnsw_parameters.py --records 100000            # clustered 512-d
    python benchmarks/hnsw_parameters.py --records 50000 --uniform   # random unit vectors

Builds a usearch graph as ``LocalStore(index="hnsw", quantization=...)`` does
(inner product, the store's dtype, two threads) for each ``connectivity`` and
``expansion_add`` asked, then for each ``expansion_search`` measures recall@10
against an exact search after the store's exact re-rank of 33 candidates
(``k * OVERFETCH`` for k = 11, what ``duplicates()`` asks), on probes near
stored vectors, and the CPU time of searching stored vectors themselves (what
the duplicates pass does). Times are CPU time (user + sys), which under a
shared machine's load says more than the wall clock; both are printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
from machine import cpu_flags
from store_search import clustered_rows, unit_rows

DIM = 512
CANDIDATES = 33
K = 10


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _recall(found: np.ndarray, rows: np.ndarray, probes: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top ``K`` in the best ``K`` of the candidates, re-ranked exactly."""
    hits = 0
    for probe, candidates, best in zip(probes, found, truth, strict=True):
        candidates = candidates[candidates >= 0]
        top = candidates[np.argsort(-(rows[candidates] @ probe))[:K]]
        hits += len(set(top.tolist()) & set(best.tolist()))
    return hits / (K * len(probes))


def main() -> None:
    from usearch.index import Index

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--uniform", action="store_true", help="random, not clustered, vectors")
    parser.add_argument("--quantization", choices=["f32", "f16", "i8"], default="i8")
    parser.add_argument("--builds", default="16:128,16:40,16:24", help="connectivity:expansion_add")
    parser.add_argument("--searches", default="64,48,32", help="expansion_search values")
    args = parser.parse_args()
    print(
        f"{args.records:,} {'uniform' if args.uniform else 'clustered'} {DIM}-d vectors, "
        f"{args.quantization}; CPU flags {cpu_flags()}; load average {os.getloadavg()[0]:.2f}"
    )
    rng = np.random.default_rng(0)
    rows = unit_rows(rng, args.records) if args.uniform else clustered_rows(rng, args.records)
    probes = rows[rng.integers(0, args.records, 500)] + 0.05 * unit_rows(rng, 500)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    truth = np.argsort(-(probes @ rows.T), axis=1)[:, :K]
    stored = rows[rng.integers(0, args.records, 2000)]
    keys = np.arange(args.records, dtype=np.uint64)
    for build in args.builds.split(","):
        connectivity, expansion_add = (int(x) for x in build.split(":"))
        graph = Index(
            ndim=DIM,
            metric="ip",
            dtype=args.quantization,
            connectivity=connectivity,
            expansion_add=expansion_add,
        )
        wall, cpu = time.perf_counter(), _cpu()
        graph.add(keys, rows, threads=2)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        print(
            f"connectivity {connectivity:>2} expansion_add {expansion_add:>3}: build "
            f"{wall:6.1f} s wall {cpu:6.1f} s CPU (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        for expansion in (int(x) for x in args.searches.split(",")):
            graph.expansion_search = expansion
            found = np.asarray(graph.search(probes, CANDIDATES, threads=2).keys, dtype=np.int64)
            recall = _recall(found, rows, probes, truth)
            wall, cpu = time.perf_counter(), _cpu()
            graph.search(stored, CANDIDATES, threads=2)
            wall, cpu = time.perf_counter() - wall, _cpu() - cpu
            print(
                f"    expansion_search {expansion:>3}: recall@{K} {recall:.3f}   searching stored "
                f"vectors {cpu / len(stored) * 1e3:.3f} ms CPU a query ({wall:.1f} s wall)",
                flush=True,
            )


if __name__ == "__main__":
    main()
