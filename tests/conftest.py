"""Shared fixtures: real photos, real (small) models, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.photos import sample_photos, save_photos

if TYPE_CHECKING:
    from PIL import Image

    from img2img import ClipEmbedder, EfficientNetEmbedder

TINY_CLIP = "img2img-tiny-clip"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Exported models go to a folder of this session, never the user's cache."""
    folder = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("IMG2IMG_CACHE_DIR")
    os.environ["IMG2IMG_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["IMG2IMG_CACHE_DIR"]
    else:
        os.environ["IMG2IMG_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """Fifteen real photos from scikit-image, as RGB images."""
    return sample_photos()


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the real photos as PNG files."""
    folder = tmp_path_factory.mktemp("photos")
    save_photos(folder)
    return folder


@pytest.fixture(scope="session")
def efficientnet() -> EfficientNetEmbedder:
    """The offline embedder with its real weights, loaded once per session."""
    from img2img import EfficientNetEmbedder

    return EfficientNetEmbedder()


@pytest.fixture(scope="session")
def tiny_clip_name() -> str:
    """Registers a tiny open_clip architecture (random weights) and returns its name."""
    import open_clip

    open_clip.add_model_config(DATA / "open_clip")
    return TINY_CLIP


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_name: str) -> ClipEmbedder:
    from img2img import ClipEmbedder

    return ClipEmbedder(tiny_clip_name, pretrained=None)


@pytest.fixture(scope="module")
def serpapi_server() -> Iterator[FakeSerpApi]:
    """One fake SerpAPI per test module: it takes a moment to stop."""
    with FakeSerpApi() as fake:
        yield fake


@pytest.fixture
def serp(serpapi_server: FakeSerpApi) -> FakeSerpApi:
    """The module's fake SerpAPI, serving 250 generated results, with no requests recorded yet."""
    serpapi_server.reset(total_results=250)
    return serpapi_server
