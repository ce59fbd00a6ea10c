"""Indexing throughput: the Ray job (img2img.scale.index_on_ray) against ``client.add``, one run.

A loopback server serves ``--images`` real photos (the scikit-image photos and
variants of them, each with its own bytes) as JPEGs, after ``--latency``
seconds each, a stand-in for the web. The same URLs are indexed twice into
fresh in-memory stores with the same embedder: by ``ImageSearchClient.add``
(one process, threads) and by the Ray job on a local cluster of
``--cpus`` CPUs started here (its start is timed apart). Both must index
every image. Needs the [ray] extra.

    python benchmarks/ray_index.py [--images 300] [--latency 0.05] [--cpus 2]
                                   [--embedder efficientnet|hash] [--embed-actors 1]
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from index_pipeline import photo_server, photo_variants
from machine import cpu_flags

from img2img import HttpFetcher, ImageSearchClient, InMemoryStore
from img2img.embedders.hashing import HashEmbedder
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.scale import RaySettings, index_on_ray


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--embedder", choices=["efficientnet", "hash"], default="efficientnet")
    parser.add_argument("--embed-actors", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger().setLevel(logging.ERROR)
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    import ray
    import ray.data

    if args.embedder == "hash":
        make = HashEmbedder
    else:
        from img2img import EfficientNetEmbedder

        make = EfficientNetEmbedder
    bodies = photo_variants(args.images)
    print(
        f"{datetime.date.today()}  {platform.processor() or platform.machine()}  "
        f"cores {os.cpu_count()}  CPU flags: {cpu_flags()}"
    )
    print(f"{args.images} photos, {args.latency * 1000:.0f} ms a reply, embedder {args.embedder}")
    with photo_server(bodies, args.latency) as server:
        urls = [f"{server.url}/{n}.jpg" for n in range(args.images)]
        with HttpFetcher(allowed_networks=LOOPBACK_NETWORKS, max_connections=16) as fetcher:
            client = ImageSearchClient(
                embedder=make(),
                store=InMemoryStore(),
                fetcher=fetcher,
                workers=16,
                cache_pictures=False,
            )
            started = time.perf_counter()
            report = client.add(urls)
            client_rate = report.indexed / (time.perf_counter() - started)
        assert report.indexed == args.images, report.failures[:3]

        started = time.perf_counter()
        ray.init(
            num_cpus=args.cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}},
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        ray_start = time.perf_counter() - started
        try:
            import functools

            fetch = functools.partial(
                HttpFetcher, allowed_networks=LOOPBACK_NETWORKS, max_connections=16
            )
            # One actor of each stage must fit the CPUs Ray was given at once.
            settings = RaySettings(
                embed_actors=args.embed_actors,
                embed_cpus=1.0,
                decode_cpus=max(0.25, args.cpus - 0.25 - args.embed_actors),
                download_cpus=0.25,
                download_batch=64,
            )
            started = time.perf_counter()
            on_ray = index_on_ray(
                urls, embedder=make, store=InMemoryStore(), fetcher=fetch, settings=settings
            )
            ray_seconds = time.perf_counter() - started
        finally:
            ray.shutdown()
        assert on_ray.indexed == args.images, on_ray.failures[:3]
    ray_rate = on_ray.indexed / ray_seconds
    print(f"client.add        {client_rate:7.1f} images/s")
    print(
        f"index_on_ray      {ray_rate:7.1f} images/s  (cluster start {ray_start:.1f} s, not counted;"
        f" {on_ray.indexed / (ray_seconds + ray_start):.1f} images/s counting it)"
    )
    print(f"ratio Ray/client  {ray_rate / client_rate:7.2f}")


if __name__ == "__main__":
    main()
