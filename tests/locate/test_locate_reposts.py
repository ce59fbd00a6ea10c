"""locate keeps reposts the web makes (a mockup, a stretch, a collage, a picture in a picture)
with their relation and where the picture sits; another picture stays rejected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from locate_helpers import Web, lens_entry
from PIL import Image

from img2img import ImageSearchClient, Posting
from img2img.postings.region_records import is_region
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.fake_tineye import FakeTinEye, tineye_match
from img2img.testing.photos import sample_photos
from img2img.testing.reposts import apply_repost

#: Path on the sites -> (the page an engine names, the repost form of the query photo).
REPOSTED = {
    "/mockup.jpg": ("https://shop.example/mockup", "perspective12"),
    "/square.jpg": ("https://pins.example/square", "stretch1:1"),
    "/collage.jpg": ("https://blog.example/best-of", "collage2x2"),
    "/inset.jpg": ("https://news.example/story", "inset30"),
}
#: Relations a collage or an inset may carry: a copy matched whole, or a composite
#: holding the query (named ``contains``; ``part`` is accepted too, for the naming's sake).
PART_OF = {"copy", "contains", "part"}


@pytest.fixture(scope="module")
def others() -> list[Image.Image]:
    """Other photos: the collage's other tiles, the inset's background, the unrelated claim."""
    return list(sample_photos(("astronaut", "chelsea", "coffee", "rocket")).values())


@pytest.fixture
def tineye() -> Iterator[FakeTinEye]:
    with FakeTinEye() as fake:
        yield fake


@pytest.fixture
def reposted(
    web: Web,
    serp: FakeSerpApi,
    tineye: FakeTinEye,
    bike: tuple[Image.Image, Image.Image],
    others: list[Image.Image],
) -> None:
    """Lens claims the four reposts and an unrelated photo as exact matches; TinEye claims
    a 3x3 collage holding the query and the other view of the stereo pair."""
    query, other_view = bike
    entries = []
    for position, (path, (page, form)) in enumerate(REPOSTED.items(), start=1):
        web.files[path] = jpeg_bytes(apply_repost(query, form, others=others, seed=position))
        entries.append(lens_entry(position, page, web.url(path)))
    web.files["/astronaut.jpg"] = jpeg_bytes(others[0])
    entries.append(lens_entry(9, "https://space.example/", web.url("/astronaut.jpg")))
    serp.lens.serve(exact=entries, visual=[])
    web.files["/grid.jpg"] = jpeg_bytes(apply_repost(query, "collage3x3", others=others, seed=5))
    web.files["/side.jpg"] = jpeg_bytes(other_view)
    tineye.serve(
        [
            tineye_match(web.url("/grid.jpg"), "https://grid.example/"),
            tineye_match(web.url("/side.jpg"), "https://side.example/"),
        ]
    )


def _placed(posting: Posting) -> tuple[str, tuple[float, float, float, float]]:
    """The fit's model, and the box around the query's corners in fractions of the posting."""
    evidence = posting.evidence
    assert evidence is not None
    corners = evidence.corner_fractions()
    assert len(corners) == 4
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return evidence.model, (min(xs), min(ys), max(xs), max(ys))


def test_warped_and_composed_copies_are_kept_with_their_relation_and_place(
    client: ImageSearchClient,
    web: Web,
    serp: FakeSerpApi,
    tineye: FakeTinEye,
    bike: tuple[Image.Image, Image.Image],
    reposted: None,
) -> None:
    web.files["/query.jpg"] = jpeg_bytes(bike[0])
    found = client.locate(web.url("/query.jpg"), engines=[serp.lens_source(), tineye.source()])

    by_page = {p.page_url: p for p in found}
    assert set(by_page) == {page for page, _ in REPOSTED.values()} | {"https://grid.example/"}
    mockup, square = by_page["https://shop.example/mockup"], by_page["https://pins.example/square"]
    assert (mockup.relation, square.relation) == ("warped", "warped")
    # The mockup's screen sits inside its backdrop; the square is the whole frame, squeezed.
    model, (left, top, right, bottom) = _placed(mockup)
    assert model == "perspective"
    assert 0 < min(left, top) < max(left, top) < 0.25
    assert 0.75 < min(right, bottom) < max(right, bottom) < 1
    model, box = _placed(square)
    assert model == "affine"
    assert box == pytest.approx((0, 0, 1, 1), abs=0.02)

    for page, share in (("https://blog.example/best-of", 0.5), ("https://grid.example/", 0.34)):
        composed = by_page[page]
        assert composed.relation in PART_OF
        _, (left, top, right, bottom) = _placed(composed)
        # The tile is a fraction of the collage: the query's frame maps onto about one cell.
        assert bottom - top == pytest.approx(share, abs=0.06)
    inset = by_page["https://news.example/story"]
    # Split where it was pasted, as a stored picture is: the query is part of it.
    assert inset.relation == "part"
    _, (left, top, right, bottom) = _placed(inset)
    assert 0.25 < (right - left) * (bottom - top) < 0.4  # 30 % of the bigger photo

    # Another photo, and another photo of the same scene, stay rejected.
    assert {c.page_url for c in found.rejected} == {
        "https://space.example/",
        "https://side.example/",
    }
    assert {c.stage for c in found.rejected} == {"verify"}
    report = found.report
    assert (report.verified, report.different, report.failed) == (5, 2, 0)
    rows = {e.engine: (e.claims, e.verified, e.rejected) for e in report.engines}
    assert rows == {"lens": (5, 4, 1), "tineye": (2, 1, 1)}
    # Kept in the store with the relation they were found as, so postings finds them later.
    # (Composites among them are also stored as regions: vectors, not records.)
    stored = [r for page in client.store.scan() for r in page if not is_region(r.metadata)]
    assert len(stored) == 5
    relations = {page: posting.relation for page, posting in by_page.items()}
    again = client.find_postings(bike[0])
    assert {p.page_url: p.relation for p in again if p.page_url in by_page} == relations
    # A second lookup judges the stored ones from the picture cache, to the same relations.
    second = client.locate(web.url("/query.jpg"), engines=[serp.lens_source(), tineye.source()])
    assert {p.page_url: p.relation for p in second} == relations
    assert (second.report.known, second.report.stored) == (5, 0)
