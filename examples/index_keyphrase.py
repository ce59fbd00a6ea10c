"""Index Google Images results for a keyphrase into Pinecone with CLIP, then search.

    export SERPAPI_API_KEY=…  PINECONE_API_KEY=…
    python examples/index_keyphrase.py "eiffel tower postcard" --limit 300 --index images --query photo.jpg

    python examples/index_keyphrase.py --local

``--local`` runs the same code against stand-ins on 127.0.0.1: a fake SerpAPI
whose results point at real photos served locally, and a Pinecone emulator,
driven through the real serpapi and pinecone clients. It needs no key and no
network, and uses the offline embedder when CLIP weights are not on the machine.
"""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from img2img import (
    ClipEmbedder,
    EfficientNetEmbedder,
    Embedder,
    Fetcher,
    HttpFetcher,
    ImageSearchClient,
    ImageSource,
    PineconeStore,
    SerpApiSource,
    TextEmbedder,
    VectorStore,
)
from img2img.loading import ImageInput


def run(
    source: ImageSource,
    embedder: Embedder,
    store: VectorStore,
    keyphrase: str,
    *,
    limit: int,
    query: ImageInput,
    fetcher: Fetcher | None = None,
) -> None:
    """The whole job: this is all an application needs to write."""
    with ImageSearchClient(
        source=source, embedder=embedder, store=store, fetcher=fetcher
    ) as client:
        report = client.index(keyphrase, limit=limit)
        print(f"{keyphrase!r}: {report}")
        for failure in report.failures[:5]:
            print(f"  {failure.stage:7} {failure.url}: {failure.reason}")

        print("\nWhere the query image, or one like it, is posted:")
        for match in client.search(query, k=5):
            print(
                f"  {match.score:.3f}  {match.domain or '?':22} {match.page_url}\n         image {match.image_url}"
            )

        if isinstance(embedder, TextEmbedder):
            print(f"\nBest fits for the words {keyphrase!r}:")
            for match in client.search_text(keyphrase, k=3):
                print(f"  {match.score:.3f}  {match.title}")


def production(args: argparse.Namespace) -> None:
    embedder = (
        ClipEmbedder(pretrained=args.clip_checkpoint) if args.clip_checkpoint else ClipEmbedder()
    )
    store = PineconeStore(args.index, namespace=args.namespace, create_if_missing=True)
    with store:
        run(SerpApiSource(), embedder, store, args.keyphrase, limit=args.limit, query=args.query)


@contextmanager
def local_services(
    embedder: Embedder,
) -> Iterator[tuple[SerpApiSource, PineconeStore, HttpFetcher, bytes]]:
    """Loopback stand-ins for the web, SerpAPI and Pinecone; yields a query image too."""
    from img2img import LOOPBACK_NETWORKS
    from img2img.testing.fake_pinecone import FakePinecone
    from img2img.testing.fake_serpapi import FakeSerpApi
    from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
    from img2img.testing.photos import edited_copy, sample_photos

    jpegs = []
    photos = list(sample_photos().values())
    for photo in photos:
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=90)
        jpegs.append(buffer.getvalue())

    def web(request: RecordedRequest) -> Reply:
        number = int(re.findall(r"\d+", request.path)[-1])  # …/<slug>-<n>.jpg
        return Reply(body=jpegs[(number - 1) % len(jpegs)], headers={"Content-Type": "image/jpeg"})

    query = io.BytesIO()
    edited_copy(photos[2]).save(query, format="JPEG", quality=70)  # a re-posted copy of result 3
    with ExitStack() as stack:
        images = stack.enter_context(LoopbackServer(web))
        serp = stack.enter_context(FakeSerpApi(total_results=len(jpegs), image_base_url=images.url))
        pinecone = stack.enter_context(FakePinecone(dimension=embedder.dimension))
        store = stack.enter_context(PineconeStore(host=pinecone.url, api_key=pinecone.api_key))
        fetcher = stack.enter_context(HttpFetcher(allowed_networks=LOOPBACK_NETWORKS))
        yield serp.source(), store, fetcher, query.getvalue()


def local(args: argparse.Namespace) -> None:
    clip = ClipEmbedder()
    embedder: Embedder = clip if clip.weights_available() else EfficientNetEmbedder()
    print(f"Local stand-ins on 127.0.0.1; embedder {embedder.model_id}\n")
    with local_services(embedder) as (source, store, fetcher, query):
        run(source, embedder, store, args.keyphrase, limit=args.limit, query=query, fetcher=fetcher)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("keyphrase", nargs="?", default="eiffel tower postcard")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--query", type=Path, help="image to search with (path or URL)")
    parser.add_argument("--index", default="img2img-images", help="Pinecone index name")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--clip-checkpoint", help="a local open_clip ViT-B-32 checkpoint")
    parser.add_argument(
        "--local", action="store_true", help="run against loopback stand-ins, offline"
    )
    args = parser.parse_args()
    if args.local:
        local(args)
    elif args.query is None:
        parser.error("--query is needed (or use --local)")
    else:
        production(args)


if __name__ == "__main__":
    main()
