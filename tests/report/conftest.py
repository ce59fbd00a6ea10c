"""A small store of real photos with copies and hostile titles, and the reports drawn from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from img2img import EfficientNetEmbedder, ImageCandidate, ImageSearchClient, LocalStore

HOSTILE_TITLE = '<script>window.pwned = "title"</script>" onerror="window.pwned=\'attr\'" x="'
HOSTILE_IMG = "<img src=x onerror=\"window.pwned='img'\">"


@dataclass
class Stocked:
    client: ImageSearchClient
    query: Path
    folder: Path
    pages: dict[str, str]


def _save(image: Image.Image, path: Path, quality: int = 85) -> str:
    image.convert("RGB").save(path, format="JPEG", quality=quality)
    return path.resolve().as_uri()


@pytest.fixture(scope="module")
def stocked(
    tmp_path_factory: pytest.TempPathFactory,
    efficientnet: EfficientNetEmbedder,
    photos: dict[str, Image.Image],
) -> Iterator[Stocked]:
    """The astronaut posted three times (re-encoded, resized, cropped), with titles that
    try to run script; the coffee photo posted twice with equal bytes; other photos once."""
    folder = tmp_path_factory.mktemp("report")
    astronaut = photos["astronaut"].convert("RGB")
    width, height = astronaut.size
    query = folder / "query.jpg"
    _save(astronaut, query)
    posted = folder / "posted"
    posted.mkdir()
    copies = {
        "resized.jpg": astronaut.resize((width // 2, height // 2), Image.Resampling.LANCZOS),
        "cropped.jpg": astronaut.crop((width // 8, height // 10, width - width // 6, height)),
        "reencoded.jpg": astronaut,
    }
    pages = {
        "resized.jpg": "https://news.example/2024/astronaut",
        "cropped.jpg": "javascript:alert(1)",
        "reencoded.jpg": "https://blog.example/posts/space?a=1&b=2",
    }
    titles = {
        "resized.jpg": HOSTILE_TITLE,
        "cropped.jpg": HOSTILE_IMG,
        "reencoded.jpg": "A plain title",
    }
    candidates = [
        ImageCandidate(
            image_url=_save(image, posted / name, quality=60),
            page_url=pages[name],
            title=titles[name],
            domain=pages[name].split("/")[2] if "://" in pages[name] else None,
            extra={"found_by": "GoogleLensSource", "claimed_as": "exact"},
        )
        for name, image in copies.items()
    ]
    for name in ("coffee", "chelsea", "rocket"):
        candidates.append(
            ImageCandidate(
                image_url=_save(photos[name], posted / f"{name}.jpg"),
                page_url=f"https://misc.example/{name}",
                title=name,
                domain="misc.example",
            )
        )
    (posted / "coffee-again.jpg").write_bytes((posted / "coffee.jpg").read_bytes())
    candidates.append(
        ImageCandidate(
            image_url=(posted / "coffee-again.jpg").resolve().as_uri(),
            page_url="https://other.example/coffee",
            title="coffee again",
            domain="other.example",
        )
    )
    store = LocalStore(folder / "index.sqlite3")
    with ImageSearchClient(embedder=efficientnet, store=store) as client:
        report = client.add(candidates, keyphrase="report")
        assert report.failed == 0, report.failures
        yield Stocked(client, query, posted, pages)
    store.close()
