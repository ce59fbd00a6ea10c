"""A store's worth of real-looking pictures with planted groups, for ``duplicates_real.py``.

Every picture in the set is a *posting*; postings made from one *base picture*
form a planted group, which ``duplicates()`` should return as one group.

- **Base pictures** are cuts of the real photos of :mod:`photoset` (turned by
  0, 90, 180, 15 or -20 degrees, recoloured, brightened or darkened, some
  mirrored, as the reposts benchmark's crowd) and flat-colour drawings of
  :mod:`img2img.testing.drawings` (comic panels, logos, cartoons; many share a
  template). The cuts of one photo never overlap each other: two cuts that
  share no pixel are two pictures, though they look alike (one photo's
  colours, texture and subject) and the embedder puts them close.
- **Reposts** of a base are made with the web's forms of
  :mod:`img2img.testing.reposts` and the edits of :mod:`img2img.testing.edits`
  that leave the whole picture in view, or most of it (resized, re-encoded,
  cut by up to a third, turned, recoloured, greyed, mirrored, captioned,
  bordered, blurred, stickered, stretched, photographed at a slight angle,
  shrunk to a thumbnail). A person would call each the same picture posted again.
  Cuts too plain to be told apart (under :data:`MIN_KEYPOINTS` SIFT keypoints:
  a patch of sky or wall) are left out.
- **Known non-groups**, pairs that look alike and a person would not put
  together: neighbouring cuts of one photo (every photo gives several);
  *overlapping cuts*, two cuts of one photo sharing 15-25 % of their area (a
  few photos give pairs of those instead of a tiling); the same cut of the two
  views of skimage's stereo pair (one scene from nearby viewpoints); and
  drawings on one template. Composites (a collage tile, a picture inset in
  another) are left out: the embedding of a collage is not near its tile's,
  and whether a person groups them is a matter of taste.

Names carry the truth: ``{group}__{member}.jpg``, where ``group`` is the base
picture (``p{photo}c{cut}`` for photo cuts, ``d{seed}`` for drawings, the
stereo cuts ``s{side}c{cut}``) and member 0 is the base itself.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).parent))

from photoset import SAME_SCENE, load_photos

from img2img.postings.features import extract_features
from img2img.testing.drawings import drawing
from img2img.testing.edits import apply_edit
from img2img.testing.reposts import apply_repost

__all__ = ["Posting", "crowd", "group_of", "overlapping_pairs"]

#: Forms of reposting that keep the whole picture, or most of it, in view.
REPOST_FORMS = (
    "perspective5", "perspective10", "stretch1:1", "stretch16:9", "crop35", "thumb160",
    "meme", "generations5", "blur", "noise", "stickers", "rotate90",
)  # fmt: skip
EDIT_FORMS = (
    "resize", "jpeg70", "jpeg30", "crop90", "crop70", "rotate+10", "rotate-10", "colour",
    "grey", "mirror", "text", "border",
)  # fmt: skip
#: Shortest side of a cut of a photo, in pixels of the photo (enlarged first to
#: :data:`PHOTO_SIDE` on its short side, so cuts of a small photo are not tiny).
MIN_CUT = 150
PHOTO_SIDE = 960
#: Fewest SIFT keypoints of a cut kept as a picture: plainer cuts (a patch of
#: sky, of a wall) are left out, as too plain to be told apart by anyone.
MIN_KEYPOINTS = 150
#: Every how many photos gives pairs of overlapping cuts instead of a tiling.
OVERLAP_EVERY = 6


@dataclass(frozen=True)
class Posting:
    name: str  # "{group}__{member}"
    make: object  # () -> Image.Image, so the set is made one picture at a time


def group_of(name: str) -> str:
    """The planted group of a posting's name (its base picture)."""
    return name.split("__", 1)[0]


def _look(image: Image.Image, rng: random.Random) -> Image.Image:
    """A base picture as first posted: turned, recoloured, maybe mirrored."""
    out = image.rotate(rng.choice((0, 0, 0, 15, -20, 90, 180)), expand=True, fillcolor=(0, 0, 0))
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.5, 1.5))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    return ImageOps.mirror(out) if rng.random() < 0.3 else out


Box = tuple[int, int, int, int]


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _shared(a: Box, b: Box) -> int:
    return _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def _random_box(size: tuple[int, int], rng: random.Random) -> Box | None:
    width, height = size
    if min(width, height) < 3 * MIN_CUT:
        return None
    w = rng.randint(max(MIN_CUT, int(width * 0.12)), max(MIN_CUT, int(width * 0.3)))
    h = rng.randint(max(MIN_CUT, int(height * 0.12)), max(MIN_CUT, int(height * 0.3)))
    left, top = rng.randint(0, width - w), rng.randint(0, height - h)
    return (left, top, left + w, top + h)


