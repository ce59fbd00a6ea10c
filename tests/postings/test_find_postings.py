"""find_postings and grouped search on real photos posted on loopback sites."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from img2img import (
    EfficientNetEmbedder,
    HttpFetcher,
    ImageSearchClient,
    InMemoryStore,
    LocalStore,
    PictureCache,
)
from img2img.testing.edits import apply_edit, jpeg_bytes

from .conftest import Sites, posted

PAGES = {
    "/news/motorbike.jpg": "https://news.example/2024/04/bike-show",
    "/blog/img/bike-small.jpg": "https://blog.example/posts/my-new-ride",
    "/forum/attach/crop.jpg": "https://forum.example/t/1234",
}


@pytest.fixture
def posted_copies(
    sites: Sites,
    photos: dict[str, Image.Image],
    motorcycle_views: tuple[Image.Image, Image.Image],
) -> dict[str, object]:
    """One photo on three sites (re-encoded, resized, cropped), the other view of the
    same motorcycle on a fourth, and unrelated photos."""
    left, right = motorcycle_views
    width, height = left.size
    reencoded = Image.open(io.BytesIO(jpeg_bytes(left, 60)))
    resized = left.resize((width // 2, height // 2), Image.Resampling.LANCZOS)
    cropped = left.crop((width // 10, height // 8, width - width // 5, height - height // 10))
    candidates = [
        posted(sites, path, image, page=PAGES[path], title=f"motorbike {i}")
        for i, (path, image) in enumerate(zip(PAGES, (reencoded, resized, cropped), strict=True))
    ]
    candidates.append(
        posted(sites, "/shop/side.jpg", right, page="https://shop.example/p/9", title="same bike")
    )
    for name in ("coffee", "astronaut", "chelsea", "rocket"):
        candidates.append(
            posted(
                sites,
                f"/misc/{name}.jpg",
                photos[name],
                page=f"https://misc.example/{name}",
                title=name,
            )
        )
    return {"candidates": candidates, "query": left}


@pytest.fixture
def client(
    efficientnet: EfficientNetEmbedder, fetcher: HttpFetcher, tmp_path: Path
) -> Iterator[ImageSearchClient]:
    with ImageSearchClient(
        embedder=efficientnet, store=LocalStore(tmp_path / "index.sqlite3"), fetcher=fetcher
    ) as client:
        yield client
        client.store.close()


def test_three_postings_are_found_with_provenance_and_the_other_photo_is_not(
    client: ImageSearchClient, posted_copies: dict[str, object], sites: Sites
) -> None:
    report = client.add(posted_copies["candidates"], keyphrase="motorbike")  # type: ignore[arg-type]
    assert report.failed == 0

    postings = client.find_postings(posted_copies["query"])  # type: ignore[arg-type]

    assert {p.page_url for p in postings} == set(PAGES.values())
    assert all(p.relation == "copy" for p in postings)
    for posting in postings:
        assert posting.domain in {"news.example", "blog.example", "forum.example"}
        assert posting.image_url is not None
        assert posting.image_url.startswith(sites.server.url)
        assert posting.keyphrase == "motorbike"
        assert posting.indexed_at is not None
        assert posting.width
        assert posting.height
        assert posting.evidence is not None
        assert posting.evidence.inliers >= 15
        assert posting.evidence.coverage > 0.3
    assert postings.unverified == ()
    resized = next(p for p in postings if p.page_url == PAGES["/blog/img/bike-small.jpg"])
    assert resized.evidence is not None
    assert resized.evidence.scale == pytest.approx(0.5, abs=0.05)


def test_grouped_search_shows_the_three_postings_as_one_picture(
    client: ImageSearchClient, posted_copies: dict[str, object]
) -> None:
    client.add(posted_copies["candidates"])  # type: ignore[arg-type]

    groups = client.search(posted_copies["query"], k=3, group=True)  # type: ignore[arg-type]

    assert {p.page_url for p in groups[0].postings} == set(PAGES.values())
    assert groups[0].score == max(p.score for p in groups[0].postings)
    others = [p.page_url for g in groups[1:] for p in g.postings]
    assert "https://shop.example/p/9" in others  # alike, but another picture
    assert len(client.search(posted_copies["query"], k=3)) == 3  # ungrouped: plain matches


def test_exact_postings_come_from_equal_bytes_and_the_query_record_is_left_out(
    client: ImageSearchClient, sites: Sites, photos: dict[str, Image.Image], tmp_path: Path
) -> None:
    data = jpeg_bytes(photos["coffee"])
    sites.files["/a/coffee.jpg"] = sites.files["/b/coffee.jpg"] = data
    client.add([sites.url("/a/coffee.jpg"), sites.url("/b/coffee.jpg")])

    by_bytes = client.find_postings(data)
    assert [p.relation for p in by_bytes] == ["exact", "exact"]
    assert all(p.evidence is None for p in by_bytes)

    by_url = client.find_postings(sites.url("/a/coffee.jpg"))
    assert [p.image_url for p in by_url] == [sites.url("/b/coffee.jpg")]


def test_a_second_query_downloads_nothing_and_a_fresh_cache_fetches_once(
    efficientnet: EfficientNetEmbedder,
    fetcher: HttpFetcher,
    posted_copies: dict[str, object],
    sites: Sites,
    tmp_path: Path,
) -> None:
    store = InMemoryStore()
    indexing = ImageSearchClient(
        embedder=efficientnet, store=store, fetcher=fetcher, cache_pictures=False
    )
    indexing.add(posted_copies["candidates"])  # type: ignore[arg-type]
    indexed = sites.downloads()

    # A store whose pixels were never cached here, as a Pinecone index filled elsewhere.
    cache = PictureCache(tmp_path / "pictures.sqlite3")
    client = ImageSearchClient(
        embedder=efficientnet, store=store, fetcher=fetcher, picture_cache=cache
    )
    first = client.find_postings(posted_copies["query"])  # type: ignore[arg-type]
    assert len(first) == 3
    assert sites.downloads() == indexed + len(posted_copies["candidates"])  # type: ignore[arg-type]

    second = client.find_postings(posted_copies["query"])  # type: ignore[arg-type]
    assert [p.id for p in second] == [p.id for p in first]
    assert sites.downloads() == indexed + len(posted_copies["candidates"])  # type: ignore[arg-type]
    cache.close()


def test_a_candidate_that_404s_is_reported_unverified(
    efficientnet: EfficientNetEmbedder,
    fetcher: HttpFetcher,
    posted_copies: dict[str, object],
    sites: Sites,
) -> None:
    client = ImageSearchClient(
        embedder=efficientnet, store=InMemoryStore(), fetcher=fetcher, cache_pictures=False
    )
    client.add(posted_copies["candidates"])  # type: ignore[arg-type]
    sites.gone.add("/forum/attach/crop.jpg")

    postings = client.find_postings(posted_copies["query"])  # type: ignore[arg-type]

    assert {p.page_url for p in postings} == {
        PAGES["/news/motorbike.jpg"],
        PAGES["/blog/img/bike-small.jpg"],
    }
    [missing] = postings.unverified
    assert missing.page_url == PAGES["/forum/attach/crop.jpg"]
    assert "404" in missing.reason
    assert postings.candidates == len(posted_copies["candidates"])  # type: ignore[arg-type]


def reopened(client: ImageSearchClient) -> ImageSearchClient:
    """A client over the same store, as a new process would make: its picture cache
    is opened afresh from the file."""
    return ImageSearchClient(embedder=client.embedder, store=client.store, fetcher=client.fetcher)


def test_an_undecodable_cached_thumbnail_is_downloaded_again(
    client: ImageSearchClient, posted_copies: dict[str, object], sites: Sites, tmp_path: Path
) -> None:
    client.add(posted_copies["candidates"])  # type: ignore[arg-type]
    client.pictures.close()
    with sqlite3.connect(tmp_path / "index.pictures.sqlite3") as con:
        con.execute("UPDATE pictures SET thumbnail = x'ffd8ffe000104a46', features = NULL")
    before = sites.downloads()

    with reopened(client) as again:
        postings = again.find_postings(posted_copies["query"])  # type: ignore[arg-type]

    assert {p.page_url for p in postings} == set(PAGES.values())
    assert sites.downloads() > before
    # ...and a candidate that is gone as well is unverified, not a crash.
    with sqlite3.connect(tmp_path / "index.pictures.sqlite3") as con:
        con.execute("UPDATE pictures SET thumbnail = x'00', features = x'00'")
    sites.gone.update(sites.files)
    with reopened(client) as again:
        postings = again.find_postings(posted_copies["query"])  # type: ignore[arg-type]
    assert len(postings) == 0
    assert len(postings.unverified) == len(posted_copies["candidates"])  # type: ignore[arg-type]


def test_mirrored_rotated_and_bordered_copies_are_copies(
    client: ImageSearchClient, photos: dict[str, Image.Image], sites: Sites
) -> None:
    edits = ("mirror", "rotate+10", "border", "text", "crop50", "grey")
    candidates = [
        posted(
            sites,
            f"/{edit}.jpg",
            apply_edit(photos["chelsea"], edit),
            page=f"https://x.example/{edit}",
            title=edit,
        )
        for edit in edits
    ]
    candidates.append(
        posted(sites, "/coffee.jpg", photos["coffee"], page="https://x.example/c", title="c")
    )
    client.add(candidates)

    postings = client.find_postings(photos["chelsea"])

    assert {p.title for p in postings} == set(edits)
    mirrored = next(p for p in postings if p.title == "mirror")
    assert mirrored.evidence is not None
    assert mirrored.evidence.mirrored
    rotated = next(p for p in postings if p.title == "rotate+10")
    assert rotated.evidence is not None
    assert abs(abs(rotated.evidence.rotation) - 10) < 1.5


def test_postings_sort_by_date_size_and_score(
    client: ImageSearchClient, posted_copies: dict[str, object]
) -> None:
    client.add(posted_copies["candidates"])  # type: ignore[arg-type]
    postings = client.find_postings(posted_copies["query"])  # type: ignore[arg-type]

    by_size = postings.sorted_by("size")
    sizes = [p.width * p.height for p in by_size]  # type: ignore[operator]
    assert sizes == sorted(sizes, reverse=True)
    assert [p.score for p in postings.sorted_by("score")] == sorted(
        (p.score for p in postings), reverse=True
    )
    assert len(client.find_postings(posted_copies["query"], sort_by="oldest")) == 3  # type: ignore[arg-type]


def test_pinecone_store_works_the_same_with_a_cache_in_the_users_folder(
    efficientnet: EfficientNetEmbedder,
    fetcher: HttpFetcher,
    posted_copies: dict[str, object],
    sites: Sites,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from img2img import PineconeStore
    from img2img.testing.fake_pinecone import FakePinecone

    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    with (
        FakePinecone(dimension=efficientnet.dimension) as fake,
        PineconeStore(host=fake.url, api_key=fake.api_key) as store,
        ImageSearchClient(embedder=efficientnet, store=store, fetcher=fetcher) as client,
    ):
        client.add(posted_copies["candidates"])  # type: ignore[arg-type]
        (own,) = (tmp_path / "home").glob("pinecone-*.pictures.sqlite3")  # this index's own
        assert own.is_file()
        downloads = sites.downloads()

        postings = client.find_postings(posted_copies["query"])  # type: ignore[arg-type]
        groups = client.search(posted_copies["query"], k=2, group=True)  # type: ignore[arg-type]

    assert {p.page_url for p in postings} == set(PAGES.values())
    assert {p.page_url for p in groups[0].postings} == set(PAGES.values())
    assert sites.downloads() == downloads  # pixels came from the cache filled while indexing
