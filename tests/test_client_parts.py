"""The client's parts: each one given is used, the defaults are made and closed by the
client; and ``index()`` over sources that read several parts (channels, campaigns).

A loopback gallery and a loopback Discord with real photos; the client, fetcher,
stores and sources are the real ones.
"""

from __future__ import annotations

import ast
import inspect
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from img2img import (
    LOOPBACK_NETWORKS,
    BlueskySource,
    ConfigurationError,
    FetchError,
    HashEmbedder,
    HttpFetcher,
    ImageCandidate,
    ImageSearchClient,
    ImageSource,
    InMemoryStore,
    LocalStore,
    PartFailure,
    PictureCache,
    SourceWithParts,
    StaticSource,
    StoreError,
    UploadedImage,
)
from img2img.closing import Closing
from img2img.models import MatchKind
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_discord import FakeDiscord
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply

# -- the client holds its parts -----------------------------------------------------


@pytest.fixture
def gallery(photos: dict[str, Image.Image]) -> Iterator[list[str]]:
    """Six photos at loopback URLs, each taking a moment to send, as a real site does."""
    bodies = {f"/{name}.jpg": jpeg_bytes(photos[name]) for name in sorted(photos)[:6]}

    def handler(request: RecordedRequest) -> Reply:
        time.sleep(0.05)
        body = bodies.get(request.path)
        if body is None:
            return Reply(404)
        return Reply(200, body, {"Content-Type": "image/jpeg"})

    with LoopbackServer(handler) as server:
        yield [server.url + path for path in bodies]


class CountingFetcher:
    """A ``Fetcher`` that downloads through a loopback ``HttpFetcher``, noting each URL and
    the most downloads it had in flight at once."""

    def __init__(self) -> None:
        self.inner = HttpFetcher(allowed_networks=LOOPBACK_NETWORKS)
        self.fetched: list[str] = []
        self.peak = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def fetch(self, url: str) -> bytes:
        with self._lock:
            self.fetched.append(url)
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        try:
            return self.inner.fetch(url)
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self) -> None:
        self.inner.close()


