"""Flat-colour artwork drawn by code: comics panels, logos, stickers, for tests and benchmarks.

No package ships such art, and it is the art users look for (cartoons, comics,
logos leak from one site to the next). Each drawing is made from its ``seed``
alone: flat fills from a small palette, black outlines, shapes, speech
bubbles and text, in one of three styles:

- ``comic``: two or three panels with gutters, shapes and a speech bubble each;
- ``logo``: a badge of concentric shapes on a plain ground with a word mark;
- ``cartoon``: a big scene of overlapping outlined shapes (hills, sun, houses).

    from img2img.testing.drawings import drawing
    art = drawing(7)  # 640 x 480 RGB
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

__all__ = ["STYLES", "drawing"]

STYLES = ("comic", "logo", "cartoon")
_PALETTE = (
    (239, 71, 111), (255, 209, 102), (6, 214, 160), (17, 138, 178), (7, 59, 76),
    (255, 255, 255), (250, 240, 220), (131, 56, 236), (255, 140, 0), (58, 134, 255),
    (245, 245, 245), (40, 40, 40), (144, 190, 109), (249, 65, 68),
)  # fmt: skip
_WORDS = ("BAM!", "POW", "WOW", "NOPE", "HELLO", "ZAP", "SIGH", "MEOW", "OK!", "YES")
_BRANDS = ("NOVA", "PIXL", "KOI", "ORBIT", "MAPLE", "RAVEN", "ZEST", "LUMA")


def _colour(rng: random.Random, avoid: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    choices = [c for c in _PALETTE if c != avoid]
    return rng.choice(choices)


def _shape(
    draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int], outline: int
) -> None:
    """One outlined flat shape somewhere in ``box``."""
    left, top, right, bottom = box
    size = rng.randint(max(8, (right - left) // 8), max(10, (right - left) // 3))
    x = rng.randint(left + size // 2, max(left + size // 2, right - size // 2))
    y = rng.randint(top + size // 2, max(top + size // 2, bottom - size // 2))
    fill = _colour(rng)
    kind = rng.randrange(5)
    if kind == 0:
        draw.ellipse(
            (x - size // 2, y - size // 3, x + size // 2, y + size // 3),
            fill=fill,
            outline=(0, 0, 0),
            width=outline,
        )
    elif kind == 1:
        draw.rectangle(
            (x - size // 2, y - size // 2, x + size // 2, y + size // 3),
            fill=fill,
            outline=(0, 0, 0),
            width=outline,
        )
    elif kind == 2:
        draw.regular_polygon(
            (x, y, size // 2),
            rng.randint(3, 8),
            rotation=rng.uniform(0, 90),
            fill=fill,
            outline=(0, 0, 0),
            width=outline,
        )
    elif kind == 3:  # a star
        points = [
            (
                x + (size / (2 if i % 2 == 0 else 4.5)) * math.cos(math.pi * i / 5 + 0.3),
                y + (size / (2 if i % 2 == 0 else 4.5)) * math.sin(math.pi * i / 5 + 0.3),
            )
            for i in range(10)
        ]
        draw.polygon(points, fill=fill, outline=(0, 0, 0), width=outline)
    else:  # a thick stroke
        draw.line(
            (x - size // 2, y + size // 3, x + size // 2, y - size // 3),
            fill=fill,
            width=max(4, size // 6),
        )


def _text(
    draw: ImageDraw.ImageDraw, at: tuple[int, int], text: str, size: int, fill: tuple[int, int, int]
) -> None:
    from img2img.testing.edits import _font

    draw.text(
        at,
        text,
        font=_font(size),  # type: ignore[arg-type]
        fill=fill,
        stroke_width=max(1, size // 14),
        stroke_fill=(0, 0, 0),
    )


def _bubble(draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    width, height = (right - left) * 3 // 5, (bottom - top) // 4
    x, y = (
        left + rng.randint(4, max(5, right - left - width - 4)),
        top + rng.randint(4, max(5, (bottom - top) // 3)),
    )
    draw.ellipse((x, y, x + width, y + height), fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    draw.polygon(
        [
            (x + width // 3, y + height - 4),
            (x + width // 2, y + height - 4),
            (x + width // 4, y + height + height // 2),
        ],
        fill=(255, 255, 255),
        outline=(0, 0, 0),
    )
    _text(
        draw,
        (x + width // 6, y + height // 4),
        rng.choice(_WORDS),
        max(10, height // 2),
        (20, 20, 20),
    )


def _comic(image: Image.Image, draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    panels = rng.choice((2, 3))
    gutter = 10
    width = (image.width - gutter * (panels + 1)) // panels
    for index in range(panels):
        left = gutter + index * (width + gutter)
        box = (left, gutter, left + width, image.height - gutter)
        draw.rectangle(box, fill=_colour(rng), outline=(0, 0, 0), width=4)
        for _ in range(rng.randint(3, 6)):
            _shape(draw, rng, (box[0] + 6, box[1] + 6, box[2] - 6, box[3] - 6), 3)
        _bubble(draw, rng, box)


def _logo(image: Image.Image, draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    x, y = image.width // 2 + rng.randint(-40, 40), image.height * 2 // 5
    sides = rng.choice((0, 3, 5, 6, 8))
    for ring in range(rng.randint(2, 4)):
        radius = image.height // 3 - ring * rng.randint(18, 30)
        if radius < 12:
            break
        fill = _colour(rng)
        if sides:
            draw.regular_polygon(
                (x, y, radius),
                sides,
                rotation=rng.uniform(0, 45),
                fill=fill,
                outline=(0, 0, 0),
                width=4,
            )
        else:
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius),
                fill=fill,
                outline=(0, 0, 0),
                width=4,
            )
    _text(
        draw,
        (image.width // 5 + rng.randint(-30, 30), image.height * 3 // 4),
        rng.choice(_BRANDS) + " " + rng.choice(("CO", "STUDIO", "LABS", "")),
        image.height // 8,
        _colour(rng),
    )


def _cartoon(image: Image.Image, draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    horizon = image.height * rng.randint(50, 70) // 100
    draw.rectangle((0, horizon, image.width, image.height), fill=_colour(rng))
    sun = rng.randint(30, 60)
    sx, sy = rng.randint(sun, image.width - sun), rng.randint(sun, horizon - sun)
    draw.ellipse(
        (sx - sun, sy - sun, sx + sun, sy + sun), fill=(255, 209, 102), outline=(0, 0, 0), width=3
    )
    for _ in range(rng.randint(2, 4)):  # hills
        cx, r = rng.randint(0, image.width), rng.randint(80, 200)
        draw.pieslice(
            (cx - r, horizon - r // 2, cx + r, horizon + r // 2),
            180,
            360,
            fill=_colour(rng),
            outline=(0, 0, 0),
            width=3,
        )
    for _ in range(rng.randint(2, 4)):  # houses
        w = rng.randint(50, 110)
        x = rng.randint(0, image.width - w)
        base = horizon + rng.randint(-10, 30)
        draw.rectangle((x, base - w, x + w, base), fill=_colour(rng), outline=(0, 0, 0), width=3)
        draw.polygon(
            [(x - 8, base - w), (x + w + 8, base - w), (x + w // 2, base - w - w * 2 // 3)],
            fill=_colour(rng),
            outline=(0, 0, 0),
            width=3,
        )
        draw.rectangle(
            (x + w // 3, base - w // 2, x + w * 2 // 3, base),
            fill=_colour(rng),
            outline=(0, 0, 0),
            width=2,
        )
    for _ in range(rng.randint(2, 5)):
        _shape(draw, rng, (0, horizon, image.width, image.height), 3)


def drawing(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A flat-colour drawing made from ``seed`` alone (same seed, same pixels): RGB, ``size``."""
    from PIL import Image, ImageDraw

    rng = random.Random(f"drawing:{seed}")
    image = Image.new("RGB", size, _colour(rng))
    draw = ImageDraw.Draw(image)
    style = STYLES[seed % len(STYLES)]
    {"comic": _comic, "logo": _logo, "cartoon": _cartoon}[style](image, draw, rng)
    return image
