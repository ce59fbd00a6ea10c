"""Local paths obey the limits downloads do: regular files only, a size cap while reading,
``~`` expanded, and only img2img errors whatever the path."""

from __future__ import annotations

import io
import os
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from img2img import ImageSearchClient
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    ConfigurationError,
    FetchError,
    ImageTooLargeError,
    InvalidImageError,
    ResponseTooLargeError,
    StoreError,
)
from img2img.loading import load_image, read_file
from img2img.net.fetch import HttpFetcher
from img2img.stores.local.store import LocalStore
from img2img.stores.memory import InMemoryStore

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux special files")


def png(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def client() -> ImageSearchClient:
    return ImageSearchClient(
        embedder=HashEmbedder(), store=InMemoryStore(), fetcher=HttpFetcher(), workers=2
    )


@linux_only
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: _capture(outcome, lambda: read_file(fifo)))
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], FetchError)
    assert "FIFO" in str(outcome[0])


def _capture(into: list[BaseException], action: object) -> None:
    try:
        action()  # type: ignore[operator]
    except BaseException as exc:
        into.append(exc)


@linux_only
@pytest.mark.parametrize(
    ("path", "kind"), [("/dev/zero", "character device"), ("/dev/null", "character device")]
)
def test_devices_are_refused(path: str, kind: str) -> None:
    with pytest.raises(FetchError, match=kind):
        read_file(Path(path))


@linux_only
def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.png"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    try:
        with pytest.raises(FetchError, match=str(path)):
            read_file(path)
    finally:
        server.close()


@linux_only
def test_the_cap_holds_while_reading_not_only_by_size(tmp_path: Path) -> None:
    # /proc files say they are empty and are not: only a cap kept while
    # reading stops them, as it stops a file that grows after it was measured.
    maps = Path("/proc/self/maps")
    assert maps.stat().st_size == 0
    with pytest.raises(ResponseTooLargeError, match="grew past the limit of 100 bytes"):
        read_file(maps, max_bytes=100)


def test_a_file_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png() + b"\x00" * 5000)
    with pytest.raises(ResponseTooLargeError, match="over the limit of 1,000"):
        read_file(path, max_bytes=1000)
    assert read_file(path, max_bytes=10_000) == path.read_bytes()


def test_missing_files_and_folders_are_fetch_errors(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no such file"):
        read_file(tmp_path / "nothing.png")
    with pytest.raises(FetchError, match="folder"):
        read_file(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_a_fetch_error(tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    path.write_bytes(png())
    path.chmod(0)
    with pytest.raises(FetchError, match="permission denied"):
        read_file(path)


@linux_only
def test_add_keeps_going_past_special_files(client: ImageSearchClient, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(png())
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    report = client.add([fifo, "/dev/zero", "file:///dev/urandom", good, tmp_path / "gone.png"])
    assert report.indexed == 1
    reasons = sorted(f.reason for f in report.failures)
    assert len(reasons) == 4
    assert {f.stage for f in report.failures} == {"fetch"}
    assert any("FIFO" in r for r in reasons)
    assert sum("character device" in r for r in reasons) == 2


# -- ~ in paths -----------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def test_add_and_search_expand_the_home_folder(client: ImageSearchClient, home: Path) -> None:
    (home / "photos").mkdir()
    (home / "photos" / "red.png").write_bytes(png())
    (home / "blue.png").write_bytes(png((20, 20, 220)))
    report = client.add(["~/photos", Path("~/blue.png")])
    assert (report.indexed, report.failures) == (2, ())
    assert client.search("~/blue.png", k=1)[0].title == "blue.png"
    # The query's own record, found under the expanded path, is left out of its postings.
    own = client.find_postings(Path("~/photos/red.png"))
    assert own.candidates >= 1
    assert [p.title for p in own] == []


def test_a_store_path_expands_the_home_folder(home: Path) -> None:
    with LocalStore("~/stores/index.sqlite3") as store:
        assert store.path == home / "stores" / "index.sqlite3"
    assert (home / "stores" / "index.sqlite3").is_file()


def test_a_store_under_a_regular_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=r"notes\.txt is a file, not a folder"):
        LocalStore(blocker / "index.sqlite3")
    with pytest.raises(StoreError, match=r"notes\.txt is a file, not a folder"):
        LocalStore(blocker / "deeper" / "index.sqlite3")
    assert blocker.read_text() == "not a folder"
    with pytest.raises(ConfigurationError, match="takes a path"):
        LocalStore(42)  # type: ignore[arg-type]


# -- what search accepts ---------------------------------------------------------------


class NoFetcher:
    def fetch(self, url: str) -> bytes:
        raise AssertionError("nothing should be downloaded")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("shape", "mode_colour"),
    [((12, 20), 90), ((12, 20, 3), (10, 200, 30)), ((12, 20, 4), (10, 200, 30, 255))],
)
def test_search_takes_uint8_arrays(shape: tuple[int, ...], mode_colour: object) -> None:
    array = np.zeros(shape, dtype=np.uint8)
    array[...] = mode_colour
    image = load_image(array, NoFetcher())
    assert image.mode == "RGB"
    assert image.size == (20, 12)


def test_a_transparent_array_is_flattened_on_white() -> None:
    array = np.zeros((4, 4, 4), dtype=np.uint8)  # black, fully transparent
    assert load_image(array, NoFetcher()).getpixel((1, 1)) == (255, 255, 255)


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((4, 4), dtype=np.float32),
        np.zeros((4, 4, 2), dtype=np.uint8),
        np.zeros((4,), dtype=np.uint8),
        np.zeros((0, 4, 3), dtype=np.uint8),
        np.zeros((2, 2, 2, 3), dtype=np.uint8),
    ],
    ids=["float", "two-channels", "1-d", "empty", "4-d"],
)
def test_arrays_that_are_not_images_are_refused(array: np.ndarray) -> None:
    with pytest.raises(InvalidImageError):
        load_image(array, NoFetcher())


def test_a_huge_array_is_too_large() -> None:
    with pytest.raises(ImageTooLargeError):
        load_image(np.zeros((100, 100), dtype=np.uint8), NoFetcher(), max_pixels=5_000)


def test_search_takes_binary_files_within_the_cap(client: ImageSearchClient) -> None:
    # Nothing stored: searching reads the file, then finds nothing.
    assert client.search(io.BytesIO(png())) == []
    with pytest.raises(ResponseTooLargeError):
        load_image(io.BytesIO(png() + b"\x00" * 2000), NoFetcher(), max_bytes=1000)
    with pytest.raises(ConfigurationError, match="text mode"):
        load_image(io.StringIO("not bytes"), NoFetcher())
    closed = io.BytesIO(png())
    closed.close()
    with pytest.raises(FetchError, match="cannot read the file object"):
        load_image(closed, NoFetcher())


def test_search_opens_a_real_file_object(client: ImageSearchClient, tmp_path: Path) -> None:
    path = tmp_path / "red.png"
    path.write_bytes(png())
    client.add([path])
    with path.open("rb") as handle:
        assert client.search(handle, k=1)[0].title == "red.png"
