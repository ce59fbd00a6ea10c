"""How the HNSW graph's build beam (expansion_add) trades build time for recall.

    python benchmarks/hnsw_build.py --size 200000 --expansion-add 40 128

Builds usearch graphs the way LocalStore does (i8, 16 links, the vectors added
in batches of 10,000 on 2 threads) over the clustered 512-d vectors of
benchmarks/store_search.py (the same seed, so the same vectors), and for each
search beam (expansion_search) reports recall@10 against an exact scan after
the store's exact re-rank of 32 candidates. Build time is wall and CPU
(user+sys, every thread) with the load average. Needs the ``ann`` extra.

    python benchmarks/hnsw_build.py --open STORE.sqlite3

times opening the graph saved beside a store (``STORE.sqlite3.hnsw``, say
the one store_search.py ``--keep`` left) memory-mapped and read into memory,
each in a new process: wall, CPU, and resident memory after one search.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


OPEN = """
import json, sys, time
from pathlib import Path
import numpy as np
import usearch.index  # imported before the clock starts
from img2img.stores.local.approximate import ApproximateIndex

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0

path, header = Path(sys.argv[1]), json.loads(sys.argv[2])
before, wall, cpu = rss(), time.perf_counter(), time.process_time()
graph = ApproximateIndex.load(
    path, store_id=header["store_id"], dimension=header["dimension"],
    quantization=header["quantization"], view=sys.argv[3] == "mapped",
)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
probe = np.ones((1, header["dimension"]), np.float32) / header["dimension"] ** 0.5
begun = time.perf_counter()
graph.search(probe, 32)
print(wall, cpu, time.perf_counter() - begun, rss() - before, len(graph))
"""


def time_open(store: Path) -> None:
    from img2img.stores.local.approximate import index_path

    path = index_path(store)
    with path.open("rb") as file:
        header = file.readline().decode()
    print(f"{path}: {path.stat().st_size / 1e6:,.0f} MB, {json.loads(header)['quantization']}")
    for how in ("mapped", "read", "mapped", "read"):
        done = subprocess.run(
            [sys.executable, "-c", OPEN, str(path), header, how],
            capture_output=True,
            text=True,
            check=True,
        )
        wall, cpu, first, rss, size = (float(x) for x in done.stdout.split())
        print(
            f"{how:<7} open wall {wall:6.2f} s, CPU {cpu:5.2f} s; first search "
            f"{first * 1e3:6.1f} ms; memory +{rss:,.0f} MiB; {size:,.0f} vectors; "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--expansion-add", type=int, nargs="+", default=[40, 128])
    parser.add_argument("--expansion-search", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--open", type=Path, help="time opening this store's saved graph")
    args = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if args.open is not None:
        time_open(args.open)
        return

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
