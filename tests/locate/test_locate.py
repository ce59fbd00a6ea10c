"""locate end to end, on loopback: a fake Lens claims pages, real photos are verified and kept."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from locate_helpers import COPIES, OTHERS, Web
from PIL import Image

from img2img import (
    SOCIAL_MEDIA_SITES,
    EfficientNetEmbedder,
    HttpFetcher,
    ImageSearchClient,
    InMemoryStore,
    LocalStore,
)
from img2img.provenance import image_id
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_serpapi import FakeSerpApi

COPY_PAGES = {page for page, _ in COPIES.values()}
OTHER_PAGES = {page for page, _ in OTHERS.values()}


def test_locate_returns_the_five_copies_stores_them_and_finds_them_again_offline(
    client: ImageSearchClient,
    claimed: dict[str, list[dict[str, Any]]],
    bike: tuple[Image.Image, Image.Image],
    serp: FakeSerpApi,
    web: Web,
    efficientnet: EfficientNetEmbedder,
    fetcher: HttpFetcher,
    tmp_path: Path,
) -> None:
    query = tmp_path / "bike.png"
    bike[0].save(query)

    started = time.perf_counter()
    found = client.locate(query)
    seconds = time.perf_counter() - started

    assert {p.page_url for p in found} == COPY_PAGES
    assert all(p.relation == "copy" for p in found)
    for posting in found:
        assert posting.domain == posting.page_url.split("/")[2].removeprefix("www.")  # type: ignore[union-attr]
        assert posting.image_url is not None
        assert posting.image_url.startswith(web.server.url)
        assert posting.evidence is not None
        assert posting.evidence.inliers >= 100
        assert posting.metadata["found_by"] == "google_lens"
        assert posting.metadata["lens_date"] == "Mar 5, 2024"
        assert posting.metadata["lens_type"] == "exact_matches"
        assert posting.first_seen == 1709596800  # 2024-03-05, the date Lens gave
        assert 0 < posting.score <= 1.0001
    inliers = [p.evidence.inliers for p in found if p.evidence]
    assert inliers == sorted(inliers, reverse=True)
    assert [c.page_url for c in found.rejected] == [entry["link"] for entry in claimed["others"]]
    assert {c.stage for c in found.rejected} == {"verify"}
    assert all("loose" in c.reason for c in found.rejected)
    assert found.alike == ()

    report = found.report
    assert (report.searches, report.uploads, report.downloads) == (1, 1, 8)
    assert (report.candidates, report.known, report.verified, report.exact) == (8, 0, 5, 0)
    assert (report.different, report.alike, report.failed, report.stored) == (3, 0, 0, 5)
    assert report.candidates == report.verified + report.different + report.alike + report.failed
    assert 0 < report.elapsed_seconds <= seconds
    assert str(report).startswith("1 search, 1 upload, 8 downloads: 8 claims, verified 5, ")
    print(f"locate of 8 claims took {seconds:.2f}s")  # shown with -s

    # Stored with provenance, and only the copies.
    assert client.store.count() == 5
    stored = client.store.fetch([p.id for p in found])
    query_sha = stored[found[0].id].metadata["query_sha256"]
    assert all(r.metadata["query_sha256"] == query_sha for r in stored.values())
    assert len(str(query_sha)) == 64

    # With Lens and every site switched off, the local index answers.
    serp.close()
    web.server.close()
    store_path = tmp_path / "index.sqlite3"
    client.store.close()
    with (
        LocalStore(store_path) as store,
        ImageSearchClient(embedder=efficientnet, store=store, fetcher=fetcher) as offline,
    ):
        postings = offline.find_postings(query)
        assert {p.page_url for p in postings} == COPY_PAGES
        assert postings.unverified == ()


def test_similar_keeps_alike_pictures_apart_and_stores_only_copies(
    client: ImageSearchClient,
    claimed: dict[str, list[dict[str, Any]]],
    bike: tuple[Image.Image, Image.Image],
    serp: FakeSerpApi,
) -> None:
    copies, others = claimed["copies"], claimed["others"]
    serp.lens.serve(exact=copies[:3], visual=others + copies[3:])

    found = client.locate(bike[0], similar=True)

    assert {p.page_url for p in found} == COPY_PAGES
    by_page = {p.page_url: p.metadata["lens_type"] for p in found}
    assert by_page[copies[4]["link"]] == "visual_matches"  # a copy Lens only called alike
    assert [c.page_url for c in found.alike] == [e["link"] for e in others]
    assert all(c.kind == "similar" and c.stage == "verify" for c in found.alike)
    assert all(c.evidence is not None and c.evidence.inliers > 0 for c in found.alike)
    assert found.rejected == ()
    assert (found.report.searches, found.report.alike, found.report.different) == (2, 3, 0)
    assert client.store.count() == 5


def test_sites_keep_postings_on_the_sites_asked_for(
    client: ImageSearchClient, claimed: Any, bike: tuple[Image.Image, Image.Image], web: Web
) -> None:
    found = client.locate(bike[0], sites=SOCIAL_MEDIA_SITES)

    assert sorted(str(p.domain) for p in found) == ["pinterest.com", "reddit.com"]
    assert [c.domain for c in found.rejected] == ["x.com"]  # on a site asked for, not a copy
    report = found.report
    assert (report.lookup.claimed, report.lookup.off_site, report.candidates) == (8, 5, 3)
    assert web.downloads() == 3
    assert client.store.count() == 2


def test_no_index_returns_postings_and_stores_nothing(
    client: ImageSearchClient, claimed: Any, bike: tuple[Image.Image, Image.Image]
) -> None:
    found = client.locate(bike[0], index=False)

    assert {p.page_url for p in found} == COPY_PAGES
    assert (found.report.stored, found.report.verified) == (0, 5)
    assert client.store.count() == 0
    assert client.pictures.count() == 0


def test_a_second_lookup_downloads_nothing_and_leaves_records_as_they_were(
    client: ImageSearchClient, claimed: Any, bike: tuple[Image.Image, Image.Image], web: Web
) -> None:
    first = client.locate(bike[0])
    downloads = web.downloads()
    indexed_at = {p.id: p.indexed_at for p in first}

    second = client.locate(bike[0])

    # Copies come from the picture cache; only the three claims not kept are downloaded again.
    assert (downloads, web.downloads()) == (8, 8 + 3)
    assert {p.id for p in second} == {p.id for p in first}
    assert {p.id: p.indexed_at for p in second} == indexed_at
    report = second.report
    assert (report.known, report.downloads, report.stored, report.verified) == (5, 3, 0, 5)
    assert client.store.count() == 5


def test_a_page_serving_the_query_s_own_bytes_is_exact(
    client: ImageSearchClient, serp: FakeSerpApi, web: Web, bike: tuple[Image.Image, Image.Image]
) -> None:
    data = jpeg_bytes(bike[0])
    web.files["/same.jpg"] = data
    web.files["/query.jpg"] = data
    serp.lens.serve(
        exact=[{"position": 1, "link": "https://mirror.example/p", "image": web.url("/same.jpg")}]
    )

    found = client.locate(web.url("/query.jpg"))  # a URL: Lens is sent it, nothing uploaded

    assert [(p.relation, p.evidence) for p in found] == [("exact", None)]
    assert found.report.exact == 1
    assert found.report.uploads == 0
    assert serp.lens.searches[0]["url"] == web.url("/query.jpg")


def test_a_record_stored_before_that_is_not_a_copy_is_kept(
    efficientnet: EfficientNetEmbedder,
    fetcher: HttpFetcher,
    claimed: Any,
    bike: tuple[Image.Image, Image.Image],
    web: Web,
    serp: FakeSerpApi,
) -> None:
    store = InMemoryStore()
    with ImageSearchClient(
        embedder=efficientnet,
        store=store,
        fetcher=fetcher,
        reverse_source=serp.lens_source(sleep=lambda s: None),
    ) as client:
        other = web.url(next(iter(OTHERS)))
        client.add([other], keyphrase="bikes")

        found = client.locate(bike[0])

        assert len(found) == 5
        assert store.count() == 6
        assert found.report.known == 1
        assert any(c.image_url == other and c.stage == "verify" for c in found.rejected)
        [kept] = store.fetch([image_id(other)]).values()
        assert kept.metadata["keyphrase"] == "bikes"
        assert "found_by" not in kept.metadata
