"""``client.duplicates()`` over a whole LocalStore: time, and memory beside the vectors'.

    python benchmarks/duplicates_scale.py                    # 100,000 records, HNSW index
    python benchmarks/duplicates_scale.py --index exact      # blocked exact products instead
    python benchmarks/duplicates_scale.py --records 10000    # under a minute

It indexes a few real photos from scikit-image, each with three edited copies
(``resize``, ``jpeg70``, ``crop90``), through ``client.add`` into a new
LocalStore (so their thumbnails are in the picture cache, as after any
indexing), with ``HashEmbedder(512)``: 512-d, the dimension of CLIP ViT-B/32,
and cheap enough to index photos in a moment. The rest of the store is random
512-d float32 unit vectors with provenance-like metadata whose pictures are
not cached (their ``file://`` URLs do not exist).

The duplicates pass runs in a child process that opens the store and calls
``client.duplicates()``; its peak resident memory minus its memory just before
the pass is the pass's growth, printed beside the size of the store's vectors
(``records x 512 x 4`` bytes, which LocalStore keeps in memory anyway): the
ratio says how much of the store the pass holds. OpenCV and the verifier's
modules are imported before that first reading; what remains in the growth is
the pass's working memory (a batch of records, OpenCV's buffers while it
computes features and matches), the same at any store size if the pass streams.
The planted photos are indexed first, so their verification (and its peak)
comes in the pass's first seconds; the RSS after the pass shows what it kept. It also checks that the
groups found are exactly the planted ones.

The store is opened with ``--index`` (``hnsw`` by default: the pass's first
batch of queries builds the graph, counted in the pass's time). In the same
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def build(path: Path, records: int, seed: int) -> list[list[str]]:
    """Write the store at ``path``; returns the planted groups as lists of titles."""
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
    with ImageSearchClient(embedder=HashEmbedder(DIM), store=LocalStore(path)) as client:
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


def numpy_knn_seconds(path: Path, k: int, sample: float) -> tuple[float, int]:
    """Seconds for one exact k-NN of every record with numpy, from a timed sample of queries."""
    from img2img import LocalStore

    with LocalStore(path) as store:
        vectors = np.concatenate(
            [np.stack([r.vector for r in page]) for page in store.scan(batch_size=10_000)]
        )
    queries = vectors[: max(256, int(vectors.shape[0] * sample))]
    start = time.perf_counter()
    for first in range(0, queries.shape[0], 256):
        scores = queries[first : first + 256] @ vectors.T
        np.argpartition(-scores, k, axis=1)[:, : k + 1]
    seconds = time.perf_counter() - start
    return seconds * vectors.shape[0] / queries.shape[0], queries.shape[0]


def run_pass(path: Path, index: str, quantization: str) -> dict[str, object]:
    """Open the store and run ``client.duplicates()`` in this process; what it measured."""
    # Imported first, so their code is not counted as the pass's memory.
    import cv2  # noqa: F401

    import img2img.postings.duplicates  # noqa: F401
    from img2img import HashEmbedder, ImageSearchClient, LocalStore

    store = LocalStore(path, index=index, quantization=quantization)
    with ImageSearchClient(embedder=HashEmbedder(DIM), store=store) as client:
        records = client.store.count()
        opened = _rss_bytes()
        # One query first: its one-time costs (threads, buffers, building or loading
        # the HNSW graph) are reported apart, and added to the pass's time.
        probe = np.zeros(DIM, dtype=np.float32)
        probe[0] = 1.0
        begun = time.perf_counter()
        client.store.query(probe, k=11)
        first_query = time.perf_counter() - begun
        before = _rss_bytes()
        start = time.perf_counter()
        groups = [sorted(p.title or "" for p in g.postings) for g in client.duplicates()]
        seconds = time.perf_counter() - start
        peak = _peak_rss_bytes()
        after = _rss_bytes()
    return {
        "records": records,
        "groups": sorted(groups),
        "seconds": seconds,
        "first_query": first_query,
        "rss_opened": opened,
        "rss_before": before,
        "rss_after": after,
        "rss_growth": max(0, peak - before),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--index", choices=["exact", "hnsw"], default="hnsw")
    parser.add_argument("--quantization", choices=["f32", "f16", "i8"], default="i8")
    parser.add_argument(
        "--knn-sample", type=float, default=0.1, help="share of queries the numpy k-NN times"
    )
    parser.add_argument("--pass-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pass_only is not None:  # the child process
        print(json.dumps(run_pass(args.pass_only, args.index, args.quantization)))
        return

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store" / "index.sqlite3"
        path.parent.mkdir()
        start = time.perf_counter()
        planted = build(path, args.records, args.seed)
        print(
            f"built {args.records:,} records ({sum(map(len, planted))} planted in "
            f"{len(planted)} groups) in {time.perf_counter() - start:.1f} s"
        )
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
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        knn, sampled = numpy_knn_seconds(path, 10, args.knn_sample)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    records, seconds = int(result["records"]), float(result["seconds"])
    vectors = records * DIM * 4
    growth = int(result["rss_growth"])
    found = result["groups"]
    print(f"records           {records:,} ({DIM}-d float32)")
    print(
        f"groups            {len(found)} found, {len(planted)} planted, "
        f"{'exactly the planted ones' if found == sorted(planted) else 'DIFFERENT: ' + str(found)}"
    )
    first = float(result["first_query"])
    print(
        f"first query       {first:.1f} s (index={args.index}, quantization={args.quantization}: "
        "builds the graph of a store that has none)"
    )
    print(f"duplicates pass   {seconds:.1f} s, {records / seconds:,.0f} records/s")
    print(
        f"numpy exact k-NN  {knn:.1f} s for every record (timed on {sampled:,} queries, "
        f"scaled); (first query + pass) / k-NN = {(first + seconds) / knn:.2f}"
    )
    opened, before = int(result["rss_opened"]), int(result["rss_before"])
    print(f"RSS store open    {opened / 2**20:.1f} MiB (vectors loaded)")
    print(
        f"RSS before pass   {before / 2**20:.1f} MiB (after one query: {(before - opened) / 2**20:+.1f})"
    )
    print(f"RSS after pass    {int(result['rss_after']) / 2**20:.1f} MiB")
    print(f"vectors           {vectors / 2**20:.1f} MiB (records x {DIM} x 4 bytes, the baseline)")
    print(
        f"RSS peak growth   {growth / 2**20:.1f} MiB during the pass "
        f"= {growth / vectors:.3f} x the vectors"
    )
    print(f"load average now  {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
