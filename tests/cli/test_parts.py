"""The command's parts in-process: exit-code rule, store addresses, embedder choice, links, progress."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from rich.console import Console

from img2img.cli.embedding import choose_embedder
from img2img.cli.exits import ExitCode, exit_code_for
from img2img.cli.parser import build_parser
from img2img.cli.progress import ClaimsProgressBar, IndexProgressBar
from img2img.cli.registry import COMMANDS
from img2img.cli.stores import StoreSpec, parse_store
from img2img.cli.tables import matches_table
from img2img.embedders.clip import ClipEmbedder
from img2img.embedders.efficientnet import EfficientNetEmbedder
from img2img.embedders.hashing import HashEmbedder
from img2img.errors import (
    ConfigurationError,
    EmbeddingSpaceMismatchError,
    ModelUnavailableError,
)
from img2img.models import EmbeddingSpace, IndexProgress, Match


@pytest.mark.parametrize(
    ("done", "failed", "code"),
    [(5, 0, ExitCode.OK), (0, 0, ExitCode.OK), (4, 1, ExitCode.PARTIAL), (0, 3, ExitCode.ERROR)],
)
def test_exit_code_rule(done: int, failed: int, code: ExitCode) -> None:
    assert exit_code_for(done, failed) == code


def test_store_addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_store("pinecone://photos") == StoreSpec("pinecone", "photos")
    spec = parse_store("Pinecone://photos/holiday-2024")
    assert (spec.kind, spec.location, str(spec)) == (
        "pinecone", "photos/holiday-2024", "pinecone://photos/holiday-2024"
    )  # fmt: skip
    assert parse_store("~/x.sqlite3") == StoreSpec("local", "~/x.sqlite3")
    monkeypatch.setenv("IMG2IMG_HOME", str(tmp_path / "home"))
    assert str(parse_store(None)) == str(tmp_path / "home" / "index.sqlite3")
    with pytest.raises(ConfigurationError):
        parse_store("  ")


def choice(*argv: str) -> argparse.Namespace:
    """The global options ``argv`` as the command parses them."""
    return build_parser(COMMANDS).parse_args([*argv, "info"])


def space_of(model_id: str, dimension: int = 512) -> EmbeddingSpace:
    return EmbeddingSpace(model_id, dimension)


def test_the_store_s_model_is_rebuilt() -> None:
    none = choice()
    assert isinstance(
        choose_embedder(none, space_of("efficientnet-lite0/imagenet", 1280)), EfficientNetEmbedder
    )
    rebuilt = choose_embedder(none, space_of("hash/32/seed-7", 32))
    assert isinstance(rebuilt, HashEmbedder)
    assert rebuilt.model_id == "hash/32/seed-7"
    clip = choose_embedder(none, space_of("open_clip/ViT-B-32/random"))
    assert isinstance(clip, ClipEmbedder)
    assert (clip.model_name, clip.pretrained) == ("ViT-B-32", None)


def test_options_that_disagree_with_the_store_are_refused() -> None:
    effnet = space_of("efficientnet-lite0/imagenet", 1280)
    with pytest.raises(EmbeddingSpaceMismatchError, match="Leave out --embedder"):
        choose_embedder(choice("--embedder", "clip"), effnet)
    with pytest.raises(EmbeddingSpaceMismatchError, match="open_clip/ViT-B-16/random"):
        choose_embedder(choice("--clip-model", "ViT-B-16"), space_of("open_clip/ViT-B-32/random"))
    with pytest.raises(ConfigurationError, match="--clip-checkpoint PATH"):
        choose_embedder(choice(), space_of("open_clip/ViT-B-32/mine.safetensors"))
    with pytest.raises(ConfigurationError, match="cannot build"):
        choose_embedder(choice(), space_of("acme/secret-model"))


def test_a_checkpoint_named_by_the_store_is_used_from_the_path_given(tmp_path: Path) -> None:
    checkpoint = tmp_path / "mine.safetensors"
    checkpoint.write_bytes(b"weights")
    clip = choose_embedder(
        choice("--clip-checkpoint", str(checkpoint)),
        space_of("open_clip/ViT-B-32/mine.safetensors"),
    )
    assert isinstance(clip, ClipEmbedder)
    assert clip.pretrained == str(checkpoint)


def test_clip_hub_weights_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelUnavailableError, match="--embedder efficientnet"):
        choose_embedder(choice(), None)
    # Some other model's weights in the cache: the exact check decides, and says no.
    other = tmp_path / "hub/models--someone--other/snapshots/abc/open_clip_model.safetensors"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"")
    with pytest.raises(ModelUnavailableError, match="--clip-checkpoint PATH"):
        choose_embedder(choice("--embedder", "clip"), None)


def test_matches_are_clickable_links() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    match = Match("i", 0.93, image_url="https://cdn.x.com/a.jpg", page_url="https://x.com/post/1",
                  title="A postcard", domain="x.com")  # fmt: skip
    console.print(matches_table([match]))
    text = buffer.getvalue()
    assert "\x1b]8;" in text
    assert "https://x.com/post/1" in text
    assert "0.930" in text
    assert "A postcard" in text
    assert "x.com" in text


def test_progress_bar_follows_the_counts() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    with IndexProgressBar(console, "Indexing") as bar:
        bar(IndexProgress(discovered=10, stored=3, skipped=2, failed=1))
        bar(IndexProgress(discovered=12, stored=9, skipped=2, failed=1, done=True))
    assert "12/12" in buffer.getvalue()
    assert "9 indexed" in buffer.getvalue()
    silent = io.StringIO()
    with IndexProgressBar(Console(file=silent), "Indexing", enabled=False) as bar:
        bar(IndexProgress(discovered=1, stored=1))
    assert silent.getvalue() == ""


def test_claims_progress_bar_counts_other_pictures_as_done() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    with ClaimsProgressBar(console, "Checking claims") as bar:
        bar(IndexProgress(discovered=8, stored=2, refused=1))
        bar(IndexProgress(discovered=8, stored=5, refused=2, failed=1, done=True))
    shown = buffer.getvalue()
    assert "8/8" in shown
    assert "5 copies" in shown
    assert "2 other pictures" in shown
    assert "1 failed" in shown
