"""``index`` against a loopback SerpAPI, and ``--store pinecone://`` against a loopback Pinecone.

The command runs in its own process and reaches the fakes through the real
serpapi and pinecone clients, configured the way a user would: environment
variables and options.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import run_cli
from PIL import Image

from img2img.embedders.hashing import HashEmbedder
from img2img.models import EmbeddingSpace
from img2img.stores.pinecone.store import PineconeStore
from img2img.testing.fake_pinecone import FakePinecone
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply


@pytest.fixture
def jpegs(photos: dict[str, Image.Image]) -> list[bytes]:
    encoded = []
    for photo in list(photos.values())[:6]:
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=85)
        encoded.append(buffer.getvalue())
    return encoded


def web_of(jpegs: list[bytes], missing: set[int]) -> LoopbackServer:
    """Serves result n's image, and a 404 for the numbers in ``missing``."""

    def serve(request: RecordedRequest) -> Reply:
        number = int(re.findall(r"\d+", request.path)[-1])  # …/<slug>-<n>.jpg
        if number in missing:
            return Reply(status=404, body=b"gone")
        return Reply(body=jpegs[(number - 1) % len(jpegs)], headers={"Content-Type": "image/jpeg"})

    return LoopbackServer(serve)


@pytest.mark.parametrize(("missing", "code"), [(set(), 0), ({2}, 3), (set(range(1, 7)), 1)])
def test_index_through_serpapi(
    jpegs: list[bytes], store: Path, home: Path, missing: set[int], code: int
) -> None:
    with (
        web_of(jpegs, missing) as web,
        FakeSerpApi(total_results=6, image_base_url=web.url) as serp,
    ):
        done = run_cli(
            "--store", store, "index", "eiffel tower", "-n", "6", "--json",
            "--allow-network", "127.0.0.0/8", home=home,
            SERPAPI_API_KEY=serp.api_key, SERPAPI_BASE_URL=serp.url,
        )  # fmt: skip
        assert serp.requests[0].param("q") == "eiffel tower"
    assert done.code == code, done.err
    report = done.json()
    assert (report["discovered"], report["failed"]) == (6, len(missing))
    assert report["indexed"] == 6 - len(missing)
    if code == 0:
        listed = run_cli("--store", store, "list", "--all", "--json", home=home).json()
        assert {r["keyphrase"] for r in listed} == {"eiffel tower"}
        assert all(r["page_url"].startswith("https://") for r in listed)


def test_index_without_a_key_is_one_line_and_exit_1(store: Path, home: Path) -> None:
    done = run_cli("--store", store, "index", "cats", home=home)
    assert done.code == 1
    assert done.err == (
        "img2img: error: index searches Google Images through SerpAPI: set SERPAPI_API_KEY "
        "(your key is at https://serpapi.com/manage-api-key)\n"
    )


@pytest.fixture
def pinecone() -> Iterator[FakePinecone]:
    """A loopback Pinecone whose index ``photos`` records the test embedder in namespace ``mine``."""
    embedder = HashEmbedder(64)
    with FakePinecone(dimension=None, index_name="photos") as fake:
        with PineconeStore(
            "photos", namespace="mine", api_key=fake.api_key, controller_host=fake.url,
            create_if_missing=True,
        ) as store:  # fmt: skip
            store.set_embedding_space(EmbeddingSpace(embedder.model_id, embedder.dimension))
        yield fake


def test_pinecone_store_from_the_command_line(
    pinecone: FakePinecone, photos_copy: Path, home: Path
) -> None:
    env = {"PINECONE_API_KEY": pinecone.api_key, "PINECONE_CONTROLLER_HOST": pinecone.url}
    where = ("--store", "pinecone://photos/mine")
    added = run_cli(*where, "add", photos_copy, "--keyphrase", "k", "--json", home=home, **env)
    assert added.code == 0, added.err
    assert added.json()["indexed"] == 15
    assert len(pinecone.records("mine")) == 15

    found = run_cli(
        *where, "search", photos_copy / "moon.png", "-k", "2", "--json", home=home, **env
    )
    assert found.code == 0, found.err
    assert found.json()[0]["title"] == "moon.png"

    info = run_cli(*where, "info", "--json", home=home, **env).json()
    assert (info["store"], info["kind"], info["count"]) == (
        "pinecone://photos/mine",
        "pinecone",
        15,
    )
    assert (info["model"], info["size_bytes"]) == ("hash/64/seed-0", None)

    (photos_copy / "moon.png").rename(photos_copy / "moon-2.png")
    (photos_copy / "coins.png").unlink()
    synced = run_cli(*where, "sync", photos_copy, "--json", home=home, **env)
    assert synced.code == 0, synced.err
    assert (synced.json()["moved"], synced.json()["deleted"]) == (1, 1)
    titles = {r["metadata"]["title"] for r in pinecone.records("mine").values()}
    assert "moon-2.png" in titles
    assert "moon.png" not in titles
    assert "coins.png" not in titles

    typo = run_cli("--store", "pinecone://fotos/mine", "list", home=home, **env)
    assert typo.code == 1
    assert "no Pinecone index 'fotos' for --store pinecone://fotos/mine" in typo.err

    deleted = run_cli(*where, "delete", "--keyphrase", "k", "--json", home=home, **env)
    assert deleted.json()["count"] == 14
    assert run_cli(*where, "list", "--json", home=home, **env).json() == []


def test_pinecone_store_needs_a_key_and_a_well_formed_address(home: Path) -> None:
    no_key = run_cli("--store", "pinecone://photos", "info", home=home)
    assert no_key.code == 1
    assert "set PINECONE_API_KEY" in no_key.err
    bad = run_cli("--store", "pinecone://", "info", home=home, PINECONE_API_KEY="k")
    assert bad.code == 1
    assert "pinecone://INDEX/NAMESPACE" in bad.err
