"""A query's regions described for the verifier: in the frame any picture of the
region's size gets, whatever shrinking the query went through, and a collage's
tile still verified as the picture the query ``contains``."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore
from img2img.images import WORKING_SIZE, decode_image
from img2img.postings.features import extract_features
from img2img.postings.judge import Judge, Picture
from img2img.postings.region_features import REGION_SIDE, describe_region
from img2img.postings.regions import Box, split_regions
from img2img.testing.edits import jpeg_bytes
from img2img.testing.reposts import apply_repost


def shrunk_at_decoding(image: Image.Image, side: int) -> Image.Image:
    """``image`` as a query of its bytes decodes: shrunk, its size as given kept."""
    decoded = decode_image(jpeg_bytes(image, quality=95), working_size=side)
    assert decoded.info["original_size"] == image.size
    assert max(decoded.size) == side
    return decoded


@pytest.fixture(scope="module")
def collage(photos: dict[str, Image.Image]) -> Image.Image:
    others = [photos[name] for name in ("brick", "moon", "retina")]
    return apply_repost(photos["chelsea"], "collage2x2", others=others, seed=1)


def test_a_region_is_described_in_the_frame_of_a_picture_of_its_size(
    photos: dict[str, Image.Image],
) -> None:
    image = photos["astronaut"]  # 512 x 512
    box = (0, 0, 400, 200)
    features = describe_region(image, box)
    assert features.source_size == (400, 200)
    assert features.size == (REGION_SIDE, round(200 * REGION_SIDE / 400))
    assert features.sketch is not None
    assert len(features) > 100
    assert (features.points >= 0).all()
    assert (features.points[:, 0] < features.size[0]).all()
    assert (features.points[:, 1] < features.size[1]).all()
    # A region smaller than the side is never enlarged; a side may be asked for.
    assert describe_region(image, (0, 0, 300, 150)).size == (300, 150)
    assert describe_region(image, box, side=512).size == (400, 200)


def test_a_region_of_a_query_shrunk_at_decoding_is_sized_in_its_decoded_pixels(
    photos: dict[str, Image.Image],
) -> None:
    given = photos["astronaut"].resize((1024, 1024))
    decoded = shrunk_at_decoding(given, 512)
    # The box is in the query's pixels as given: the left half.
    features = describe_region(decoded, (0, 0, 512, 1024))
    assert features.source_size == (256, 512)  # the half, in decoded pixels
    assert features.shrink == pytest.approx(features.size[0] / 256)
    alone = extract_features(decoded.crop((0, 0, 256, 512)))  # described at 512
    assert alone.size == (256, 512)
    assert features.size == (REGION_SIDE // 2, REGION_SIDE)


def test_a_collage_tile_verifies_as_the_picture_the_query_contains(
    photos: dict[str, Image.Image], collage: Image.Image
) -> None:
    cells = split_regions(collage)
    assert len(cells) == 4
    judge = Judge(Picture(collage))
    judgement = judge.judge(Picture(photos["chelsea"]), regions=cells)
    assert judgement.relation == "contains"
    assert judgement.evidence is not None
    assert judgement.evidence.region in cells or _near_a_cell(judgement.evidence.region, cells)
    # Another photo of the crowd is not in the collage, whichever region is tried.
    assert not judge.judge(Picture(photos["coffee"]), regions=cells).same


def test_a_collage_shrunk_at_decoding_still_verifies_by_its_tile_in_its_pixels_as_given(
    photos: dict[str, Image.Image],
) -> None:
    # A 3 x 3 collage whose clock the whole query does not verify (a ninth of it):
    # only the tile does. The query came as bytes (a file, a URL): decoded, it is
    # shrunk to WORKING_SIZE, as find_postings decodes every query given so.
    names = sorted(photos)
    others = [photos[name] for name in names if name != "clock"][:8]
    collage = apply_repost(photos["clock"], "collage3x3", others=others, seed=names.index("clock"))
    assert max(collage.size) > WORKING_SIZE
    decoded = shrunk_at_decoding(collage, WORKING_SIZE)
    judge = Judge(Picture(decoded))
    assert not judge.judge(Picture(photos["clock"])).same
    cells = split_regions(decoded)  # in the query's pixels as given
    judgement = judge.judge(Picture(photos["clock"]), regions=cells)
    assert judgement.relation == "contains"
    assert judgement.evidence is not None
    assert _near_a_cell(judgement.evidence.region, cells)


def _near_a_cell(region: Box | None, cells: list[Box]) -> bool:
    if region is None:
        return False
    side = max(max(cell[2], cell[3]) for cell in cells)
    return any(
        max(abs(a - b) for a, b in zip(region, cell, strict=True)) < 0.05 * side for cell in cells
    )


def test_a_collage_asked_as_a_file_finds_the_picture_of_its_tile(
    photos: dict[str, Image.Image], efficientnet: EfficientNetEmbedder, tmp_path: Path
) -> None:
    # The same collage end to end: a file is decoded at WORKING_SIZE, its tiles
    # shortlist the clock, and the clock's tile verifies it.
    names = sorted(photos)
    others = [photos[name] for name in names if name != "clock"][:8]
    collage = apply_repost(photos["clock"], "collage3x3", others=others, seed=names.index("clock"))
    stored = tmp_path / "stored"
    stored.mkdir()
    for name in ("clock", "coffee", "rocket", "chelsea"):
        photos[name].save(stored / f"{name}.jpg", quality=92)
    query = tmp_path / "collage.jpg"
    collage.save(query, quality=95)
    with ImageSearchClient(embedder=efficientnet, store=InMemoryStore()) as client:
        client.add([stored])
        found = {Path(p.image_url or "").stem: p for p in client.find_postings(query)}
    assert found["clock"].relation == "contains"
    assert found["clock"].region is not None
