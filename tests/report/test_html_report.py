"""HTML reports of search, postings, locate and duplicates: escaped, self-contained, outlined."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from img2img import Match, write_html
from img2img.locate.results import Claim, Located, LocateReport
from img2img.models import ImageCandidate, LookupReport

from .conftest import HOSTILE_IMG, HOSTILE_TITLE, Stocked


def _located(stocked: Stocked) -> Located:
    """A locate answer made of the store's own postings, a refused and a gone claim."""
    found = stocked.client.find_postings(stocked.query)
    gone = ImageCandidate(
        image_url="https://gone.example/x.jpg",
        page_url="https://gone.example/page",
        title=HOSTILE_TITLE,
        domain="gone.example",
    )
    other = ImageCandidate(
        image_url="https://alike.example/y.jpg",
        page_url="https://alike.example/page",
        title="another astronaut",
        domain="alike.example",
    )
    lookup = LookupReport(1, 1, 5, 5, 0, 0, 0.5)
    report = LocateReport(lookup, 5, 0, 5, len(found), 0, 1, 0, 0, (), 1.5)
    return Located(
        tuple(found),
        alike=(),
        rejected=(
            Claim.of(gone, "exact", "fetch", "HTTP 404 from gone.example"),
            Claim.of(other, "exact", "verify", "3 keypoints agree, fewer than 12"),
        ),
        report=report,
    )


