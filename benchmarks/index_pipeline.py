"""Indexing throughput: the pipelined client against a one-image-at-a-time loop.

A loopback server serves real photos with a fixed delay per request, standing
in for the web's latency. The baseline is what a first prototype does: for each
URL, download, decode, embed one image, upsert one record. The client instead
downloads on a thread pool while it embeds finished images in batches. Both
use the same fetcher, decoder, embedder and store, in the same run.

    python benchmarks/index_pipeline.py [--images 64] [--latency 0.15] [--embedder clip|efficientnet]

``clip`` is ViT-B-32 with random weights: the same computation as the real
weights, which this machine cannot download.
"""

from __future__ import annotations

import argparse
import io
import platform
import time

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
from img2img.images import decode_image
from img2img.provenance import build_metadata, image_id
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import sample_photos


def jpeg_bodies() -> list[bytes]:
    bodies = []
    for photo in sample_photos().values():
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=90)
        bodies.append(buffer.getvalue())
    return bodies


def sequential_baseline(urls: list[str], embedder: Embedder, fetcher: HttpFetcher) -> float:
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
    return time.perf_counter() - started


def pipelined(urls: list[str], embedder: Embedder, fetcher: HttpFetcher, workers: int) -> float:
    client = ImageSearchClient(
        embedder=embedder, store=InMemoryStore(), fetcher=fetcher, workers=workers
    )
    started = time.perf_counter()
    report = client.add(urls)
    elapsed = time.perf_counter() - started
    assert report.indexed == len(urls), report.failures[:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument(
        "--latency", type=float, default=0.15, help="seconds the server waits per image"
    )
    parser.add_argument("--embedder", choices=["clip", "efficientnet", "both"], default="both")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    bodies = jpeg_bodies()

    def serve(request: RecordedRequest) -> Reply:
        time.sleep(args.latency)
        index = int(request.path.rsplit("/", 1)[-1].split(".")[0])
        return Reply(body=bodies[index % len(bodies)], headers={"Content-Type": "image/jpeg"})

    embedders: list[Embedder] = []
    if args.embedder in ("efficientnet", "both"):
        embedders.append(EfficientNetEmbedder())
    if args.embedder in ("clip", "both"):
        embedders.append(ClipEmbedder("ViT-B-32", pretrained=None))

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; python {platform.python_version()}"
    )
    print(
        f"{args.images} images, {args.latency * 1000:.0f} ms server latency each, {args.workers} workers\n"
    )
    print(f"{'embedder':32} {'baseline img/s':>15} {'img2img img/s':>14} {'speed-up':>9}")
    with LoopbackServer(serve) as server:
        fetcher = HttpFetcher(allowed_networks=["127.0.0.0/8"], max_connections=args.workers)
        for embedder in embedders:
            embedder.embed_images([decode_image(bodies[0])])  # load weights outside the timing
            # distinct URLs per run, so the second run cannot skip what the first stored
            base_urls = [f"{server.url}/a/{i}.jpg" for i in range(args.images)]
            ours_urls = [f"{server.url}/b/{i}.jpg" for i in range(args.images)]
            baseline = sequential_baseline(base_urls, embedder, fetcher)
            ours = pipelined(ours_urls, embedder, fetcher, args.workers)
            print(
                f"{embedder.model_id:32} {args.images / baseline:15.1f} {args.images / ours:14.1f} "
                f"{baseline / ours:8.2f}x"
            )
        fetcher.close()


if __name__ == "__main__":
    main()
