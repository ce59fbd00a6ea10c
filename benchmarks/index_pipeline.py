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

``clip`` is ViT-B-32 with random weights: the same computation as the real
weights, which this machine cannot download.
"""

from __future__ import annotations

import argparse
import datetime
import io
import platform
import time
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
from img2img.embedders.runtime import available_cores
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


def embedder_alone(bodies: list[bytes], embedder: Embedder, batch: int = 32) -> float:
    images = [decode_image(body) for body in bodies]
    started = time.perf_counter()
    for start in range(0, len(images), batch):
        embedder.embed_images(images[start : start + batch])
    return len(images) / (time.perf_counter() - started)


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
    args = parser.parse_args()
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
        f"{args.workers} workers; sequential loop timed on {args.sequential}\n"
    )
    print(
        f"{'embedder':36} {'runtime':12} {'alone':>7} {'seq.':>6} {'img2img':>8} {'/alone':>7} {'/seq.':>6}"
    )
    with photo_server(bodies, args.latency) as server:
        fetcher = HttpFetcher(allowed_networks=["127.0.0.0/8"], max_connections=args.workers)
        for run, embedder in enumerate(embedders):
            embedder.embed_images([decode_image(bodies[0])])  # load and compile outside the timing
            alone = embedder_alone(bodies, embedder)
            base = sequential(
                [f"{server.url}/s{run}/{i}.jpg" for i in range(args.sequential)], embedder, fetcher
            )
            ours = pipelined(
                [f"{server.url}/p{run}/{i}.jpg" for i in range(args.images)],
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
