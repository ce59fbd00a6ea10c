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
    local_files = True

    @pytest.fixture
    def source(self, photo_folder: Path) -> FolderSource:
        return FolderSource(photo_folder)


class TestUrlListSource(ImageSourceContract):
    @pytest.fixture
    def source(self) -> UrlListSource:
        return UrlListSource(
            {f"https://img.example/{i}.jpg": f"https://page.example/{i}" for i in range(4)}
        )


class _ListSource:
    """Returns a list: not lazy."""

    def discover(self, keyphrase: str, *, limit: int = 100) -> list[ImageCandidate]:
        return [ImageCandidate(f"https://img.example/{i}.jpg") for i in range(limit)][:5]


class _FileSource:
    """Yields ``file:`` URLs, though it does not say it reads local files."""

    def discover(self, keyphrase: str, *, limit: int = 100) -> Iterator[ImageCandidate]:
        for i in range(min(limit, 5)):
            yield ImageCandidate(f"file:///tmp/{i}.jpg")


def test_the_source_contract_catches_an_eager_source_and_file_urls() -> None:
    contract = ImageSourceContract()
    with pytest.raises(AssertionError, match="iterator"):
        contract.test_yields_lazily(_ListSource())  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match=r"file:///tmp/0\.jpg"):
        contract.test_yields_candidates_with_fetchable_urls(_FileSource())
    local = ImageSourceContract()
    local.local_files = True
    local.test_yields_candidates_with_fetchable_urls(_FileSource())
