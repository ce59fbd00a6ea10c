"""Indexing throughput: the pipelined client against the embedder alone and a sequential loop.

A loopback server serves 300 real photos (the scikit-image photos and
flipped, cropped and rotated variants of them, each with its own bytes) as
JPEGs, waiting 200 ms before each reply, as a stand-in for the web's latency.
Three ways to index them, in one run, with the same embedder:

- **embedder alone**: the images already decoded in memory, ``embed_images``
  in batches of 32: the ceiling, what the model can do on this machine;
- **sequential loop**: what a first prototype does, for each URL download,
  decode, embed one image, upsert one record (timed on ``--sequential``
  images, since it takes 200 ms or more each);
- **img2img**: ``ImageSearchClient.add(urls)``: downloads, decoding and
  preprocessing on a thread pool, the model fed in batches on the calling thread.

    python benchmarks/index_pipeline.py [--images 300] [--latency 0.2] [--workers 32]
                                        [--embedder efficientnet|clip|both]
                                        [--server-process]

``--server-process`` runs the photo server in a child process, as the web
would be: its Python work then shares the machine's cores, not the
interpreter's lock.

``clip`` is ViT-B-32 with random weights: the same computation as the real
weights, which this machine cannot download.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from img2img import (
    ClipEmbedder,
    EfficientNetEmbedder,
    Embedder,
    HttpFetcher,
    ImageCandidate,
    ImageSearchClient,
    InMemoryStore,
    VectorRecord,
)
from img2img.cores import available_cores
from img2img.images import decode_image
from img2img.provenance import build_metadata, image_id
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


def photo_variants(count: int) -> list[bytes]:
    """``count`` JPEGs of real photos, no two with the same bytes."""
    from PIL import Image, ImageOps

    base = list(sample_photos().values())
    bodies = []
    for index in range(count):
        image = base[index % len(base)]
        variant = index // len(base)
        if variant % 2:
            image = ImageOps.mirror(image)
        if variant % 4 >= 2:
            image = image.rotate(3 + variant, resample=Image.Resampling.BICUBIC, expand=False)
        w, h = image.size
        margin = 0.02 * (variant % 5)
        image = image.crop(
            (int(w * margin), int(h * margin), w - int(w * margin), h - int(h * margin))
        )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=88 + variant % 8)
        bodies.append(buffer.getvalue())
    assert len(set(bodies)) == count
    return bodies


def embedder_alone(bodies: list[bytes], embedder: Embedder, batch: int = 32) -> tuple[float, float]:
    """Images a second, and CPU seconds an image (all threads), of ``embed_images``
    on the photos decoded beforehand."""
    images = [decode_image(body) for body in bodies]
    cpu_started, started = sum(os.times()[:2]), time.perf_counter()
    for start in range(0, len(images), batch):
        embedder.embed_images(images[start : start + batch])
    cpu = sum(os.times()[:2]) - cpu_started
    return len(images) / (time.perf_counter() - started), cpu / len(images)


def sequential(urls: list[str], embedder: Embedder, fetcher: HttpFetcher) -> float:
    store = InMemoryStore()
    started = time.perf_counter()
    for url in urls:
        content = fetcher.fetch(url)
        image = decode_image(content)
        vector = embedder.embed_images([image])[0]
        metadata = build_metadata(
            ImageCandidate(url), keyphrase="bench", content=content, image=image
        )
        store.upsert([VectorRecord(image_id(url), vector, metadata)])
    assert store.count() == len(urls)
    return len(urls) / (time.perf_counter() - started)


def pipelined(urls: list[str], embedder: Embedder, fetcher: HttpFetcher, workers: int) -> float:
    client = ImageSearchClient(
        embedder=embedder, store=InMemoryStore(), fetcher=fetcher, workers=workers
    )
    started = time.perf_counter()
    report = client.add(urls)
    elapsed = time.perf_counter() - started
    assert report.indexed == len(urls), report.failures[:3]
    assert report.reused == 0
    return len(urls) / elapsed


def quiet_libraries() -> None:
    """Keep the libraries' warnings and log lines out of the printed table."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger().setLevel(logging.ERROR)


