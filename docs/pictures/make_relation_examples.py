"""Draw docs/pictures/relation-*.jpg: one example of each relation a posting can have.

    PYTHONPATH=src python docs/pictures/make_relation_examples.py

Each picture sets the query beside postings made from a photo scikit-image ships
(the motorcycle of its stereo pair), reposted with :mod:`img2img.testing.reposts`
and judged by the one same-picture service (:mod:`img2img.postings.judge`). Where
the fit put the query's frame corners is drawn in red on the posting; for a query
that contains the posting, where the posting's corners land in the query. Under
each picture: the relation and the verifier's figures (or why it refused).
The output is the same on every run (seeded reposts, Pillow's own font).
"""

from __future__ import annotations

import hashlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFont

from img2img.models import Evidence
from img2img.postings.judge import Judge, Judgement, Picture
from img2img.report.placement import describe_place
from img2img.report.views import describe_evidence
from img2img.testing.edits import apply_edit
from img2img.testing.photos import sample_photos
from img2img.testing.reposts import apply_repost

HERE = Path(__file__).resolve().parent
#: Height of each picture in the strip, and of the caption under it, in pixels.
HEIGHT, CAPTION = 210, 82
GAP = 12
RED = (255, 64, 32)
#: Each file must stay small enough for a docs page.
MAX_BYTES = 60_000


@dataclass(frozen=True)
class Panel:
    image: Image.Image
    lines: tuple[str, ...]
    corners: tuple[tuple[float, float], ...] = ()  # fractions of the image, drawn in red


def _jpeg_bytes(image: Image.Image, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size)


def _wrapped(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    width: int,
) -> list[str]:
    """``text`` cut into lines no wider than ``width`` pixels, at spaces."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _draw_panel(panel: Panel) -> Image.Image:
    width = round(panel.image.width * HEIGHT / panel.image.height)
    picture = panel.image.resize((width, HEIGHT), Image.Resampling.LANCZOS)
    if panel.corners:
        draw = ImageDraw.Draw(picture)
        points = [(x * width, y * HEIGHT) for x, y in panel.corners]
        draw.line([*points, points[0]], fill=RED, width=3, joint="curve")
    tile = Image.new("RGB", (max(width, 200), HEIGHT + CAPTION), (255, 255, 255))
    tile.paste(picture, (0, 0))
    draw = ImageDraw.Draw(tile)
    top = HEIGHT + 4
    for row, text in enumerate(panel.lines):
        font = _font(15 if row == 0 else 12)
        for line in _wrapped(draw, text, font, tile.width - 4):
            draw.text((2, top), line, fill=(0, 0, 0) if row == 0 else (90, 90, 90), font=font)
            top += 19 if row == 0 else 15
    return tile


def _strip(panels: list[Panel]) -> Image.Image:
    tiles = [_draw_panel(p) for p in panels]
    width = sum(t.width for t in tiles) + GAP * (len(tiles) - 1)
    strip = Image.new("RGB", (width, HEIGHT + CAPTION), (255, 255, 255))
    left = 0
    for tile in tiles:
        strip.paste(tile, (left, 0))
        left += tile.width + GAP
    return strip


def _figures(judgement: Judgement) -> str:
    """The verifier's figures in one short line: the evidence, and where the picture sits."""
    if judgement.relation is None:  # the first of the reasons is enough for a caption
        return f"refused: {judgement.reason.split(';')[0]}"
    said = describe_evidence(judgement.evidence, judgement.relation)
    place = describe_place(judgement.evidence)
    return f"{said}; {place}" if place else said


def _corners(evidence: Evidence | None) -> tuple[tuple[float, float], ...]:
    return evidence.corner_fractions() if evidence is not None else ()


def _posting(judge: Judge, image: Image.Image, relation: str) -> Panel:
    """A posting judged against the query, captioned with the relation it stands for."""
    judgement = judge.judge(Picture(image))
    if judgement.relation is None:
        return Panel(image, (f"posting: {relation}", _figures(judgement)))
    return Panel(image, (f"posting: {relation}", _figures(judgement)), _corners(judgement.evidence))


def _save(name: str, panels: list[Panel]) -> Path:
    strip = _strip(panels)
    target = HERE / f"relation-{name}.jpg"
    for quality in (82, 75, 68, 60):
        data = _jpeg_bytes(strip, quality)
        if len(data) <= MAX_BYTES:
            break
    target.write_bytes(data)
    print(
        f"{target.relative_to(HERE.parents[1])}: {strip.width}x{strip.height}, {len(data) // 1000} KB"
    )
    return target


def main() -> int:
    left, right, _ = skimage.data.stereo_motorcycle()
    bike, other_view = Image.fromarray(np.asarray(left)), Image.fromarray(np.asarray(right))
    others = list(sample_photos(("astronaut", "chelsea", "coffee", "rocket")).values())
    query_bytes = _jpeg_bytes(bike)
    query = _decoded(query_bytes)
    judge = Judge(Picture(query, hashlib.sha256(query_bytes).hexdigest()))
    shown = Panel(query, ("query", f"{query.width}x{query.height}"))

    same = judge.judge(Picture(None, hashlib.sha256(query_bytes).hexdigest()))
    assert same.relation == "exact"
    _save(
        "exact",
        [shown, Panel(query, ("posting: exact", "the same bytes (sha256); pixels not compared"))],
    )

    screenshot = apply_edit(query, "border", seed=1)
    turned = apply_edit(apply_edit(query, "rotate+10", seed=1), "colour", seed=1)
    _save("copy", [shown, _posting(judge, screenshot, "copy"), _posting(judge, turned, "copy")])

    mockup = apply_repost(query, "perspective12", others=others, seed=1)
    square = apply_repost(query, "stretch1:1", seed=1)
    _save("warped", [shown, _posting(judge, mockup, "warped"), _posting(judge, square, "warped")])

    _save(
        "alike",
        [shown, _posting(judge, _decoded(_jpeg_bytes(other_view)), "alike (not a posting)")],
    )

    inset = apply_repost(query, "inset30", others=others, seed=3)
    collage = apply_repost(query, "collage2x2", others=others, seed=2)
    _save(
        "part",
        [shown, _posting(judge, inset, "part"), _posting(judge, collage, "part")],
    )

    # The other way round: the query is the bigger picture, the posting one picture in it.
    # Where the posting sits in the query comes from the fit run from the posting's side.
    whole = apply_repost(query, "inset30", others=others[1:], seed=4)
    forward = Judge(Picture(whole)).judge(Picture(query))
    placed = Judge(Picture(query)).judge(Picture(whole))
    where = describe_place(placed.evidence)
    on_query = Panel(whole, ("query", f"the posting sits {where}"), _corners(placed.evidence))
    _save("contains", [on_query, Panel(query, ("posting: contains", _figures(forward)))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
