"""A picture pasted over a photo (a picture-in-picture) is split when indexed, with its box;
a plain photo is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.postings.insets import find_inset
from img2img.postings.regions import Box, query_regions, split_regions

#: Photos of scikit-image that are photos (not a logo or a colour wheel on white).
PLAIN = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "retina", "stereo_motorcycle", "camera", "coins", "moon", "clock", "brick",
)  # fmt: skip


def inset(
    base: Image.Image, picture: Image.Image, area: float, at: tuple[float, float], frame: int = 3
) -> tuple[Image.Image, Box]:
    """``picture`` pasted over ``base`` (fitted to 960 x 720) over ``area`` of it, its
    top-left corner at ``at`` (shares of the room left), with a white ``frame``; and
    the box of the picture (frame excluded)."""
    canvas = ImageOps.fit(base.convert("RGB"), (960, 720))
    scale = (area * 960 * 720 / (picture.width * picture.height)) ** 0.5
    inner = picture.convert("RGB").resize(
        (round(picture.width * scale), round(picture.height * scale)), Image.Resampling.LANCZOS
    )
    framed = ImageOps.expand(inner, border=frame, fill=(255, 255, 255)) if frame else inner
    left = round(at[0] * (960 - framed.width))
    top = round(at[1] * (720 - framed.height))
    canvas.paste(framed, (left, top))
    box = (left + frame, top + frame, left + frame + inner.width, top + frame + inner.height)
    return canvas, box


def near(found: Box, truth: Box, pixels: int = 4) -> bool:
    return max(abs(a - b) for a, b in zip(found, truth, strict=True)) <= pixels


@pytest.mark.parametrize(
    ("picture", "base", "area", "at"),
    [
        ("chelsea", "brick", 0.15, (0.2, 0.7)),
        ("astronaut", "coffee", 0.30, (0.9, 0.1)),
        ("rocket", "chelsea", 0.40, (0.5, 0.5)),
        ("coffee", "astronaut", 0.20, (0.05, 0.95)),
    ],
)
def test_a_picture_pasted_over_a_photo_is_split_with_its_box(
    photos: dict[str, Image.Image], picture: str, base: str, area: float, at: tuple[float, float]
) -> None:
    composite, box = inset(photos[base], photos[picture], area, at)
    regions = split_regions(composite)
    assert len(regions) == 1
    assert near(regions[0], box), (regions, box)


@pytest.mark.parametrize(("picture", "base"), [("astronaut", "chelsea"), ("rocket", "moon")])
def test_a_frameless_inset_is_split_too_where_its_edges_stand_out(
    photos: dict[str, Image.Image], picture: str, base: str
) -> None:
    # Without a frame an edge shows only where the two pictures differ: about half
    # of the benchmark's frameless insets are found (a brick wall behind one is not).
    composite, box = inset(photos[base], photos[picture], 0.3, (0.3, 0.6), frame=0)
    regions = split_regions(composite)
    assert len(regions) == 1
    assert near(regions[0], box)


def test_the_box_is_in_the_pictures_pixels_as_given_when_decoded_smaller(
    photos: dict[str, Image.Image],
) -> None:
    composite, box = inset(photos["coffee"], photos["chelsea"], 0.25, (0.6, 0.3))
    # As decoding leaves a big picture: shrunk, its size before kept.
    shrunk = composite.resize((480, 360), Image.Resampling.BOX)
    shrunk.info["original_size"] = composite.size
    (found,) = split_regions(shrunk)
    assert near(found, box, pixels=6)


@pytest.mark.parametrize("name", PLAIN)
def test_a_plain_photo_is_not_split(photos: dict[str, Image.Image], name: str) -> None:
    assert split_regions(photos[name]) == []


def test_a_rectangle_without_four_straight_sides_is_not_an_inset() -> None:
    rng = np.random.default_rng(3)
    grey = rng.normal(120, 8, (384, 512)).astype(np.float32)
    grey[100:250, 150:380] += 60
    assert find_inset(grey, (61, 46), 0.5) == (150, 100, 380, 250)  # four sides: an inset
    # The same with its top fading in over half its length (a lit window, a shadow).
    grey[100:130, 150:265] -= np.linspace(60, 0, 30, dtype=np.float32)[:, None]
    assert find_inset(grey, (61, 46), 0.5) is None
    # A shape a drawing is made of: a flat fill with a door, outlined.
    house = np.full((384, 512), 230, np.float32)
    house[100:250, 150:380] = 0
    house[103:247, 153:377] = 140
    house[180:247, 240:280] = 60
    assert find_inset(house, (61, 46), 0.5) is None
    # Four straight sides around too little or too much of the picture.
    tiny = np.full((384, 512), 90, np.float32)
    tiny[10:40, 10:40] = 250
    assert find_inset(tiny, (61, 46), 0.5) is None
    big = np.full((384, 512), 90, np.float32)
    big[5:380, 5:500] = 250
    assert find_inset(big, (61, 46), 0.5) is None


def test_a_query_with_an_inset_is_searched_by_it_and_by_tiles(
    photos: dict[str, Image.Image],
) -> None:
    composite, box = inset(photos["brick"], photos["chelsea"], 0.3, (0.4, 0.4))
    searched = query_regions(composite)
    assert len(searched) == 1 + 13
    assert near(searched[0], box)


STORED = ("astronaut", "coffee", "rocket", "camera", "coins")


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory,
    photos: dict[str, Image.Image],
    efficientnet: EfficientNetEmbedder,
) -> Iterator[tuple[ImageSearchClient, Box]]:
    folder = tmp_path_factory.mktemp("insets")
    for name in STORED:
        photos[name].save(folder / f"{name}.jpg", quality=92)
    composite, box = inset(photos["brick"], photos["chelsea"], 0.2, (0.7, 0.2))
    composite.save(folder / "inset.jpg", quality=92)
    with ImageSearchClient(embedder=efficientnet, store=InMemoryStore()) as client:
        assert client.add([folder]).indexed == len(STORED) + 1
        yield client, box


def test_a_stored_inset_is_stored_as_a_region_and_found_as_part(
    client: tuple[ImageSearchClient, Box], photos: dict[str, Image.Image]
) -> None:
    searcher, box = client
    # One region, the inset's, beside the six pictures; the plain photos have none.
    assert searcher.store.count() == len(STORED) + 1 + 1
    found = {Path(p.image_url or "").stem: p for p in searcher.find_postings(photos["chelsea"])}
    posting = found["inset"]
    assert posting.relation == "part"
    assert posting.region is not None
    assert near(posting.region, box)


def test_of_two_rectangles_one_inside_the_other_the_larger_is_the_inset_unless_flat() -> None:
    # Both closed by four straight sides: the larger, unless it is one flat fill (a
    # drawing's panel around a picture), then the picture inside it.
    rng = np.random.default_rng(5)
    for flat, wanted in ((False, (80, 60, 420, 300)), (True, (160, 120, 330, 230))):
        grey = rng.normal(120, 10, (384, 512)).astype(np.float32)
        if flat:
            grey[60:300, 80:420] = 200  # 41 % of the picture
        else:
            grey[60:300, 80:420] += 70
        grey[120:230, 160:330] = rng.normal(60, 12, (110, 170))  # 9.5 %
        assert find_inset(grey, (61, 46), 0.5) == wanted
        levels = np.clip(grey, 0, 255).astype(np.uint8)  # as split_regions hands it
        assert find_inset(levels, (61, 46), 0.5) == wanted