def photo_server(bodies: list[bytes], latency: float) -> LoopbackServer:
    """A loopback server answering ``/N.jpg`` with ``bodies[N]`` after ``latency`` seconds."""

    def serve(request: RecordedRequest) -> Reply:
        time.sleep(latency)
        index = int(request.path.rsplit("/", 1)[-1].split(".")[0])
        return Reply(body=bodies[index % len(bodies)], headers={"Content-Type": "image/jpeg"})

    return LoopbackServer(serve)


def serve(images: int, latency: float) -> None:
    """Serve ``photo_variants(images)``, print the URL, and stop when standard input closes."""
    with photo_server(photo_variants(images), latency) as server:
        print(server.url, flush=True)
        sys.stdin.read()


@contextmanager
def photo_url(bodies: list[bytes], latency: float, *, in_child: bool) -> Iterator[str]:
    """The base URL of :func:`photo_server`, run in this process or in a child (this
    script with ``--serve``)."""
    if not in_child:
        with photo_server(bodies, latency) as server:
            yield server.url
        return
    command = [sys.executable, __file__, "--serve", "--images", str(len(bodies))]
    child = subprocess.Popen(
        [*command, "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        yield child.stdout.readline().strip()
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument(
        "--latency", type=float, default=0.2, help="seconds the server waits per image"
    )
    parser.add_argument("--embedder", choices=["clip", "efficientnet", "both"], default="both")
    parser.add_argument("--workers", type=int, default=32, help="downloads in flight")
    parser.add_argument(
        "--sequential", type=int, default=60, help="images the sequential loop times"
    )
    parser.add_argument(
        "--server-process", action="store_true", help="serve the photos from a child process"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.images, args.latency)
    quiet_libraries()
    bodies = photo_variants(args.images)

    embedders: list[Any] = []
    if args.embedder in ("efficientnet", "both"):
        embedders.append(EfficientNetEmbedder())
    if args.embedder in ("clip", "both"):
        embedders.append(ClipEmbedder("ViT-B-32", pretrained=None))

    print(
        f"date: {datetime.date.today()}  machine: {platform.machine()}, {available_cores()} cores, "
        f"python {platform.python_version()}"
    )
    print(
        f"{args.images} photos, {args.latency * 1000:.0f} ms server latency each, "
        f"{args.workers} workers; sequential loop timed on {args.sequential}; "
        f"server in {'a child process' if args.server_process else 'this process'}\n"
    )
    print(
        f"{'embedder':36} {'runtime':12} {'alone':>7} {'seq.':>6} {'img2img':>8} {'/alone':>7} {'/seq.':>6}"
    )
    with photo_url(bodies, args.latency, in_child=args.server_process) as url:
        fetcher = HttpFetcher(allowed_networks=["127.0.0.0/8"], max_connections=args.workers)
        for run, embedder in enumerate(embedders):
            embedder.embed_images([decode_image(bodies[0])])  # load and compile outside the timing
            alone, _ = embedder_alone(bodies, embedder)
            base = sequential(
                [f"{url}/s{run}/{i}.jpg" for i in range(args.sequential)], embedder, fetcher
            )
            ours = pipelined(
                [f"{url}/p{run}/{i}.jpg" for i in range(args.images)],
                embedder,
                fetcher,
                args.workers,
            )
            print(
                f"{embedder.model_id:36} {embedder.runtime_in_use:12} {alone:7.1f} {base:6.1f} {ours:8.1f} "
                f"{ours / alone:6.2f}x {ours / base:5.1f}x"
            )
        fetcher.close()
    print("\nimg/s. Targets: img2img >= 0.85x the embedder alone, >= 5x the sequential loop.")


if __name__ == "__main__":
    main()