class AskedReverseSource:
    """A ``ReverseImageSource`` that finds nothing and notes what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | UploadedImage, MatchKind]] = []

    def upload(self, data: bytes) -> UploadedImage:
        raise AssertionError("an http(s) query is looked up by its URL, not uploaded")

    def lookup(
        self, image: str | UploadedImage, *, kind: MatchKind = "exact", limit: int = 100
    ) -> Iterator[ImageCandidate]:
        self.asked.append((image, kind))
        return iter(())


def test_the_constructor_is_the_clients_own_and_documented_in_client_py() -> None:
    init = ImageSearchClient.__init__
    assert init.__qualname__ == "ImageSearchClient.__init__"
    assert Path(inspect.getsourcefile(init) or "").name == "client.py"
    assert ImageSearchClient.__mro__ == (ImageSearchClient, Closing, object)
    names = set(inspect.signature(ImageSearchClient).parameters)
    assert {"source", "reverse_source", "embedder", "store", "fetcher", "workers"} <= names
    documented = inspect.getdoc(ImageSearchClient) or ""
    for name in names:
        assert f"\n    {name}: " in documented, f"{name} is not in the class docstring"


def test_client_py_reads_no_private_attribute_but_its_own_parts() -> None:
    source = Path(inspect.getsourcefile(ImageSearchClient) or "").read_text(encoding="utf-8")
    private = {
        ast.unparse(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    }
    assert private == {"self._parts"}


def test_each_part_given_is_the_one_used(gallery: list[str], tmp_path: Path) -> None:
    source = StaticSource([ImageCandidate(url) for url in gallery])
    embedder = HashEmbedder()
    store = InMemoryStore()
    fetcher = CountingFetcher()
    lens = AskedReverseSource()
    cache_path = tmp_path / "pictures.sqlite3"
    with ImageSearchClient(
        source=source,
        embedder=embedder,
        store=store,
        fetcher=fetcher,
        reverse_source=lens,
        picture_cache=cache_path,
        workers=3,
        batch_size=2,
    ) as client:
        assert (client.source, client.embedder, client.store) == (source, embedder, store)
        assert (client.fetcher, client.reverse_source) == (fetcher, lens)

        report = client.index("gallery", limit=50)
        assert report.indexed == store.count() == len(gallery)
        assert source.calls == [("gallery", 50)]
        assert sorted(fetcher.fetched) == sorted(gallery)
        assert 1 < fetcher.peak <= 3  # workers: downloads in flight at once
        assert sum(embedder.image_batches) == len(gallery)
        assert max(embedder.image_batches) <= 2  # batch_size: images per embedding call
        assert client.pictures.path == cache_path

        located = client.locate(gallery[0], index=False)
        assert lens.asked == [(gallery[0], "exact")]
        assert located.postings == ()
        assert fetcher.fetched.count(gallery[0]) == 2  # the query, through the same fetcher
    with PictureCache(cache_path) as cache:  # a thumbnail of each indexed image was kept
        assert cache.count() == len(gallery)
    assert fetcher.fetch(gallery[1])  # what was given is left open


def test_cache_pictures_false_keeps_no_thumbnails(gallery: list[str], tmp_path: Path) -> None:
    cache_path = tmp_path / "pictures.sqlite3"
    with ImageSearchClient(
        embedder=HashEmbedder(),
        store=InMemoryStore(),
        fetcher=CountingFetcher(),
        picture_cache=cache_path,
        cache_pictures=False,
    ) as client:
        assert client.add(gallery).indexed == len(gallery)
    with PictureCache(cache_path) as cache:
        assert cache.count() == 0


def test_max_pixels_reaches_the_pipeline(photo_folder: Path) -> None:
    client = ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), max_pixels=100 * 100)
    report = client.add([photo_folder / "coffee.png"])
    assert report.indexed == 0
    [failure] = report.failures
    assert failure.stage == "decode"
    assert "pixels" in failure.reason


def test_the_client_closes_the_parts_it_made_and_no_others(
    gallery: list[str], photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    with ImageSearchClient(embedder=HashEmbedder()) as made:
        store, fetcher, pictures = made.store, made.fetcher, made.pictures
        assert isinstance(store, LocalStore)
        assert isinstance(fetcher, HttpFetcher)
        assert made.add([photo_folder / "coffee.png"]).indexed == 1
        assert pictures.count() == 1
    with pytest.raises(StoreError, match="closed"):
        store.count()
    with pytest.raises(FetchError, match="closed"):
        fetcher.fetch(gallery[0])
    with pytest.raises(StoreError, match="closed"):
        pictures.count()

    given_store, given_fetcher = InMemoryStore(), HttpFetcher(allowed_networks=LOOPBACK_NETWORKS)
    given_pictures = PictureCache(":memory:")
    with ImageSearchClient(
        embedder=HashEmbedder(),
        store=given_store,
        fetcher=given_fetcher,
        picture_cache=given_pictures,
    ) as client:
        assert client.add(gallery[:2]).indexed == 2
    assert given_store.count() == 2
    assert given_pictures.count() == 2
    assert given_fetcher.fetch(gallery[2])
    given_fetcher.close()
    given_pictures.close()


# -- sources that read several parts -------------------------------------------------


@pytest.fixture
def discord(photos: dict[str, Image.Image]) -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        fake.add_channel("1100", guild_id="900", name="general")
        fake.add_channel("1300", guild_id="900", name="mod-chat")
        for name in ("coffee", "rocket", "chelsea"):
            fake.post("1100", f"my {name} piece", files=[(f"{name}.jpg", jpeg_bytes(photos[name]))])
        fake.post("1300", "secret", files=[("astronaut.jpg", jpeg_bytes(photos["astronaut"]))])
        yield fake


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(allowed_networks=LOOPBACK_NETWORKS) as fetcher:
        yield fetcher


def client_of(source: ImageSource, fetcher: HttpFetcher) -> ImageSearchClient:
    return ImageSearchClient(
        source=source, embedder=HashEmbedder(), store=InMemoryStore(), fetcher=fetcher
    )


def test_an_empty_keyphrase_takes_every_image_and_records_none(
    discord: FakeDiscord, fetcher: HttpFetcher
) -> None:
    client = client_of(discord.source(channels=["1100"]), fetcher)
    report = client.index("")
    assert (report.discovered, report.indexed, report.failed) == (3, 3, 0)
    assert report.part_failures == ()
    assert report.keyphrase is None
    stored = [record for page in client.store.scan() for record in page]
    assert all("keyphrase" not in record.metadata for record in stored)
    assert {record.metadata["filename"] for record in stored} == {
        "coffee.jpg",
        "rocket.jpg",
        "chelsea.jpg",
    }


def test_a_forbidden_channel_is_in_the_report(discord: FakeDiscord, fetcher: HttpFetcher) -> None:
    discord.forbid("1300")
    source = discord.source(channels=["1100", "1300"])
    assert isinstance(source, SourceWithParts)
    report = client_of(source, fetcher).index("piece")
    assert report.indexed == 3
    (skipped,) = report.part_failures
    assert isinstance(skipped, PartFailure)
    assert (skipped.part, skipped.status_code) == ("channel 1300", 403)
    assert "Missing Access" in skipped.reason
    assert "1 parts unread" in str(report)
    # A run that reads every part has a clean report, though the source skipped one before.
    source.channels = ("1100",)
    assert client_of(source, fetcher).index("").part_failures == ()


def test_sources_without_parts_report_none(fetcher: HttpFetcher) -> None:
    source = StaticSource([])
    assert not isinstance(source, SourceWithParts)
    assert client_of(source, fetcher).index("anything").part_failures == ()


def test_a_search_engine_refuses_an_empty_keyphrase(fetcher: HttpFetcher) -> None:
    client = client_of(BlueskySource(appview_url="http://127.0.0.1:9"), fetcher)
    with pytest.raises(ConfigurationError, match="needs a keyphrase"):
        client.index("  ")
    with pytest.raises(ConfigurationError, match="must be text"):
        client.index(None)  # type: ignore[arg-type]
