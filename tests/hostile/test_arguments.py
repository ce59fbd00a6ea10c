"""Bad arguments get clear img2img errors before any work; a run that wrote nothing
leaves the store open to any embedder."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from img2img import (
    BlueskySource,
    GoogleLensSource,
    HttpFetcher,
    ImageSearchClient,
    RedditSource,
    reverse_lookup,
)
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    InvalidFilterError,
    ModelUnavailableError,
)
from img2img.locate.run import LocateOptions
from img2img.models import EmbeddingSpace
from img2img.stores.local.store import LocalStore
from img2img.stores.memory import InMemoryStore


def png_file(folder: Path, name: str = "red.png") -> Path:
    path = folder / name
    Image.new("RGB", (16, 16), (200, 30, 30)).save(path)
    return path


@pytest.fixture
def client(tmp_path: Path) -> Iterator[ImageSearchClient]:
    with ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore()) as client:
        client.add([png_file(tmp_path)])
        yield client


@pytest.mark.parametrize("k", [0, -1, 2.5, "5", True, None])
def test_k_must_be_a_positive_whole_number(client: ImageSearchClient, k: Any) -> None:
    image = Image.new("RGB", (8, 8))
    for call in (client.search, client.find_postings):
        with pytest.raises(ConfigurationError, match="k must be a positive whole number"):
            call(image, k=k)
    with pytest.raises(ConfigurationError, match="k must be a positive whole number"):
        client.search_text("red", k=k)


@pytest.mark.parametrize("min_score", ["0.5", float("nan"), [1]])
def test_min_score_must_be_a_number(client: ImageSearchClient, min_score: Any) -> None:
    with pytest.raises(ConfigurationError, match="min_score"):
        client.search(Image.new("RGB", (8, 8)), min_score=min_score)


@pytest.mark.parametrize(
    "filter",
    [
        {"domain": {"$regex": "x"}},
        {"$nor": [{"a": 1}]},
        {"domain": {"$in": "not a list"}},
        ["not", "a", "mapping"],
        "domain = x",
    ],
    ids=["unknown-operator", "unknown-combinator", "in-not-list", "list", "text"],
)
def test_bad_filters_are_invalid_filter_errors(client: ImageSearchClient, filter: Any) -> None:
    with pytest.raises(InvalidFilterError):
        client.search(Image.new("RGB", (8, 8)), filter=filter)


def test_add_refuses_items_of_the_wrong_type_before_starting(client: ImageSearchClient) -> None:
    before = client.store.count()
    with pytest.raises(ConfigurationError, match="add\\(\\) takes paths"):
        client.add(["fine.png", 42])  # type: ignore[list-item]
    assert client.store.count() == before


@pytest.mark.parametrize("setting", ["workers", "batch_size", "max_pixels"])
@pytest.mark.parametrize("value", [0, "8", 2.0, None])
def test_client_settings_must_be_whole_numbers(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), **{setting: value})


def test_index_arguments(client: ImageSearchClient) -> None:
    with pytest.raises(ConfigurationError, match="limit"):
        client.index("cats", limit=0)
    with pytest.raises(ConfigurationError, match="limit"):
        client.index("cats", limit="10")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="keyphrase"):
        client.index(None)  # type: ignore[arg-type]


# -- the embedding space is recorded with the first vector ------------------------------


class BrokenEmbedder:
    """An embedder whose model cannot load, as CLIP offline without its weights."""

    model_id = "clip/ViT-B-32/laion2b"
    dimension = 64

    def embed_images(self, images: Sequence[Image.Image]) -> Any:
        raise ModelUnavailableError("no weights offline")


def test_a_run_that_wrote_nothing_does_not_bind_the_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    photo = png_file(tmp_path)
    with LocalStore(path) as store:
        failed = ImageSearchClient(embedder=BrokenEmbedder(), store=store)  # type: ignore[arg-type]
        with pytest.raises(ModelUnavailableError):
            failed.add([photo])
        empty = ImageSearchClient(embedder=HashEmbedder(), store=store)
        assert empty.add([tmp_path / "missing.png"]).indexed == 0
        assert store.embedding_space() is None
    with LocalStore(path) as store:
        other = ImageSearchClient(embedder=HashEmbedder(dimension=32), store=store)
        assert other.add([photo]).indexed == 1
        assert store.embedding_space() == EmbeddingSpace("hash/32/seed-0", 32)
        again = ImageSearchClient(embedder=HashEmbedder(), store=store)
        with pytest.raises(EmbeddingSpaceMismatchError, match="hash/32"):
            again.add([png_file(tmp_path, "blue.png")])
        with pytest.raises(EmbeddingSpaceMismatchError):
            again.search(photo)
        assert store.count() == 1


def test_an_emptied_store_takes_another_dimension(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    photo = png_file(tmp_path)
    with LocalStore(path) as store, LocalStore(path) as watcher:
        first = ImageSearchClient(embedder=HashEmbedder(dimension=16), store=store)
        first.add([photo])
        assert watcher.count() == 1
        store.delete(filter={})
        second = ImageSearchClient(embedder=HashEmbedder(dimension=48), store=store)
        assert second.add([photo]).indexed == 1
        # Another handle on the same file follows the change of dimension.
        assert watcher.embedding_space() == EmbeddingSpace("hash/48/seed-0", 48)
        assert ImageSearchClient(embedder=HashEmbedder(dimension=48), store=watcher).search(
            photo, k=1
        )[0].score == pytest.approx(1.0, abs=1e-5)


def test_searching_an_empty_store_of_another_space_finds_nothing(tmp_path: Path) -> None:
    store = InMemoryStore()
    store.set_embedding_space(EmbeddingSpace("old-model", 64))
    client = ImageSearchClient(embedder=HashEmbedder(), store=store)
    assert client.search(io.BytesIO(png_file(tmp_path).read_bytes())) == []


# -- one check for each kind of argument, the same words wherever it is made ------------


class NeverAsked:
    """A reverse source for calls that must fail before anything is asked."""

    def upload(self, data: bytes) -> Any:
        raise AssertionError("nothing should be uploaded")

    def lookup(self, image: object, *, kind: str = "exact", limit: int = 100) -> Any:
        raise AssertionError("nothing should be looked up")


def new_client(**kwargs: Any) -> ImageSearchClient:
    return ImageSearchClient(embedder=HashEmbedder(), store=InMemoryStore(), **kwargs)


#: Where a whole number is checked: the argument's name, and a call given the value.
WHOLE_NUMBERS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "search": ("k", lambda v: new_client().search(Image.new("RGB", (8, 8)), k=v)),
    "index": ("limit", lambda v: new_client().index("cats", limit=v)),
    "client": ("workers", lambda v: new_client(workers=v)),
    "store": ("batch_size", lambda v: list(InMemoryStore().scan(batch_size=v))),
    "fetcher": ("max_connections", lambda v: HttpFetcher(max_connections=v)),
    "bluesky": (
        "max_pages",
        lambda v: BlueskySource(max_pages=v, appview_url="http://127.0.0.1:9"),
    ),
    "reddit": ("max_pages", lambda v: RedditSource(["pics"], max_pages=v)),
}


@pytest.mark.parametrize("value", [0, -3, 2.5, "4", True, None])
@pytest.mark.parametrize("where", list(WHOLE_NUMBERS))
def test_whole_numbers_are_refused_in_the_same_words(where: str, value: Any) -> None:
    name, call = WHOLE_NUMBERS[where]
    expected = f"{name} must be a positive whole number, got {value!r}"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(expected)}$"):
        call(value)


def test_a_whole_number_that_may_be_zero_says_so() -> None:
    HttpFetcher(max_redirects=0).close()
    expected = "max_redirects must be a whole number of at least 0, got -1"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(expected)}$"):
        HttpFetcher(max_redirects=-1)


def test_a_lookup_limit_is_a_whole_number_wherever_it_is_given() -> None:
    expected = "limit must be a positive whole number, got '10'"
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        reverse_lookup("https://example.org/a.jpg", NeverAsked(), limit="10")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        LocateOptions(limit="10")  # type: ignore[arg-type]


TIMEOUTS: dict[str, Callable[[Any], object]] = {
    "HttpFetcher timeout": lambda v: HttpFetcher(timeout=v),
    "HttpFetcher deadline": lambda v: HttpFetcher(deadline=v),
    "BlueskySource timeout": lambda v: BlueskySource(timeout=v, appview_url="http://127.0.0.1:9"),
    "RedditSource timeout": lambda v: RedditSource(["pics"], timeout=v),
    "GoogleLensSource timeout": lambda v: GoogleLensSource(api_key="k", timeout=v),
}


@pytest.mark.parametrize("value", [0, -1.5, float("nan"), "5", True, None])
@pytest.mark.parametrize("where", list(TIMEOUTS))
def test_timeouts_are_refused_in_the_same_words(where: str, value: Any) -> None:
    name = where.split()[1]
    expected = f"{name} must be a positive number of seconds, got {value!r}"
    with pytest.raises(ConfigurationError, match=f"^{re.escape(expected)}$"):
        TIMEOUTS[where](value)


def test_asking_for_no_kind_of_match_is_refused_in_the_same_words() -> None:
    expected = "^ask for exact matches, similar ones, or both$"
    with pytest.raises(ConfigurationError, match=expected):
        reverse_lookup("https://example.org/a.jpg", NeverAsked(), exact=False)
    with pytest.raises(ConfigurationError, match=expected):
        LocateOptions(exact=False, similar=False)
    client = new_client(reverse_source=NeverAsked())
    with pytest.raises(ConfigurationError, match=expected):
        client.locate("https://example.org/a.jpg", exact=False)
