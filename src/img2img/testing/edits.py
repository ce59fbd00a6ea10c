"""The edits a picture goes through when it is re-posted, for tests and benchmarks.

Each edit takes an RGB ``PIL.Image`` and returns a new RGB image; every result
is then re-saved as a JPEG (quality :data:`POSTED_QUALITY`, or the edit's own),
as a site would. Crops take an off-centre window chosen from ``seed``, so a
benchmark's crops are not all centred yet runs repeat exactly.

    from img2img.testing.edits import EDITS, apply_edit
    copy = apply_edit(photo, "crop70", seed=3)
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["EDITS", "MILD_EDITS", "POSTED_QUALITY", "apply_edit", "bend", "jpeg", "jpeg_bytes"]

#: The JPEG quality a site re-saves an upload at.
POSTED_QUALITY = 85
_FONT = "DejaVuSans-Bold.ttf"


def jpeg_bytes(image: Image.Image, quality: int = POSTED_QUALITY) -> bytes:
    """``image`` as the bytes of a JPEG at ``quality``, in RGB (JPEG keeps no alpha)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int = POSTED_QUALITY) -> Image.Image:
    """``image`` saved as a JPEG at ``quality`` and decoded again."""
    from PIL import Image

    return Image.open(io.BytesIO(jpeg_bytes(image, quality))).convert("RGB")


def _resize(image: Image.Image, rng: random.Random, *, scale: float) -> Image.Image:
    from PIL import Image

    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _crop(image: Image.Image, rng: random.Random, *, keep: float) -> Image.Image:
    """Keep ``keep`` of each side, at a random place in the frame."""
    width, height = round(image.width * keep), round(image.height * keep)
    left = rng.randint(0, image.width - width)
    top = rng.randint(0, image.height - height)
    return image.crop((left, top, left + width, top + height))


def _rotate(image: Image.Image, rng: random.Random, *, degrees: float) -> Image.Image:
    from PIL import Image

    return image.rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )


def _colour(image: Image.Image, rng: random.Random) -> Image.Image:
    """Brighter or darker, flatter, more saturated, hues turned by about 35 degrees."""
    from PIL import Image, ImageEnhance

    image = ImageEnhance.Brightness(image).enhance(rng.choice((0.6, 1.5)))
    image = ImageEnhance.Contrast(image).enhance(0.6)
    image = ImageEnhance.Color(image).enhance(2.0)
    hsv = image.convert("HSV")
    h, s, v = hsv.split()
    h = h.point(lambda value: (value + 25) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def _grey(image: Image.Image, rng: random.Random) -> Image.Image:
    return image.convert("L").convert("RGB")


def _mirror(image: Image.Image, rng: random.Random) -> Image.Image:
    from PIL import ImageOps

    return ImageOps.mirror(image)


def _font(size: int) -> object:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(_FONT, size)
    except OSError:  # no DejaVu on this machine: Pillow's own scalable font
        return ImageFont.load_default(size)


def _text(image: Image.Image, rng: random.Random) -> Image.Image:
    """A meme-style caption top and bottom, and a watermark across the middle."""
    from PIL import ImageDraw

    image = image.copy()
    draw = ImageDraw.Draw(image)
    size = max(12, image.height // 9)
    font = _font(size)
    for text, y in (("WHEN YOU SEE IT", size // 3), ("NOBODY: ME:", image.height - size * 4 // 3)):
        draw.text(
            (image.width // 12, y),
            text,
            font=font,  # type: ignore[arg-type]
            fill=(255, 255, 255),
            stroke_width=max(1, size // 12),
            stroke_fill=(0, 0, 0),
        )
    draw.text(
        (image.width // 4, image.height // 2),
        "@reposter",
        font=_font(size // 2),  # type: ignore[arg-type]
        fill=(230, 230, 230),
    )
    return image


def _border(image: Image.Image, rng: random.Random) -> Image.Image:
    """The picture as a screenshot shows it: scaled down inside a page, bars above and below."""
    from PIL import Image, ImageDraw

    inner = image.resize(
        (max(1, round(image.width * 0.8)), max(1, round(image.height * 0.8))),
        Image.Resampling.BILINEAR,
    )
    bar = max(20, image.height // 8)
    margin = max(10, image.width // 10)
    canvas = Image.new("RGB", (inner.width + 2 * margin, inner.height + 3 * bar), (245, 245, 245))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, canvas.width, bar), fill=(40, 44, 52))
    draw.text((margin, bar // 3), "www.example-news.com/gallery", fill=(220, 220, 220))
    draw.rectangle((0, canvas.height - bar, canvas.width, canvas.height), fill=(255, 255, 255))
    draw.text((margin, canvas.height - bar * 2 // 3), "1.2k likes  ·  share", fill=(90, 90, 90))
    canvas.paste(inner, (margin, bar + bar // 2))
    return canvas


_Edit = Callable[["Image.Image", random.Random], "Image.Image"]


def _unchanged(image: Image.Image, rng: random.Random) -> Image.Image:
    return image  # the JPEG re-save is the edit


#: Every edit by name, as a function of (image, rng). All end in a JPEG re-save.
EDITS: dict[str, _Edit] = {
    "resize": partial(_resize, scale=0.5),
    "jpeg70": _unchanged,
    "jpeg30": _unchanged,
    "crop90": partial(_crop, keep=0.9),
    "crop70": partial(_crop, keep=0.7),
    "crop50": partial(_crop, keep=0.5),
    "rotate+10": partial(_rotate, degrees=10.0),
    "rotate-10": partial(_rotate, degrees=-10.0),
    "colour": _colour,
    "grey": _grey,
    "mirror": _mirror,
    "text": _text,
    "border": _border,
}
#: Edits a search should shrug off: the original must rank first.
MILD_EDITS = ("resize", "jpeg70", "crop90")
_QUALITY = {"jpeg70": 70, "jpeg30": 30}


def apply_edit(image: Image.Image, edit: str, *, seed: int = 0) -> Image.Image:
    """``image`` after the named edit (a key of :data:`EDITS`) and a JPEG re-save.

    Raises ``KeyError`` for an unknown edit name.
    """
    rng = random.Random(f"{edit}:{seed}")
    edited = EDITS[edit](image.convert("RGB"), rng)
    return jpeg(edited, _QUALITY.get(edit, POSTED_QUALITY))


def bend(image: Image.Image, pixels: float, *, seed: int = 0) -> Image.Image:
    """``image`` bent by a smooth random displacement of up to ``pixels`` (at 512 pixels
    on the long side): a stand-in for another photo of the same scene, not an edit.

    A second viewpoint displaces each part of a scene by its depth, smoothly
    across most of the frame (parallax); no similarity undoes it, as none undoes
    this. Needs OpenCV.
    """
    import numpy as np
    from PIL import Image

    from img2img.postings.features import opencv

    cv2 = opencv()
    rng = np.random.default_rng(seed)
    width, height = image.size
    reach = pixels * max(width, height) / 512
    shifts = []
    for _ in range(2):  # a 4 x 4 grid of random shifts, smoothly interpolated
        field = cv2.resize(rng.normal(size=(4, 4)).astype(np.float32), (width, height),
                           interpolation=cv2.INTER_CUBIC)  # fmt: skip
        shifts.append(field * (reach / (float(np.abs(field).max()) or 1.0)))
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    pixels_out = cv2.remap(
        np.asarray(image.convert("RGB")),
        xs + shifts[0],
        ys + shifts[1],
        cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT,
    )
    return Image.fromarray(pixels_out)
