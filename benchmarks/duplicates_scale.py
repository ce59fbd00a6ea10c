"""``client.duplicates()`` over a whole LocalStore: time, and memory beside the vectors'.

    python benchmarks/duplicates_scale.py                    # 100,000 records, HNSW index
    python benchmarks/duplicates_scale.py --index exact      # blocked exact products instead
    python benchmarks/duplicates_scale.py --records 10000    # under a minute
    python benchmarks/duplicates_scale.py --records 1000000 --store /tmp/dups-1m  # kept, reused
    python benchmarks/duplicates_scale.py --graph-from-writes  # the graph kept by the writes
    python benchmarks/duplicates_scale.py --neighbours store   # the store's own index, not lists

It indexes a few real photos from scikit-image, each with three edited copies
(``resize``, ``jpeg70``, ``crop90``), through ``client.add`` into a new
LocalStore (so their thumbnails are in the picture cache, as after any
indexing), with ``HashEmbedder(512)``: 512-d, the dimension of CLIP ViT-B/32,
and cheap enough to index photos in a moment. The rest of the store is random
512-d float32 unit vectors with provenance-like metadata whose pictures are
not cached (their ``file://`` URLs do not exist).

The duplicates pass runs in a child process that opens the store and calls
``client.duplicates()``; its peak resident memory during the pass (sampled
every 20 ms) minus its memory just before is the pass's growth, printed beside
the size of the store's vectors (``records x 512 x 4`` bytes, which LocalStore keeps in memory anyway): the
ratio says how much of the store the pass holds. OpenCV and the verifier's
modules are imported before that first reading; what remains in the growth is
the pass's working memory (a batch of records, OpenCV's buffers while it
computes features and matches), the same at any store size if the pass streams.
The planted photos are indexed first, so their verification (and its peak)
comes in the pass's first seconds; the RSS after the pass shows what it kept. It also checks that the
groups found are exactly the planted ones.

The store is opened with ``--index`` (``hnsw`` by default). ``--neighbours``
says what the pass asks: ``lists`` (the default, as shipped: inverted lists
built by the pass, so no graph is needed) or ``store`` (the store's own index:
one query first builds or loads the graph, timed apart and added to the
pass's time). In the same
run, one plain numpy exact k-NN of every record (blocked matrix products,
what ``index="exact"`` does) is timed over ``--knn-sample`` of the queries
and scaled to all of them (its cost is linear in the queries), the baseline
the pass must not be slower than.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from machine import cpu_flags

DIM = 512
BATCH = 1_000
EDITS = ("resize", "jpeg70", "crop90")
PHOTOS = ("coffee", "astronaut", "rocket", "chelsea", "coins", "camera")


def _rss_bytes() -> int:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _RssSampler:
    """The highest resident memory seen, read every 20 ms on a thread of its own while
    in the ``with`` block: the process's lifetime peak would include the graph's build."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self._stop.wait(0.02)

    def __enter__(self) -> _RssSampler:
        self.peak = _rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def build(path: Path, records: int, seed: int, store_options: dict[str, str]) -> list[list[str]]:
    """Write the store at ``path`` (opened with ``store_options``); returns the planted
    groups as lists of titles."""
    from img2img import HashEmbedder, ImageSearchClient, LocalStore
    from img2img.models import VectorRecord
    from img2img.testing.edits import apply_edit
    from img2img.testing.photos import sample_photos

    folder = path.parent / "photos"
    folder.mkdir()
    groups = []
    for name, photo in sample_photos(PHOTOS).items():
        photo.save(folder / f"{name}.png")
        group = [f"{name}.png"]
        for edit in EDITS:
            apply_edit(photo, edit, seed=seed).save(folder / f"{name}-{edit}.jpg")
            group.append(f"{name}-{edit}.jpg")
        groups.append(sorted(group))
    planted = sum(len(g) for g in groups)
    store = LocalStore(path, **store_options)  # type: ignore[arg-type]
    # The client does not close a store it was given: closed here, its graph saved.
    with store, ImageSearchClient(embedder=HashEmbedder(DIM), store=store) as client:
        report = client.add([folder])
        if report.failed:
            raise SystemExit(f"indexing the photos failed: {report.failed}")
        rng = np.random.default_rng(seed)
        for start in range(0, records - planted, BATCH):
            stop = min(start + BATCH, records - planted)
            vectors = rng.standard_normal((stop - start, DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            client.store.upsert(
                [
                    VectorRecord(
                        f"random-{i:07d}",
                        vector,
                        {
                            "image_url": f"file:///nonexistent/img2img-bench/{i}.jpg",
                            "page_url": f"https://site{i % 10}.example/post/{i}",
                            "title": f"random {i}",
                            "domain": f"site{i % 10}.example",
                        },
                    )
                    for i, vector in zip(range(start, stop), vectors, strict=True)
                ]
            )
    return groups


def numpy_knn_seconds(path: Path, k: int, sample: float) -> tuple[float, float, int]:
    """Wall and CPU seconds for one exact k-NN of every record with numpy, from a timed
    sample of queries, and the sample's size."""
    from img2img import LocalStore

    with LocalStore(path) as store:
        vectors = np.concatenate(
            [np.stack([r.vector for r in page]) for page in store.scan(batch_size=10_000)]
        )
    queries = vectors[: max(256, int(vectors.shape[0] * sample))]
    start, cpu = time.perf_counter(), _cpu_seconds()
    for first in range(0, queries.shape[0], 256):
        scores = queries[first : first + 256] @ vectors.T
        np.argpartition(-scores, k, axis=1)[:, : k + 1]
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    scale = vectors.shape[0] / queries.shape[0]
    return seconds * scale, cpu * scale, queries.shape[0]


def run_pass(path: Path, index: str, quantization: str, neighbours: str) -> dict[str, object]:
    """Open the store and run ``client.duplicates()`` in this process; what it measured."""
    # Imported first, so their code is not counted as the pass's memory.
    import cv2  # noqa: F401

    import img2img.postings.duplicates  # noqa: F401
    from img2img import HashEmbedder, ImageSearchClient, LocalStore

    store = LocalStore(path, index=index, quantization=quantization)
    if neighbours == "store":
        store.lists_from = sys.maxsize
    with ImageSearchClient(embedder=HashEmbedder(DIM), store=store) as client:
        records = client.store.count()
        opened = _rss_bytes()
        first_query = first_cpu = 0.0
        if neighbours == "store":
            # One query first: its one-time costs (threads, buffers, building or loading
            # the HNSW graph) are reported apart, and added to the pass's time.
            probe = np.zeros(DIM, dtype=np.float32)
            probe[0] = 1.0
            begun, cpu_begun = time.perf_counter(), _cpu_seconds()
            client.store.query(probe, k=11)
            first_query, first_cpu = time.perf_counter() - begun, _cpu_seconds() - cpu_begun
        before = _rss_bytes()
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        with _RssSampler() as sampler:
            groups = [sorted(p.title or "" for p in g.postings) for g in client.duplicates()]
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        peak = sampler.peak
        after = _rss_bytes()
    return {
        "records": records,
        "groups": sorted(groups),
        "seconds": seconds,
        "first_query": first_query,
        "first_cpu": first_cpu,
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "rss_opened": opened,
        "rss_before": before,
        "rss_after": after,
        "rss_growth": max(0, peak - before),
    }


def _store_in(
    folder: Path, records: int, seed: int, store_options: dict[str, str]
) -> tuple[Path, list[list[str]], float]:
    """The store kept in ``folder`` (built there unless it holds this size, seed and
    store options): its path, the planted groups and the seconds spent building it
    (0 when reused)."""
    path, about = folder / "store" / "index.sqlite3", folder / "planted.json"
    wanted = {"records": records, "seed": seed, "store": store_options}
    if about.exists():
        saved = json.loads(about.read_text())
        saved.setdefault("store", {})  # stores kept before the option were written plainly
        if {key: saved.get(key) for key in wanted} == wanted and path.exists():
            return path, saved["groups"], 0.0
    if folder.exists():
        shutil.rmtree(folder)
    path.parent.mkdir(parents=True)
    start = time.perf_counter()
    planted = build(path, records, seed, store_options)
    seconds = time.perf_counter() - start
    about.write_text(json.dumps({**wanted, "groups": planted}))
    return path, planted, seconds


def _measure(args: argparse.Namespace, folder: Path) -> None:
    # With --graph-from-writes the store is written through the index the pass uses,
    # so its writes keep the graph (a batch at a time) and the pass finds it current,
    # as after any indexing; else it is written without one and the graph is built
    # whole by the pass's first query.
    store_options = (
        {"index": args.index, "quantization": args.quantization} if args.graph_from_writes else {}
    )
    path, planted, built = _store_in(folder, args.records, args.seed, store_options)
    if built:
        print(
            f"built {args.records:,} records ({sum(map(len, planted))} planted in "
            f"{len(planted)} groups) in {built:.1f} s"
        )
    else:
        print(f"reused the store of {args.records:,} records in {folder}")
    if not args.graph_from_writes:
        graph = path.with_name(path.name + ".hnsw")
        graph.unlink(missing_ok=True)  # the build is part of what is timed
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--pass-only",
            str(path),
            "--index",
            args.index,
            "--quantization",
            args.quantization,
            "--neighbours",
            args.neighbours,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    for line in child.stderr.splitlines():  # the pass's warnings
        if "Warning" in line:
            print(f"pass warned      {line.split('Warning: ', 1)[-1]}")
    knn, knn_cpu, sampled = numpy_knn_seconds(path, 10, args.knn_sample)
    knn_load = os.getloadavg()[0]
    records, seconds = int(result["records"]), float(result["seconds"])
    vectors = records * DIM * 4
    growth = int(result["rss_growth"])
    found = result["groups"]
    print(f"records           {records:,} ({DIM}-d float32)")
    print(
        f"groups            {len(found)} found, {len(planted)} planted, "
        f"{'exactly the planted ones' if found == sorted(planted) else 'DIFFERENT: ' + str(found)}"
    )
    first, first_cpu = float(result["first_query"]), float(result["first_cpu"])
    if args.neighbours == "store":
        print(
            f"first query       {first:.1f} s wall, {first_cpu:.1f} s CPU "
            f"(index={args.index}, quantization={args.quantization}: "
            f"{'loads the graph the writes kept' if args.graph_from_writes else 'builds the graph'})"
        )
    else:
        print("first query       not asked (the pass builds inverted lists, not the graph)")
    cpu = float(result["cpu"])
    print(
        f"duplicates pass   {seconds:.1f} s wall, {cpu:.1f} s CPU, "
        f"{records / seconds:,.0f} records/s (load average {float(result['load']):.2f} at its end)"
    )
    total, total_cpu = first + seconds, first_cpu + cpu
    print(f"first query + pass {total:.1f} s wall, {total_cpu:.1f} s CPU")
    print(
        f"numpy exact k-NN  {knn:.1f} s wall, {knn_cpu:.1f} s CPU for every record (timed on "
        f"{sampled:,} queries, scaled; load average {knn_load:.2f}); "
        f"(first query + pass) / k-NN = {total / knn:.2f} wall, {total_cpu / knn_cpu:.2f} CPU"
    )
    opened, before = int(result["rss_opened"]), int(result["rss_before"])
    print(f"RSS store open    {opened / 2**20:.1f} MiB (vectors loaded)")
    if args.neighbours == "store":
        print(
            f"RSS before pass   {before / 2**20:.1f} MiB (after one query, the graph built: "
            f"{(before - opened) / 2**20:+.1f})"
        )
    print(f"RSS after pass    {int(result['rss_after']) / 2**20:.1f} MiB")
    print(f"vectors           {vectors / 2**20:.1f} MiB (records x {DIM} x 4 bytes, the baseline)")
    print(
        f"RSS peak growth   {growth / 2**20:.1f} MiB during the pass "
        f"= {growth / vectors:.3f} x the vectors"
    )
    print(f"load average now  {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", choices=["exact", "hnsw"], default="hnsw")
    parser.add_argument("--quantization", choices=["f32", "f16", "i8"], default="i8")
    parser.add_argument(
        "--graph-from-writes",
        action="store_true",
        help="write the store with the graph kept in step (its cost then in the build's time)",
    )
    parser.add_argument(
        "--neighbours",
        choices=["lists", "store"],
        default="lists",
        help="what the pass asks: inverted lists it builds (shipped) or the store's own index",
    )
    parser.add_argument(
        "--knn-sample", type=float, default=0.1, help="share of queries the numpy k-NN times"
    )
    parser.add_argument(
        "--store", type=Path, help="a folder to keep the generated store in and reuse"
    )
    parser.add_argument("--pass-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pass_only is not None:  # the child process
        print(json.dumps(run_pass(args.pass_only, args.index, args.quantization, args.neighbours)))
        return

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} cores, CPU flags {cpu_flags()}, load average {os.getloadavg()[0]:.2f}"
    )
    if args.store is not None:
        _measure(args, args.store)
        return
    with tempfile.TemporaryDirectory() as tmp:
        _measure(args, Path(tmp) / "bench")


if __name__ == "__main__":
    main()