@pytest.fixture(scope="module")
def reports(stocked: Stocked, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    client = stocked.client
    query = stocked.query
    return {
        "search": write_html(client.search(query, k=4), folder / "search.html", query=query),
        "grouped": write_html(
            client.search(query, k=3, group=True), folder / "grouped.html", query=query
        ),
        "postings": write_html(
            client.find_postings(query), folder / "postings.html", query=query, client=client
        ),
        "locate": write_html(_located(stocked), folder / "locate.html", query=query),
        "duplicates": write_html(
            list(client.duplicates()), folder / "duplicates.html", kind="duplicates"
        ),
    }


def test_a_report_is_one_file_that_names_no_other_resource(reports: dict[str, Path]) -> None:
    for name, path in reports.items():
        html = path.read_text(encoding="utf-8")
        sources = re.findall(r'\b(?:src|href)="([^"]*)"', html)
        assert all(s.startswith("data:image/jpeg;base64,") for s in sources if "src" in s), name
        assert "<script" not in html, name  # the page itself runs nothing
        assert "<link" not in html, name  # no stylesheet or font fetched
        assert "Content-Security-Policy" in html, name
        assert path.stat().st_size < 400_000, name  # small JPEG thumbnails, not originals


def test_hostile_titles_and_links_stay_text(reports: dict[str, Path]) -> None:
    html = reports["postings"].read_text(encoding="utf-8")
    assert "&lt;script&gt;window.pwned" in html
    assert "&lt;img src=x onerror=" in html
    assert HOSTILE_TITLE not in html
    assert HOSTILE_IMG not in html
    assert 'href="javascript:' not in html  # a javascript: page link stays text
    assert "javascript:alert(1)" in html


def test_postings_show_provenance_relation_engines_and_the_fitted_outline(
    stocked: Stocked, reports: dict[str, Path]
) -> None:
    html = reports["postings"].read_text(encoding="utf-8")
    found = stocked.client.find_postings(stocked.query)
    assert len(found) == 3
    for posting in found:
        assert posting.evidence is not None
        assert len(posting.evidence.corner_fractions()) == 4
    assert html.count('<svg class="outline"') == 3
    assert "https://news.example/2024/astronaut" in html
    assert "https://blog.example/posts/space?a=1&amp;b=2" in html  # escaped in the attribute
    assert "GoogleLensSource (exact)" in html
    assert ">copy<" in html
    assert "indexed" in html


def test_the_resized_copy_is_outlined_over_its_whole_frame_and_the_crop_beyond_it(
    stocked: Stocked,
) -> None:
    found = stocked.client.find_postings(stocked.query)
    by_page = {p.page_url: p for p in found}
    resized = by_page["https://news.example/2024/astronaut"].evidence
    assert resized is not None
    for (x, y), (ex, ey) in zip(
        resized.corner_fractions(), [(0, 0), (1, 0), (1, 1), (0, 1)], strict=True
    ):
        assert x == pytest.approx(ex, abs=0.03)
        assert y == pytest.approx(ey, abs=0.03)
    cropped = by_page["javascript:alert(1)"].evidence
    assert cropped is not None
    xs = [x for x, _ in cropped.corner_fractions()]
    assert min(xs) < -0.05  # the query reaches past the crop's left edge
    assert max(xs) > 1.05


def test_locate_report_folds_rejected_claims_with_their_reasons(reports: dict[str, Path]) -> None:
    html = reports["locate"].read_text(encoding="utf-8")
    folded = html[html.index("<details") :]
    assert "claimed, not postings: 2" in folded
    assert "fetch: HTTP 404 from gone.example" in folded
    assert "verify: 3 keypoints agree, fewer than 12" in folded
    assert "&lt;script&gt;" in folded


def test_duplicates_and_grouped_search_show_groups_together(reports: dict[str, Path]) -> None:
    duplicates = reports["duplicates"].read_text(encoding="utf-8")
    assert duplicates.count('<section class="group">') == 2  # the astronaut, the coffee
    assert "same bytes" in duplicates
    grouped = reports["grouped"].read_text(encoding="utf-8")
    assert "the query&#39;s picture" in grouped or "the query's picture" in grouped
    assert "another picture" in grouped


def test_an_empty_answer_says_so_and_a_folder_is_refused(tmp_path: Path) -> None:
    from img2img import ConfigurationError

    page = write_html([], tmp_path / "empty.html", kind="duplicates").read_text("utf-8")
    assert "no picture is stored more than once" in page
    with pytest.raises(ConfigurationError, match="folder"):
        write_html([], tmp_path)


def test_a_match_with_no_picture_at_hand_draws_an_empty_frame(tmp_path: Path) -> None:
    match = Match(id="x", score=0.5, image_url="https://nowhere.example/a.jpg", title="gone")
    page = write_html([match], tmp_path / "a.html").read_text("utf-8")
    assert "no picture at hand" in page
    assert "<img" not in page


def _file_links(stocked: Stocked) -> set[str]:
    return {p.resolve().as_uri() for p in stocked.folder.iterdir()}


@pytest.mark.parametrize("name", ["search", "grouped", "postings", "locate", "duplicates"])
def test_chromium_decodes_every_thumbnail_draws_outlines_and_runs_no_hostile_script(
    name: str, reports: dict[str, Path], stocked: Stocked
) -> None:
    from .browser import inspect_page

    seen = inspect_page(reports[name])

    assert seen["pwned"] is None  # no script from a title ran
    assert seen["scripts"] == 1  # only the check script the test added
    assert seen["images"], "a report shows thumbnails"
    assert all(i["complete"] and i["width"] > 0 for i in seen["images"]), seen["images"]
    assert all(not t.startswith("<") or "<script>" in t or "<img" in t for t in seen["titles"])
    allowed = {*stocked.pages.values(), *_file_links(stocked), stocked.query.resolve().as_uri()}
    allowed |= {"https://misc.example/coffee", "https://misc.example/chelsea"}
    allowed |= {"https://misc.example/rocket", "https://other.example/coffee"}
    allowed |= {"https://gone.example/page", "https://alike.example/page"}
    assert set(seen["links"]) <= allowed
    assert not any(link.startswith("javascript:") for link in seen["links"])
    if name in ("postings", "locate"):
        assert HOSTILE_TITLE in seen["titles"]  # shown as the text it is
        assert len(seen["polygons"]) == 3
        assert all(width > 0 and height > 0 for _, width, height in seen["polygons"])
        assert "https://news.example/2024/astronaut" in seen["links"]
        assert "https://blog.example/posts/space?a=1&b=2" in seen["links"]


def test_screenshot_in_the_docs_is_a_report_as_chromium_draws_it(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    from PIL import Image

    from .browser import screenshot

    shot = screenshot(reports["postings"], tmp_path / "postings.png")
    with Image.open(shot) as image:
        assert image.size == (1100, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None
        assert len(colours) > 1000  # photos drawn, not a blank page
    kept = Path(__file__).parents[2] / "docs" / "report-postings.png"
    if os.environ.get("IMG2IMG_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, kept)
    assert kept.exists(), "docs/report-postings.png shows readers a report"
