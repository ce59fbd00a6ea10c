"""decode_image and to_rgb: hostile, broken and unusual images in; upright RGB or a clear error out."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from img2img.errors import ImageTooLargeError, InvalidImageError
from img2img.images import WORKING_SIZE, decode_image, sniff_image_type, to_rgb
from img2img.loading import load_image
from img2img.postings.features import FEATURE_SIDE
from stand_ins import encode, png_declaring


def halves(size: tuple[int, int] = (40, 20)) -> Image.Image:
    """Left half red, right half blue: any rotation or flip shows."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    return image


def colour(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    pixel = image.convert("RGB").getpixel(xy)
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def near(actual: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- bombs and junk ---------------------------------------------------------------------


@pytest.mark.parametrize("side", [9_000, 100_000])
def test_decompression_bomb_is_refused_from_the_header(side: int) -> None:
    bomb = png_declaring(side, side, colour_type=2)
    assert len(bomb) < 200
    with pytest.raises(ImageTooLargeError, match="pixels"):
        decode_image(bomb)


def test_pixel_limit_is_the_callers() -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    assert decode_image(data, max_pixels=10_000).size == (100, 100)
    with pytest.raises(ImageTooLargeError):
        decode_image(data, max_pixels=9_999)


def test_bomb_beyond_pillows_own_limit_is_still_our_error() -> None:
    with pytest.raises(ImageTooLargeError):
        decode_image(png_declaring(200_000, 200_000, colour_type=2), max_pixels=10**12)


def test_truncated_jpeg_is_invalid() -> None:
    data = encode(halves((400, 300)), "JPEG", quality=90)
    with pytest.raises(InvalidImageError, match="corrupt"):
        decode_image(data[: len(data) // 2])


def test_jpeg_with_garbage_after_the_header_is_invalid() -> None:
    data = encode(halves((64, 64)), "JPEG")
    corrupt = data[:200] + bytes(range(256)) * 8
    with pytest.raises(InvalidImageError):
        decode_image(corrupt)


@pytest.mark.parametrize(
    "data",
    [b"<!doctype html><html><body>hi</body></html>", b"%PDF-1.7\n", b"\x00" * 100, b"GIF89a"],
)
def test_non_images_are_invalid(data: bytes) -> None:
    with pytest.raises(InvalidImageError):
        decode_image(data)


def test_empty_bytes_are_invalid() -> None:
    with pytest.raises(InvalidImageError, match="empty"):
        decode_image(b"")


def test_formats_outside_the_web_set_are_not_opened() -> None:
    # Pillow can read TGA and PPM, but image URLs have no business serving them
    # and each extra parser is more attack surface.
    for fmt in ("TGA", "PPM"):
        data = encode(Image.new("RGB", (8, 8), (9, 9, 9)), fmt)
        assert Image.open(io.BytesIO(data)).format == fmt
        with pytest.raises(InvalidImageError, match="not a supported image"):
            decode_image(data)


# --- orientation, frames, modes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "size", "top_left", "bottom_right"),
    [
        (1, (40, 20), (255, 0, 0), (0, 0, 255)),
        (3, (40, 20), (0, 0, 255), (255, 0, 0)),  # rotated 180
        (6, (20, 40), (255, 0, 0), (0, 0, 255)),  # rotate 90 CW to view: left becomes top
        (8, (20, 40), (0, 0, 255), (255, 0, 0)),  # rotate 90 CCW to view: right becomes top
    ],
)
def test_exif_orientation_is_applied(
    orientation: int,
    size: tuple[int, int],
    top_left: tuple[int, int, int],
    bottom_right: tuple[int, int, int],
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(halves(), "JPEG", quality=95, exif=exif)
    image = decode_image(data)
    assert image.size == size
    assert image.info["original_size"] == size  # recorded upright too
    assert near(colour(image, (1, 1)), top_left)
    assert near(colour(image, (size[0] - 2, size[1] - 2)), bottom_right)


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    image = decode_image(data)
    assert image.mode == "RGB"
    assert near(colour(image, (8, 8)), (255, 0, 0), tolerance=5)


def test_a_pil_image_on_a_later_frame_is_rewound() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    gif = Image.open(io.BytesIO(encode(frames[0], "GIF", save_all=True, append_images=frames[1:])))
    gif.seek(1)
    assert near(colour(to_rgb(gif), (8, 8)), (255, 0, 0), tolerance=5)


def test_rgba_is_flattened_on_white() -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 5, 10))
    decoded = decode_image(encode(image, "PNG"))
    assert decoded.mode == "RGB"
    assert colour(decoded, (8, 5)) == (255, 255, 255)
    assert colour(decoded, (2, 5)) == (0, 128, 0)


def test_palette_with_transparency_is_flattened_on_white() -> None:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    image.paste(1, (0, 0, 5, 10))
    data = encode(image, "PNG", transparency=0)
    assert "transparency" in Image.open(io.BytesIO(data)).info
    decoded = decode_image(data)
    assert colour(decoded, (8, 5)) == (255, 255, 255)
    assert colour(decoded, (2, 5)) == (200, 30, 30)


def test_cmyk_jpeg_becomes_the_same_colour_in_rgb() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    assert near(colour(decode_image(data), (8, 8)), (255, 0, 0))


def test_16_bit_grayscale_png_keeps_its_tones() -> None:
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16)[None, :].repeat(8, axis=0)
    data = encode(Image.fromarray(ramp), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    decoded = np.asarray(decode_image(data))
    assert decoded.shape == (8, 64, 3)
    # Pillow's plain convert() would clip nearly all of these to 255.
    assert decoded[0, 0, 0] == 0
    assert 120 <= decoded[0, 32, 0] <= 135
    assert decoded[0, -1, 0] == 255
    assert (np.diff(decoded[0, :, 0].astype(int)) >= 0).all()


@pytest.mark.parametrize("mode", ["L", "1", "LA"])
def test_grayscale_modes_become_rgb(mode: str) -> None:
    image = Image.new(mode, (12, 12), 0 if mode != "LA" else (0, 255))
    image.paste(255 if mode != "LA" else (255, 255), (6, 0, 12, 12))
    decoded = decode_image(encode(image, "PNG"))
    assert decoded.mode == "RGB"
    assert colour(decoded, (2, 2)) == (0, 0, 0)
    assert colour(decoded, (9, 2)) == (255, 255, 255)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_every_web_format_decodes(fmt: str) -> None:
    data = encode(halves(), fmt)
    decoded = decode_image(data)
    assert decoded.size == (40, 20)
    assert near(colour(decoded, (2, 10)), (255, 0, 0))
    assert near(colour(decoded, (37, 10)), (0, 0, 255))
    assert sniff_image_type(data[:32]) == {"JPEG": "jpeg"}.get(fmt, fmt.lower())


def test_big_photos_are_shrunk_to_the_working_size_but_remember_their_size() -> None:
    data = encode(halves((3000, 1500)), "JPEG")
    decoded = decode_image(data, working_size=512)
    assert max(decoded.size) == 512
    assert decoded.info["original_size"] == (3000, 1500)
    assert decode_image(data, working_size=None).size == (3000, 1500)


@pytest.mark.parametrize(
    ("orientation", "size", "original", "top", "bottom"),  # colours of two corners
    [
        (1, (512, 256), (3000, 1500), (255, 0, 0), (0, 0, 255)),  # left red, right blue
        (6, (256, 512), (1500, 3000), (255, 0, 0), (0, 0, 255)),  # 90 CW to view: left on top
        (8, (256, 512), (1500, 3000), (0, 0, 255), (255, 0, 0)),  # 90 CCW to view: right on top
    ],
)
def test_big_jpegs_are_drafted_to_the_working_size_and_still_upright(
    orientation: int,
    size: tuple[int, int],
    original: tuple[int, int],
    top: tuple[int, int, int],
    bottom: tuple[int, int, int],
) -> None:
    # 3000 px is over four times the working size: JPEG draft mode decodes it
    # at a quarter of its size before orientation is applied and the rest shrunk.
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(halves((3000, 1500)), "JPEG", quality=95, exif=exif)
    image = decode_image(data)
    assert max(image.size) == WORKING_SIZE
    assert image.size == size
    assert image.mode == "RGB"
    assert image.info["original_size"] == original  # the size as seen, upright
    assert near(colour(image, (2, 2)), top)
    assert near(colour(image, (image.width - 3, image.height - 3)), bottom)


def test_big_photos_of_any_format_shrink_to_the_picture_itself(
    photos: dict[str, Image.Image],
) -> None:
    photo = photos["retina"]  # 1411 px, as PNG: no draft mode, every pixel decoded
    image = decode_image(encode(photo, "PNG"))
    assert image.size == (WORKING_SIZE, WORKING_SIZE)
    assert image.mode == "RGB"
    assert image.info["original_size"] == photo.size
    expected = np.asarray(photo.resize(image.size, Image.Resampling.LANCZOS), dtype=np.int16)
    assert np.abs(np.asarray(image, dtype=np.int16) - expected).mean() < 2


@pytest.mark.parametrize("width", [900, 3000])  # shrunk by less than two; by almost six
def test_shrinking_averages_detail_finer_than_a_pixel_instead_of_sampling_it(width: int) -> None:
    columns = np.tile(np.array([0, 255], dtype=np.uint8), width // 2)
    stripes = Image.fromarray(np.tile(columns, (width // 2, 1)), "L").convert("RGB")
    image = np.asarray(decode_image(encode(stripes, "PNG")), dtype=np.float64)
    assert image.shape == (WORKING_SIZE // 2, WORKING_SIZE, 3)
    assert abs(image.mean() - 127.5) < 10
    assert image.min() > 60
    assert image.max() < 195


def test_the_working_size_keeps_what_the_picture_cache_needs() -> None:
    # Thumbnails and local features are made from the decoded image: shrinking
    # it below their size would lose detail the verifier relies on.
    assert WORKING_SIZE >= FEATURE_SIDE


def test_premultiplied_alpha_modes_become_rgb() -> None:
    # Pillow cannot convert "La" straight to RGBA or L.
    image = Image.new("LA", (4, 4), (200, 255)).convert("La")
    assert image.mode == "La"
    rgb = to_rgb(image)
    assert rgb.mode == "RGB"
    assert colour(rgb, (1, 1)) == (200, 200, 200)


def test_load_image_refuses_a_huge_pil_image_as_too_large() -> None:
    class NoFetcher:
        def fetch(self, url: str) -> bytes:
            raise AssertionError("no download expected")

        def close(self) -> None:
            pass

    with pytest.raises(ImageTooLargeError):
        load_image(Image.new("L", (200, 200)), NoFetcher(), max_pixels=1000)


# --- sniffing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "avif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "heic"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00", None),  # an MP4 video
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"BM", None),  # too short to be a BMP header
        (b"", None),
    ],
)
def test_sniff_image_type(head: bytes, kind: str | None) -> None:
    assert sniff_image_type(head) == kind


def test_sniff_never_raises_on_random_prefixes() -> None:
    rng = np.random.default_rng(7)
    sniffers: list[Callable[[bytes], str | None]] = [sniff_image_type]
    for _ in range(2000):
        head = rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes()
        for sniff in sniffers:
            assert sniff(head) in {
                None,
                "jpeg",
                "png",
                "gif",
                "webp",
                "bmp",
                "tiff",
                "avif",
                "heic",
            }