def tiling(size: tuple[int, int], rng: random.Random, tries: int = 2000) -> list[Box]:
    """Cuts of a picture of ``size`` that share no pixel, placed at random."""
    boxes: list[Box] = []
    for _ in range(tries):
        box = _random_box(size, rng)
        if box is not None and all(_shared(box, other) == 0 for other in boxes):
            boxes.append(box)
    return boxes


def overlapping_pairs(size: tuple[int, int], rng: random.Random, tries: int = 2000) -> list[Box]:
    """Pairs of cuts (boxes 2i and 2i+1) sharing 15-25 % of their area, pairs apart."""
    boxes: list[Box] = []
    for _ in range(tries):
        first = _random_box(size, rng)
        if first is None:
            break
        w, h = first[2] - first[0], first[3] - first[1]
        share = rng.uniform(0.15, 0.25)  # of the area: shift along one axis
        if rng.random() < 0.5:
            shift = round(w * (1 - share))
            second = (first[0] + shift, first[1], first[2] + shift, first[3])
        else:
            shift = round(h * (1 - share))
            second = (first[0], first[1] + shift, first[2], first[3] + shift)
        if second[2] > size[0] or second[3] > size[1]:
            continue
        if all(_shared(b, o) == 0 for b in (first, second) for o in boxes):
            boxes += [first, second]
    return boxes


def _textured(cut: Image.Image) -> bool:
    """Whether a cut has detail enough to tell it from another (not a patch of plain sky)."""
    return len(extract_features(cut)) >= MIN_KEYPOINTS


def _enlarged(photo: Image.Image) -> Image.Image:
    scale = PHOTO_SIDE / min(photo.size)
    if scale <= 1:
        return photo
    size = (round(photo.width * scale), round(photo.height * scale))
    return photo.resize(size, Image.Resampling.BICUBIC)


def _reposts(rng: random.Random, photo: bool) -> int:
    """How many times a base picture was posted again: photos travel further."""
    if photo:
        return 0 if rng.random() < 0.15 else rng.randint(1, 18)
    return 0 if rng.random() < 0.6 else rng.randint(1, 4)


def _repost(base: Image.Image, form: str, seed: int) -> Image.Image:
    if form in EDIT_FORMS:
        return apply_edit(base, form, seed=seed)
    return apply_repost(base, form, seed=seed)


def _group(
    group: str, base: object, count: int, rng: random.Random, seed: int
) -> Iterator[Posting]:
    forms = rng.sample(REPOST_FORMS + EDIT_FORMS, count)
    cached: dict[str, Image.Image] = {}

    def made() -> Image.Image:
        if "base" not in cached:
            cached["base"] = base()  # type: ignore[operator]
        return cached["base"]

    yield Posting(f"{group}__0", made)
    for member, form in enumerate(forms, start=1):
        yield Posting(
            f"{group}__{member}",
            lambda form=form, member=member: _repost(made(), form, seed + member),
        )


def crowd(records: int, seed: int = 0) -> tuple[list[Posting], list[tuple[str, str]]]:
    """About ``records`` postings (a whole group more at most), and the known
    non-group pairs of base names (overlapping cuts, stereo views)."""
    rng = random.Random(f"real-crowd:{seed}")
    photos, _ = load_photos()
    names = sorted(photos)
    stereo = {name for pair in SAME_SCENE for name in pair}
    postings: list[Posting] = []
    apart: list[tuple[str, str]] = []
    photo_groups: list[tuple[str, object]] = []
    left, right = (photos[n] for n in SAME_SCENE[0] if n in photos)
    for cut, box in enumerate(tiling(left.size, rng)):
        for side, view in (("l", left), ("r", right)):
            photo_groups.append((f"s{side}c{cut}", lambda view=view, box=box: view.crop(box)))
        apart.append((f"slc{cut}", f"src{cut}"))
    photos = {name: _enlarged(photo) for name, photo in photos.items()}
    for index, name in enumerate(names):
        photo = photos[name]
        if name in stereo:
            continue
        overlap = index % OVERLAP_EVERY == 0
        boxes = overlapping_pairs(photo.size, rng) if overlap else tiling(photo.size, rng)
        for cut, box in enumerate(boxes):
            if not _textured(photo.crop(box)) and not overlap:
                continue
            look = random.Random(f"{name}:{cut}")
            group = f"p{index}c{cut}"
            photo_groups.append(
                (group, lambda photo=photo, box=box, look=look: _look(photo.crop(box), look))
            )
            if overlap and cut % 2:
                apart.append((f"p{index}c{cut - 1}", group))
    for group, base in photo_groups:  # half the set at most
        if len(postings) >= records // 2:
            break
        postings += _group(group, base, _reposts(rng, True), rng, len(postings))
    art = 0
    while len(postings) < records:
        postings += _group(
            f"d{art}", lambda art=art: drawing(100_000 + art), _reposts(rng, False), rng, art
        )
        art += 1
    return postings, apart
