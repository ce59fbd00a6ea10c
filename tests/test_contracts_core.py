"""The contract suites, run against every core adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from img2img import (
    ClipEmbedder,
    EfficientNetEmbedder,
    FolderSource,
    HashEmbedder,
    ImageCandidate,
    InMemoryStore,
    StaticSource,
    UrlListSource,
)
from img2img.testing.contracts import EmbedderContract, ImageSourceContract, VectorStoreContract


class TestInMemoryStore(VectorStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        store = InMemoryStore()
        yield store
        store.close()


class TestHashEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> HashEmbedder:
        return HashEmbedder()


class TestEfficientNetEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, efficientnet: EfficientNetEmbedder) -> EfficientNetEmbedder:
        return efficientnet


class TestClipEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, tiny_clip: ClipEmbedder) -> ClipEmbedder:
        return tiny_clip


class TestStaticSource(ImageSourceContract):
    @pytest.fixture
    def source(self) -> StaticSource:
        urls = [f"https://img.example/{i}.jpg" for i in range(5)]
        return StaticSource([ImageCandidate(u) for u in urls + urls[:2]])


class TestFolderSource(ImageSourceContract):
    @pytest.fixture
    def source(self, photo_folder: Path) -> FolderSource:
        return FolderSource(photo_folder)


class TestUrlListSource(ImageSourceContract):
    @pytest.fixture
    def source(self) -> UrlListSource:
        return UrlListSource(
            {f"https://img.example/{i}.jpg": f"https://page.example/{i}" for i in range(4)}
        )
