"""One run holding every hostile input of the corpus and good images in awkward formats.

Every good image is indexed; every bad input is a ``Failure`` at the stage and for
the reason expected; memory stays bounded; the internal service is never
contacted; and the same inputs given to ``search`` raise img2img errors, or
find matches for the good ones.
"""

from __future__ import annotations

import re
import sys
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hostile_corpus import (
    ALLOWED,
    DEADLINE,
    MAX_BYTES,
    SERVER_HOST,
    Corpus,
    Item,
    build,
    resolver,
)
from PIL import Image

from img2img import ImageSearchClient
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import FetchError, ImageError, Img2ImgError
from img2img.loading import to_url
from img2img.models import IndexReport
from img2img.net.fetch import HttpFetcher
from img2img.net.retry import RetryPolicy
from img2img.provenance import image_id
from img2img.stores.local.store import LocalStore
from img2img.testing.http import LoopbackServer
from stand_ins import Listener, TableResolver

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="needs 127.0.0.2 and FIFOs (Linux)"
)

#: Python-level peak during the run. Unbounded, the gzip bomb alone would take
#: 64 MB or more at once, and the oversized bodies their full size.
PEAK_BYTES = 40_000_000


@dataclass
class World:
    corpus: Corpus
    client: ImageSearchClient
    internal: Listener
    resolver: TableResolver
    sleeps: list[float]
    server: LoopbackServer


@dataclass
class Indexed:
    world: World
    report: IndexReport
    peak: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("hostile")
    internal = Listener("127.0.0.1")
    server = LoopbackServer(lambda request: corpus.handle(request), host=SERVER_HOST)
    corpus = build(
        f"http://images.test:{server.port}",
        f"http://bücher.test:{server.port}",
        internal.url,
        folder,
    )
    sleeps: list[float] = []
    names = resolver()
    fetcher = HttpFetcher(
        allowed_networks=ALLOWED,  # the image server's address, and nothing else
        resolver=names,
        max_bytes=MAX_BYTES,
        deadline=DEADLINE,
        timeout=DEADLINE,
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=5.0, jitter=0.0),
        sleep=sleeps.append,
    )
    store = LocalStore(folder / "store.sqlite3")
    client = ImageSearchClient(
        embedder=HashEmbedder(), store=store, fetcher=fetcher, workers=8, batch_size=8
    )
    yield World(corpus, client, internal, names, sleeps, server)
    client.close()
    fetcher.close()
    store.close()
    server.close()
    internal.close()


@pytest.fixture(scope="module")
def indexed(world: World, tmp_path_factory: pytest.TempPathFactory) -> Indexed:
    # One image first, so the store's vector matrix (a fixed 64 MiB reservation,
    # committed page by page) is in place before memory is measured.
    warm_up = tmp_path_factory.mktemp("warm-up") / "warm-up.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(warm_up)
    assert world.client.add([warm_up]).indexed == 1
    tracemalloc.start()
    try:
        report = world.client.add([item.url for item in world.corpus.items])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Indexed(world, report, peak)


def test_the_corpus_is_large_enough(world: World) -> None:
    assert len(world.corpus.bad()) >= 30
    assert len(world.corpus.good()) >= 15


def test_every_good_image_is_indexed(indexed: Indexed) -> None:
    good = indexed.world.corpus.good()
    ids = {image_id(to_url(item.url)): item for item in good}
    stored = indexed.world.client.store.fetch(list(ids))
    missing = [item.name for i, item in ids.items() if i not in stored]
    assert missing == []
    assert indexed.report.indexed == len(good)
    assert indexed.world.client.store.count() == len(good) + 1  # and the warm-up image
    for record_id, record in stored.items():
        assert record.metadata["image_url"] == to_url(ids[record_id].url)


def test_every_bad_input_is_a_failure_at_its_stage(indexed: Indexed) -> None:
    report, corpus = indexed.report, indexed.world.corpus
    failures = {f.url: f for f in report.failures}
    assert len(failures) == len(report.failures) == len(corpus.bad())
    for item in corpus.bad():
        failure = failures.get(to_url(item.url))
        assert failure is not None, item.name
        assert failure.stage == item.stage, (item.name, failure)
        assert re.search(item.reason, failure.reason, re.IGNORECASE), (item.name, failure)
        assert "unexpected" not in failure.reason, (item.name, failure)
    assert report.discovered == len(corpus.items)
    assert report.skipped == 0


def test_server_side_request_forgery_never_connects(indexed: Indexed) -> None:
    world = indexed.world
    assert not world.internal.was_contacted()
    # Names outside the table were never looked up: refused before any lookup.
    assert set(world.resolver.asked) <= set(world.resolver.table)
    assert "internal.test" in world.resolver.asked  # refused after the lookup, before connecting


def test_retry_after_is_obeyed(indexed: Indexed) -> None:
    assert 1.0 in indexed.world.sleeps


def test_memory_stays_bounded(indexed: Indexed) -> None:
    assert indexed.peak < PEAK_BYTES, f"peak {indexed.peak:,} bytes"


def _search_error(item: Item) -> type[Img2ImgError]:
    return ImageError if item.stage == "decode" else FetchError


@pytest.mark.parametrize("kind", ["bad", "good"])
def test_search_with_the_same_inputs(indexed: Indexed, kind: str) -> None:
    client, corpus = indexed.world.client, indexed.world.corpus
    items = corpus.bad() if kind == "bad" else corpus.good()
    tracemalloc.start()
    try:
        for item in items:
            if item.stage is None:
                assert client.search(item.url, k=3), item.name
                continue
            with pytest.raises(_search_error(item)) as caught:
                client.search(item.url, k=3)
            assert re.search(item.reason, str(caught.value), re.IGNORECASE), item.name
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES
    assert not indexed.world.internal.was_contacted()
