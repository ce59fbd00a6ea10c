"""Where indexing spends CPU, stage by stage: thread CPU time per image inside ``client.add``.

The setting of ``index_pipeline.py`` (its 300 photos from a loopback server,
``--latency`` seconds per reply, ``--workers`` downloads in flight, the
offline EfficientNet embedder), with each stage the pipeline calls wrapped to
add up the CPU time (``time.thread_time``) of the thread running it:

- decoding (``decode_image``: JPEG decode, EXIF orientation, RGB, shrink),
- provenance (``build_metadata``: sha256 and the perceptual hash),
- preparing the model's input (``prepare``: resize, normalise),
- the picture cache's thumbnail (``shrink``) and its write (``keep``),
- HTTP on the client side (``HttpFetcher.fetch``), the store's upsert,
- the model (on the calling thread only: its runtime's own threads count in
  the process total).

Then the embedder alone on the same images, decoded (``index_pipeline.py``'s
"alone"), for its CPU time per image. When the cores are saturated,
throughput follows CPU time per image, so the last line, alone's CPU over
indexing's, is what ``add`` can reach against the embedder alone; and the
share of the run the model was running shows whether it ever waited for
images.

    python benchmarks/index_profile.py [--images 300] [--latency 0.2] [--workers 32] [--rounds 2]
                                       [--embedder efficientnet|clip] [--server-process]

``clip`` is ViT-B-32 with random weights.

The wrappers replace module attributes for the length of the run: this is a
profiler, not a way to use the library.
"""

from __future__ import annotations

import argparse
import collections
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from index_pipeline import embedder_alone, photo_url, photo_variants, quiet_libraries

import img2img.pipeline.embed as embed_stage
import img2img.pipeline.prepare as prepare_stage
import img2img.pipeline.write as write_stage
from img2img import (
    ClipEmbedder,
    EfficientNetEmbedder,
    HttpFetcher,
    ImageSearchClient,
    InMemoryStore,
)
from img2img.images import decode_image
from img2img.postings.cache import PictureCache

_spent: collections.Counter[str] = collections.Counter()  # thread CPU seconds per stage
_wall: collections.Counter[str] = collections.Counter()  # wall seconds, the model only
_lock = threading.Lock()


def timed(
    name: str,
    function: Callable[..., Any],
    clock: Callable[[], float] = time.thread_time,
    into: collections.Counter[str] = _spent,
) -> Callable[..., Any]:
    """``function``, adding the time ``clock`` measures while it runs to ``into[name]``
    (by default the CPU time of the thread that runs it)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            with _lock:
                into[name] += clock() - started

    return wrapper


def instrument(fetcher: HttpFetcher, embedder: Any) -> None:
    prepare_stage.decode_image = timed("decode", prepare_stage.decode_image)  # type: ignore[assignment]
    prepare_stage.build_metadata = timed(  # type: ignore[assignment]
        "sha256 + perceptual hash", prepare_stage.build_metadata
    )
    model = timed("model (calling thread)", embed_stage.embed_rows)
    embed_stage.embed_rows = timed("model", model, clock=time.perf_counter, into=_wall)  # type: ignore[assignment]
    write_stage.upsert_isolated = timed("store upsert", write_stage.upsert_isolated)  # type: ignore[assignment]
    PictureCache.shrink = timed("thumbnail", PictureCache.shrink)  # type: ignore[method-assign]
    PictureCache.keep = timed("picture cache write", PictureCache.keep)  # type: ignore[method-assign]
    kind = type(embedder)
    kind.prepare = timed("prepare (resize, normalise)", kind.prepare)
    fetcher.fetch = timed("HTTP, client side", fetcher.fetch)  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--embedder", choices=["efficientnet", "clip"], default="efficientnet")
    parser.add_argument("--server-process", action="store_true")
    args = parser.parse_args()
    quiet_libraries()
    bodies = photo_variants(args.images)

    embedder: EfficientNetEmbedder | ClipEmbedder = (
        EfficientNetEmbedder()
        if args.embedder == "efficientnet"
        else ClipEmbedder("ViT-B-32", pretrained=None)
    )
    embedder.embed_images([decode_image(bodies[0])])  # load and compile outside the timing
    with photo_url(bodies, args.latency, in_child=args.server_process) as url:
        fetcher = HttpFetcher(allowed_networks=["127.0.0.0/8"], max_connections=args.workers)
        instrument(fetcher, embedder)
        cpu_started, started = sum(os.times()[:2]), time.perf_counter()
        for run in range(args.rounds):
            client = ImageSearchClient(
                embedder=embedder, store=InMemoryStore(), fetcher=fetcher, workers=args.workers
            )
            urls = [f"{url}/r{run}/{i}.jpg" for i in range(args.images)]
            assert client.add(urls).indexed == args.images
        cpu, wall = sum(os.times()[:2]) - cpu_started, time.perf_counter() - started
        fetcher.close()
    images = args.images * args.rounds
    print(
        f"{images} images, {args.latency * 1000:.0f} ms latency, {args.workers} workers, "
        f"{embedder.model_id} on {embedder.runtime_in_use}, "
        f"server in {'a child process' if args.server_process else 'this process'}\n"
    )
    for name, seconds in _spent.most_common():
        print(f"{name:34} {seconds / images * 1000:6.2f} ms/image")
    print(f"{'sum of the stages':34} {sum(_spent.values()) / images * 1000:6.2f} ms/image")
    print(
        f"{'process CPU, all threads':34} {cpu / images * 1000:6.2f} ms/image "
        f"({images / wall:.0f} img/s, {cpu / wall:.2f} cores busy)"
    )
    model_wall = _wall["model"]
    rate, alone_cpu = embedder_alone(bodies, embedder)
    print(
        f"{'the embedder alone, decoded images':34} {alone_cpu * 1000:6.2f} ms/image ({rate:.0f} img/s)"
    )
    print(
        f"{'alone CPU / indexing CPU':34} {alone_cpu / (cpu / images):6.2f}"
        "   (add's throughput against alone, once the cores are saturated)"
    )
    print(
        f"{'model running, share of the run':34} {model_wall / wall:6.0%}"
        f"   ({model_wall / images * 1000:.2f} ms an image in add, "
        f"{1000 / rate:.2f} alone with its preparation)"
    )


if __name__ == "__main__":
    main()
