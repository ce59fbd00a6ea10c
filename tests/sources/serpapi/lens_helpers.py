"""Helpers shared by the Google Lens tests."""

from __future__ import annotations

import io
from typing import Any

from img2img.sources.serpapi.google_lens import GoogleLensSource
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.photos import sample_photos

QUERY_URL = "https://photos.example.org/eiffel.jpg"


def lens_for(
    fake: FakeSerpApi, sleeps: list[float] | None = None, **options: Any
) -> GoogleLensSource:
    """A Lens source on ``fake`` whose retries record their waits instead of sleeping."""
    return fake.lens_source(sleep=(sleeps if sleeps is not None else []).append, **options)


def photo_bytes(name: str = "astronaut", format: str = "PNG") -> bytes:
    """A real photo from scikit-image, encoded."""
    buffer = io.BytesIO()
    sample_photos((name,))[name].save(buffer, format=format)
    return buffer.getvalue()


def entry(n: int, **fields: Any) -> dict[str, Any]:
    """One ``visual_matches``-shaped entry with distinct URLs for ``n``."""
    return {
        "position": n + 1,
        "title": f"page {n}",
        "link": f"https://site{n}.example/post/{n}",
        "source": f"Site {n}",
        "thumbnail": f"https://encrypted-tbn0.gstatic.com/images?q=tbn:{n}",
        "image": f"https://cdn.site{n}.example/{n}.jpg",
        "image_width": 800,
        "image_height": 600,
        **fields,
    }
