"""How the HNSW graph's build beam (expansion_add) trades build time for recall.

    python benchmarks/hnsw_build.py --size 200000 --expansion-add 40 128

Builds usearch graphs the way LocalStore does (i8, 16 links, the vectors added
in batches of 10,000 on 2 threads) over the clustered 512-d vectors of
benchmarks/store_search.py (the same seed, so the same vectors), and for each
search beam (expansion_search) reports recall@10 against an exact scan after
the store's exact re-rank of 32 candidates. Build time is wall and CPU
(user+sys, every thread) with the load average. Needs the ``ann`` extra.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from machine import cpu_flags
from store_search import DIM, clustered_rows, unit_rows
from usearch.index import Index

CANDIDATES = 32  # what LocalStore asks of the graph for k=10 (ranking.OVERFETCH, at least 32)
K = 10


def recall(graph: Index, vectors: np.ndarray, probes: np.ndarray, truth: np.ndarray) -> float:
    keys = np.asarray(graph.search(probes, CANDIDATES, threads=2).keys, dtype=np.int64)
    hits = 0
    for row, candidates in enumerate(keys):
        candidates = candidates[candidates >= 0]
        best = candidates[np.argsort(-(vectors[candidates] @ probes[row]))[:K]]
        hits += len(set(best.tolist()) & set(truth[row].tolist()))
    return hits / truth.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--expansion-add", type=int, nargs="+", default=[40, 128])
    parser.add_argument("--expansion-search", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")

    rng = np.random.default_rng(args.size)  # store_search's seed: the same vectors
    vectors = clustered_rows(rng, args.size)
    probes = vectors[rng.integers(0, args.size, args.probes)] + 0.05 * unit_rows(rng, args.probes)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    truth = np.argsort(-(probes @ vectors.T), axis=1)[:, :K]
    keys = np.arange(args.size, dtype=np.uint64)
    for beam in args.expansion_add:
        graph = Index(ndim=DIM, metric="ip", dtype="i8", connectivity=16, expansion_add=beam)
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, args.size, 10_000):
            graph.add(keys[start : start + 10_000], vectors[start : start + 10_000], threads=2)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{args.size:,} vectors, expansion_add {beam}: build wall {wall:.1f} s, "
            f"CPU {cpu:.1f} s, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        for search in args.expansion_search:
            graph.expansion_search = search
            seconds = []
            for probe in probes[:100]:
                begun = time.perf_counter()
                graph.search(probe, CANDIDATES)
                seconds.append(time.perf_counter() - begun)
            print(
                f"    expansion_search {search:>3}: recall@{K} {recall(graph, vectors, probes, truth):.3f}"
                f" (re-rank of {CANDIDATES}), graph search p50 {np.median(seconds) * 1e3:.2f} ms",
                flush=True,
            )
        del graph


if __name__ == "__main__":
    main()
