"""Reposts as the web makes them, for tests and benchmarks: warped, stretched, composed, worn.

Where :mod:`img2img.testing.edits` holds the edits of an image editor, these are
what happens to a picture on its way around sites: a photo of a screen or a
mockup (perspective), a careless resize to a square, a tile of a collage, a
picture inside a bigger one, thumbnails, meme captions, generations of
re-encoding, stickers. Each form takes the picture, a seeded ``random.Random``
and other pictures (for collages and backgrounds) and returns an RGB image,
then re-saved as a JPEG like every edit.

    from img2img.testing.reposts import REPOSTS, apply_repost
    copy = apply_repost(photo, "perspective10", others=[a, b, c], seed=3)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from img2img.testing.edits import POSTED_QUALITY, jpeg

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["REPOSTS", "apply_repost", "perspective"]

_Form = Callable[["Image.Image", random.Random, Sequence["Image.Image"]], "Image.Image"]


def perspective(
    image: Image.Image, corners: Sequence[tuple[float, float]], background: Image.Image
) -> Image.Image:
    """``image`` drawn with its corners at ``corners`` (top left, top right, bottom
    right, bottom left, in pixels of ``background``) over ``background``."""
    import numpy as np
    from PIL import Image

    from img2img.postings.features import opencv

    cv2 = opencv()
    width, height = image.size
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, np.array(corners, np.float32))
    size = background.size
    warped = cv2.warpPerspective(
        np.asarray(image.convert("RGB")), matrix, size, flags=cv2.INTER_LINEAR
    )
    mask = cv2.warpPerspective(
        np.full((height, width), 255, np.uint8), matrix, size, flags=cv2.INTER_LINEAR
    )
    out = Image.fromarray(warped)
    return Image.composite(out, background.convert("RGB").resize(size), Image.fromarray(mask))


def _backdrop(
    others: Sequence[Image.Image], rng: random.Random, size: tuple[int, int]
) -> Image.Image:
    """Another picture, dimmed and blurred, as a desk or a wall behind a screen; grey without one."""
    from PIL import Image, ImageEnhance, ImageFilter

    if not others:
        return Image.new("RGB", size, (90, 90, 96))
    other = rng.choice(list(others)).convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return ImageEnhance.Brightness(other.filter(ImageFilter.GaussianBlur(6))).enhance(0.6)


def _perspective(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image], *, amount: float
) -> Image.Image:
    """Seen at an angle: each corner moved inwards by up to ``amount`` of the sides
    (one pair of neighbouring corners by the full amount, as a tilted screen), over a backdrop."""
    width, height = image.size
    pad_x, pad_y = round(width * 0.05), round(height * 0.05)
    canvas = (width + 2 * pad_x, height + 2 * pad_y)
    tilted = rng.randrange(4)  # the side that recedes
    corners = []
    for index, (x, y) in enumerate(((0, 0), (width, 0), (width, height), (0, height))):
        far = index in (tilted, (tilted + 1) % 4)
        reach = amount if far else amount * rng.uniform(0.0, 0.3)
        dx = reach * width * rng.uniform(0.6, 1.0) * (1 if x == 0 else -1)
        dy = reach * height * rng.uniform(0.6, 1.0) * (1 if y == 0 else -1)
        corners.append((x + pad_x + dx, y + pad_y + dy))
    return perspective(image, corners, _backdrop(others, rng, canvas))


def _stretch(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image], *, aspect: float
) -> Image.Image:
    """Resized to ``aspect`` (width / height) without keeping proportions, long side kept."""
    from PIL import Image

    long = max(image.size)
    size = (long, round(long / aspect)) if aspect >= 1 else (round(long * aspect), long)
    return image.resize(size, Image.Resampling.BILINEAR)


def _fit_into(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """``image`` cropped to the aspect of ``box`` around its centre, then resized to it."""
    from PIL import ImageOps

    return ImageOps.fit(image.convert("RGB"), box)


def _collage(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image], *, side: int
) -> Image.Image:
    """One tile of a ``side`` x ``side`` grid of pictures with thin white gutters."""
    from PIL import Image

    cell = (max(image.size) * 2 // side, max(image.size) * 2 // side)
    gutter = 6
    canvas = Image.new("RGB", (side * cell[0] + (side + 1) * gutter,) * 2, (255, 255, 255))
    tiles = list(rng.sample(list(others), min(len(others), side * side - 1)))
    tiles.insert(rng.randrange(len(tiles) + 1), image)
    for index, tile in enumerate(tiles[: side * side]):
        row, column = divmod(index, side)
        canvas.paste(
            _fit_into(tile, cell),
            (gutter + column * (cell[0] + gutter), gutter + row * (cell[1] + gutter)),
        )
    return canvas


def _inset(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image], *, area: float
) -> Image.Image:
    """The picture inside a bigger photo, covering ``area`` of it, with a thin frame."""
    from PIL import Image, ImageOps

    base = (
        _fit_into(rng.choice(list(others)), (960, 720))
        if others
        else Image.new("RGB", (960, 720), (30, 30, 30))
    )
    scale = (area * base.width * base.height / (image.width * image.height)) ** 0.5
    inner = image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    inner = ImageOps.expand(inner, border=3, fill=(255, 255, 255))
    left = rng.randint(0, max(0, base.width - inner.width))
    top = rng.randint(0, max(0, base.height - inner.height))
    base.paste(inner, (left, top))
    return base


def _crop_area(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image], *, keep: float
) -> Image.Image:
    """Keep ``keep`` of the area, in the picture's proportions, at a random place."""
    side = keep**0.5
    width, height = round(image.width * side), round(image.height * side)
    left = rng.randint(0, image.width - width)
    top = rng.randint(0, image.height - height)
    return image.crop((left, top, left + width, top + height))


