"""FolderSource: which files a folder yields."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from img2img.images import decode_image, readable_suffixes
from img2img.sources.folder import FolderSource, candidate_for_path


def picture(path: Path, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (10, 120, 200)).save(path, format=fmt)
    return path


def test_hidden_files_and_thumbnail_caches_are_skipped(tmp_path: Path) -> None:
    kept = [
        picture(tmp_path / "a.jpg"),
        picture(tmp_path / "trip" / "b.PNG"),
        picture(tmp_path / "trip" / "deeper" / "c.webp"),
    ]
    for skipped in (
        ".hidden.jpg",
        "._a.jpg",  # macOS resource fork
        ".thumbnails/normal/x.png",
        "trip/.cache/y.png",
        "@eaDir/a.jpg/SYNOPHOTO_THUMB_M.jpg",
        "__MACOSX/trip/b.png",
    ):
        picture(tmp_path / skipped, "PNG")
    (tmp_path / "notes.txt").write_text("not a picture")
    assert FolderSource(tmp_path).paths() == sorted(kept)
    assert FolderSource(tmp_path, recursive=False).paths() == [kept[0]]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("p.avif", "AVIF"),
        ("p.jfif", "JPEG"),
        ("p.jpe", "JPEG"),
        ("p.tif", "TIFF"),
        ("p.heic", "HEIF"),
    ],
)
def test_every_format_the_decoder_reads_is_found_and_decodes(
    tmp_path: Path, name: str, fmt: str
) -> None:
    assert Path(name).suffix in readable_suffixes()
    path = picture(tmp_path / name, fmt)
    assert FolderSource(tmp_path).paths() == [path]
    assert decode_image(path.read_bytes()).size == (32, 24)


def test_heic_bytes_decode_without_a_file_name() -> None:
    buffer = io.BytesIO()
    readable_suffixes()  # registers the HEIF plugin, as decoding does
    Image.new("RGB", (16, 16), (200, 0, 0)).save(buffer, format="HEIF")
    assert decode_image(buffer.getvalue()).getpixel((8, 8))[0] > 150


def test_a_linked_folder_is_not_followed(tmp_path: Path) -> None:
    picture(tmp_path / "real" / "a.png")
    os.symlink(tmp_path / "real", tmp_path / "real" / "loop")
    assert FolderSource(tmp_path / "real").paths() == [tmp_path / "real" / "a.png"]


def test_a_local_candidate_records_size_and_time(tmp_path: Path) -> None:
    path = picture(tmp_path / "a.png")
    candidate = candidate_for_path(path)
    assert candidate.image_url == path.resolve().as_uri()
    assert candidate.extra == {"file_size": path.stat().st_size, "file_mtime": path.stat().st_mtime}
    assert candidate_for_path(tmp_path / "gone.png").extra == {}
