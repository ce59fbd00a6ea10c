"""Every relation shows as it is named, with the fit's model and where the picture sits,
in the command's tables and JSON and in the HTML report; a relation or an evidence field
added later (a composite's ``part`` and its ``region``) shows too, not dropped."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console

from img2img import Match, Posting, write_html
from img2img.cli.postings_tables import group_rows, posting_json, postings_table
from img2img.locate.results import Located, LocateReport
from img2img.models import LookupReport, PictureGroup, Relation
from img2img.postings.judge import Judge, Picture
from img2img.report.placement import describe_place, placement, query_relation_words
from img2img.testing.photos import sample_photos
from img2img.testing.reposts import apply_repost


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Posting]:
    """The query verified against a mockup (perspective) and a 2x2 collage, as postings,
    their pictures saved where the report finds thumbnails; and the collage again as a
    ``part`` with the region of its tile."""
    folder = tmp_path_factory.mktemp("relations")
    photos = sample_photos(("coffee", "astronaut", "chelsea", "rocket"))
    query = photos.pop("coffee")
    others = list(photos.values())
    judge = Judge(Picture(query))
    postings = {}
    for name, form in (("mockup", "perspective12"), ("collage", "collage2x2")):
        image = apply_repost(query, form, others=others, seed=2)
        path = folder / f"{name}.jpg"
        image.save(path)
        judgement = judge.judge(Picture(image))
        match = Match(
            id=name,
            score=0.8,
            image_url=path.as_uri(),
            page_url=f"https://{name}.example/post",
            domain=f"{name}.example",
            metadata={"width": image.width, "height": image.height},
        )
        postings[name] = judgement.posting(match)
    collage = postings["collage"]
    assert collage.evidence is not None
    box = placement(collage.evidence)
    assert box is not None
    width, height = collage.evidence.frame or (0, 0)
    region = (
        round(box[0] * width), round(box[1] * height), round(box[2] * width), round(box[3] * height)
    )  # fmt: skip
    postings["part"] = replace(
        collage,
        id="part",
        page_url="https://part.example/post",
        domain="part.example",
        relation=cast(Relation, "part"),
        evidence=replace(collage.evidence, region=region),
    )
    return postings


def _table_text(postings: list[Posting]) -> str:
    console = Console(file=io.StringIO(), width=250, color_system=None)
    console.print(postings_table(postings))
    return cast(io.StringIO, console.file).getvalue()


def test_tables_name_the_relation_the_fit_and_where_the_picture_sits(
    posted: dict[str, Posting],
) -> None:
    mockup, collage, part = posted["mockup"], posted["collage"], posted["part"]
    assert mockup.relation == "warped"
    lines = _table_text([mockup, collage, part]).splitlines()[2:]
    # Columns: rank, relation, size, site, evidence, link.
    rows = {cells[3]: cells for cells in ([c.strip() for c in line.split("│")] for line in lines)}
    assert rows["mockup.example"][1] == "warped"
    assert "perspective fit" in rows["mockup.example"][4]
    assert "% across" in rows["mockup.example"][4]
    assert rows["collage.example"][1] == collage.relation
    assert "% across" in rows["collage.example"][4]
    assert rows["part.example"][1] == "part"  # a relation added later shows as it is named


def test_json_carries_relation_model_corners_and_box(posted: dict[str, Posting]) -> None:
    data = posting_json(posted["mockup"])
    evidence: dict[str, Any] = data["evidence"]
    assert (data["relation"], evidence["model"]) == ("warped", "perspective")
    assert len(evidence["corners"]) == len(evidence["corner_fractions"]) == 4
    left, top, right, bottom = evidence["box"]
    assert 0 <= left < right <= 1
    assert 0 <= top < bottom <= 1
    assert (right - left) * (bottom - top) < 0.95  # the screen, inside its backdrop

    part = posting_json(posted["part"])
    assert part["relation"] == "part"
    assert len(part["evidence"]["region"]) == 4  # a field the evidence gains shows in JSON
    width, height = part["evidence"]["frame"]
    left, top, right, bottom = part["evidence"]["region"]
    assert part["evidence"]["box"] == pytest.approx(
        [left / width, top / height, right / width, bottom / height], abs=1e-4
    )
    assert describe_place(posted["part"].evidence).startswith("at ")


def test_a_group_of_the_query_s_picture_says_so_whatever_the_relation() -> None:
    assert query_relation_words("exact") == "the query's own bytes"
    assert query_relation_words("copy") == "the query's picture"
    assert query_relation_words("warped") == "the query's picture (warped)"
    assert query_relation_words("part") == "the query's picture (part)"
    assert query_relation_words("alike") == query_relation_words(None) == "another picture"


def test_the_html_report_shows_each_relation_its_place_and_the_region(
    posted: dict[str, Posting], tmp_path: Path
) -> None:
    report = LocateReport(LookupReport(1, 1, 3, 3, 0, 0, 0.1), 3, 0, 3, 3, 0, 0, 0, 0, (), 0.2)
    found = Located(tuple(posted.values()), alike=(), rejected=(), report=report)
    html = write_html(found, tmp_path / "locate.html").read_text("utf-8")
    for relation in ("warped", posted["collage"].relation, "part"):
        assert f'<span class="relation {relation}">{relation}</span>' in html
    assert "perspective fit" in html
    assert html.count("<dt>where</dt>") == 3
    assert html.count('<polygon class="region"') == 1
    assert html.count('<svg class="outline"') == 3

    group = PictureGroup(postings=(posted["mockup"],), score=0.8, query_relation="warped")
    assert group.is_query_picture  # a warped copy still shows the query's picture
    grouped = write_html([group], tmp_path / "grouped.html").read_text("utf-8")
    assert "the query&#39;s picture (warped)" in grouped

    from .browser import inspect_page

    seen = inspect_page(tmp_path / "locate.html")
    assert len(seen["images"]) == 3
    assert all(i["complete"] and i["width"] > 0 for i in seen["images"])
    assert len(seen["polygons"]) == 4  # three fitted outlines and one region
    assert all(width > 0 and height > 0 for _, width, height in seen["polygons"])


def test_group_json_names_any_query_relation(posted: dict[str, Posting]) -> None:
    group = PictureGroup(
        postings=(posted["part"],), score=0.7, query_relation=cast(Relation, "part")
    )
    data = group_rows(group)
    assert data["query_relation"] == "part"
    assert data["postings"][0]["relation"] == "part"