def _thumbnail(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image], *, side: int
) -> Image.Image:
    from PIL import Image

    thumb = image.copy()
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    return thumb


def _caption_bars(image: Image.Image, text: str) -> Image.Image:
    from PIL import Image, ImageDraw

    from img2img.testing.edits import _font

    bar = max(24, image.height // 7)
    canvas = Image.new("RGB", (image.width, image.height + 2 * bar), (255, 255, 255))
    canvas.paste(image, (0, bar))
    draw = ImageDraw.Draw(canvas)
    draw.text((image.width // 20, bar // 5), text, font=_font(bar * 3 // 5), fill=(0, 0, 0))  # type: ignore[arg-type]
    draw.rectangle((0, canvas.height - bar, canvas.width, canvas.height), fill=(20, 20, 20))
    return canvas


def _meme(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    """A meme chain: cropped, captioned in white bars, shrunk to 480 px, JPEG 40."""
    from PIL import Image

    cropped = _crop_area(image, rng, others, keep=0.8)
    captioned = _caption_bars(
        cropped, rng.choice(("me explaining this", "nobody: / me:", "day 3 of this"))
    )
    captioned.thumbnail((480, 480), Image.Resampling.BILINEAR)
    return jpeg(captioned, 40)


def _generations(
    image: Image.Image, rng: random.Random, others: Sequence[Image.Image]
) -> Image.Image:
    """Five generations of reposting: each a resize by 0.8-1.1 and a JPEG at 60-85."""
    from PIL import Image

    for _ in range(5):
        scale = rng.uniform(0.8, 1.1)
        image = image.resize(
            (max(8, round(image.width * scale)), max(8, round(image.height * scale))),
            Image.Resampling.BILINEAR,
        )
        image = jpeg(image, rng.randint(60, 85))
    return image


def _blur(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    from PIL import ImageFilter

    return image.filter(ImageFilter.GaussianBlur(max(image.size) / 300))


def _noise(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(image.convert("RGB"), np.float32)
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 14, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def _stickers(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    """Four flat stickers (discs, stars, a label) over about 12 % of the picture."""
    from PIL import ImageDraw

    image = image.copy()
    draw = ImageDraw.Draw(image)
    radius = round(((0.12 / 4) * image.width * image.height / 3.14) ** 0.5)
    for index in range(4):
        x = rng.randint(radius, image.width - radius)
        y = rng.randint(radius, image.height - radius)
        colour = rng.choice(((255, 204, 0), (230, 40, 80), (40, 160, 255), (120, 220, 90)))
        if index % 2:
            draw.regular_polygon(
                (x, y, radius),
                5 if index == 1 else 6,
                rotation=rng.uniform(0, 72),
                fill=colour,
                outline=(0, 0, 0),
            )
        else:
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius),
                fill=colour,
                outline=(0, 0, 0),
                width=3,
            )
            draw.text((x - radius // 2, y - radius // 4), "lol", fill=(0, 0, 0))
    return image


def _rotate90(image: Image.Image, rng: random.Random, others: Sequence[Image.Image]) -> Image.Image:
    from PIL import Image

    return image.transpose(rng.choice((Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270)))


#: Every repost form by name, as a function of (image, rng, other pictures). All end in a JPEG re-save.
REPOSTS: dict[str, _Form] = {
    "perspective5": partial(_perspective, amount=0.05),
    "perspective10": partial(_perspective, amount=0.10),
    "perspective12": partial(_perspective, amount=0.12),
    "perspective15": partial(_perspective, amount=0.15),
    "stretch1:1": partial(_stretch, aspect=1.0),
    "stretch16:9": partial(_stretch, aspect=16 / 9),
    "collage2x2": partial(_collage, side=2),
    "collage3x3": partial(_collage, side=3),
    "inset15": partial(_inset, area=0.15),
    "inset30": partial(_inset, area=0.30),
    "inset40": partial(_inset, area=0.40),
    "crop35": partial(_crop_area, keep=0.65),  # 35 % of the area cut away
    "thumb120": partial(_thumbnail, side=120),
    "thumb160": partial(_thumbnail, side=160),
    "meme": _meme,
    "generations5": _generations,
    "blur": _blur,
    "noise": _noise,
    "stickers": _stickers,
    "rotate90": _rotate90,
}


def apply_repost(
    image: Image.Image, form: str, *, others: Sequence[Image.Image] = (), seed: int = 0
) -> Image.Image:
    """``image`` reposted in the named ``form`` (a key of :data:`REPOSTS`), then re-saved as a JPEG.

    ``others`` are other pictures, for collages, insets and backdrops. Raises
    ``KeyError`` for an unknown form.
    """
    rng = random.Random(f"{form}:{seed}")
    return jpeg(REPOSTS[form](image.convert("RGB"), rng, others), POSTED_QUALITY)
