"""docs/adapters.md builds a package with one adapter of each kind: it works as the page says.

The page's code blocks that name a file (``# acme_img2img/feed.py``) are written
out as a package, and its ``toml`` block becomes the package's entry points, in
a folder of its own with a ``.dist-info`` as ``pip install`` leaves one. Then:

- the contract suites run against the page's adapters (and the page's own
  contract tests run as written);
- from Python, :mod:`img2img.registry` finds the adapters by name, and a client
  built from them indexes, searches and locates;
- the ``img2img`` command, in new processes, lists them and runs ``index
  --source feed``, ``search`` and ``locate --engine acme`` over a ``jsonfile://``
  store with the ``thumb`` embedder, with no line of img2img changed.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib
from markdown_blocks import ROOT, blocks_of

from img2img import ImageSearchClient, registry
from img2img.net.fetch import HttpFetcher
from img2img.testing.contracts import (
    EmbedderContract,
    ImageSourceContract,
    ReverseImageSourceContract,
    VectorStoreContract,
)
from img2img.testing.edits import jpeg_bytes
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import edited_copy, sample_photos

PAGE = ROOT / "docs" / "adapters.md"
FILE_LINE = re.compile(r"^# (acme_img2img/\w+\.py)\n")
DISTRIBUTION = "acme-img2img"
LOOPBACK = "127.0.0.0/8"
FEED_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut")
TITLES = {
    "chelsea": "a cat on the sofa",
    "coffee": "a cat's coffee",
    "rocket": "a cat in space",
    "astronaut": "an astronaut",
}


def page_files() -> dict[str, str]:
    """``{path: code}`` of the page's blocks that are files of the package."""
    files = {}
    for block in blocks_of(PAGE):
        found = FILE_LINE.match(block.code)
        if block.lang == "python" and found:
            files[found.group(1)] = block.code
    return files


def page_project() -> dict[str, Any]:
    """The ``[project]`` table of the page's ``toml`` block."""
    (block,) = [b for b in blocks_of(PAGE) if b.lang == "toml" and "entry-points" in b.code]
    project: dict[str, Any] = tomllib.loads(block.code)["project"]
    return project


def install_page_package(site: Path) -> None:
    """Write the package and the ``.dist-info`` pip would leave into ``site``."""
    for path, code in page_files().items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(code)
    (site / "acme_img2img" / "__init__.py").write_text("")
    project = page_project()
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, points in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {target}" for name, target in points.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))


def _page_namespace() -> dict[str, Any]:
    """The page's package files and its contract tests, run in one namespace."""
    namespace: dict[str, Any] = {"__name__": "adapters_page"}
    for code in page_files().values():
        exec(compile(code, str(PAGE), "exec"), namespace)
    (tests,) = [b for b in blocks_of(PAGE) if b.lang == "python" and "Contract" in b.code]
    exec(compile(tests.code, str(PAGE), "exec"), namespace)
    return namespace


PAGE_CODE = _page_namespace()

# The page's own contract tests, as written.
TestPageJsonFileStore = PAGE_CODE["TestJsonFileStore"]
TestPageThumbEmbedder = PAGE_CODE["TestThumbEmbedder"]


def test_the_page_has_one_file_for_each_kind_and_each_is_declared() -> None:
    assert set(page_files()) == {
        "acme_img2img/feed.py",
        "acme_img2img/lookup.py",
        "acme_img2img/thumbs.py",
        "acme_img2img/jsonstore.py",
        "acme_img2img/fetcher.py",
    }
    groups = page_project()["entry-points"]
    assert set(groups) == set(registry.GROUPS.values())
    assert "RedditSource" not in PAGE.read_text(), "the example must not share a shipped name"


# -- a web server: the feed, its pictures, and the reverse-search service ------------


class Web:
    def __init__(self) -> None:
        photos = sample_photos(FEED_PHOTOS)
        self.pictures = {f"/img/{name}.jpg": jpeg_bytes(photos[name]) for name in FEED_PHOTOS}
        self.pictures["/img/copy.jpg"] = jpeg_bytes(edited_copy(photos["rocket"]))
        self.query = photos["rocket"]
        self.server = LoopbackServer(self.handle)
        self.url = self.server.url

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/feed.json":
            return Reply.json(
                [
                    {
                        "image": f"{self.url}/img/{name}.jpg",
                        "page": f"{self.url}/posts/{name}",
                        "title": TITLES[name],
                    }
                    for name in FEED_PHOTOS
                ]
            )
        if request.path in self.pictures:
            return Reply(body=self.pictures[request.path], headers={"Content-Type": "image/jpeg"})
        if request.path == "/upload":
            return Reply.json({"id": "upload-1"})
        if request.path == "/search":
            claimed = ["copy", "coffee", "astronaut"][: int(request.param("limit") or 100)]
            return Reply.json(
                {
                    "matches": [
                        {"image": f"{self.url}/img/{name}.jpg", "page": f"{self.url}/pages/{name}"}
                        for name in claimed
                    ]
                }
            )
        return Reply(status=404)


@pytest.fixture(scope="module")
def web() -> Iterator[Web]:
    served = Web()
    with served.server:
        yield served


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site-packages")
    install_page_package(folder)
    return folder


@pytest.fixture
def installed(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The page's package importable and its entry points visible in this process."""
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return site


# -- the contract suites, on the page's adapters -------------------------------------


class TestFeedSourceContract(ImageSourceContract):
    keyphrase = "cat"

    @pytest.fixture
    def source(self, web: Web) -> Any:
        return PAGE_CODE["FeedSource"](f"{web.url}/feed.json")


class TestAcmeLookupContract(ReverseImageSourceContract):
    @pytest.fixture
    def reverse_source(self, web: Web) -> Any:
        return PAGE_CODE["AcmeLookup"](web.url)


class TestThumbEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Any:
        return PAGE_CODE["ThumbEmbedder"]()


class TestJsonFileStoreContract(VectorStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Any]:
        store = PAGE_CODE["JsonFileStore"](tmp_path / "vectors.json")
        yield store
        store.close()


def test_the_json_store_keeps_its_records_across_opens(tmp_path: Path) -> None:
    from img2img import EmbeddingSpace, VectorRecord

    store_class = PAGE_CODE["JsonFileStore"]
    with pytest.raises(Exception, match="no JSON store"):
        store_class.from_options(str(tmp_path / "none.json"), create=False)
    first = store_class.from_options(str(tmp_path / "v.json"), create=True)
    first.set_embedding_space(EmbeddingSpace("m", 2))
    first.upsert([VectorRecord("a", [1.0, 0.0], {"title": "x"})])
    first.close()
    again = store_class.from_options(str(tmp_path / "v.json"), create=False)
    assert again.count() == 1
    assert again.embedding_space() == EmbeddingSpace("m", 2)
    assert again.fetch(["a"])["a"].metadata == {"title": "x"}


# -- from Python ---------------------------------------------------------------------


def test_the_registry_finds_the_installed_adapters(installed: Path) -> None:
    expected = {
        "source": "feed",
        "reverse_source": "acme",
        "embedder": "thumb",
        "store": "jsonfile",
    }
    for kind, name in expected.items():
        found = registry.available(kind)[name]
        assert found.provider == DISTRIBUTION
        assert found.load().__module__.startswith("acme_img2img.")
    # The built-in ones are found the same way, beside them.
    assert registry.available("store")["local"].provider == "img2img-search"


def test_a_client_of_the_installed_adapters_indexes_searches_and_locates(
    installed: Path, web: Web, tmp_path: Path
) -> None:
    source = registry.load("source", "feed")(f"{web.url}/feed.json")
    embedder = registry.load("embedder", "thumb")()
    store = registry.load("store", "jsonfile")(tmp_path / "vectors.json")
    engine = registry.load("reverse_source", "acme")(web.url)
    fetcher = importlib.import_module("acme_img2img.fetcher").CountingFetcher(
        HttpFetcher(allowed_networks=[LOOPBACK])
    )
    with ImageSearchClient(
        source=source, embedder=embedder, store=store, fetcher=fetcher, reverse_source=engine
    ) as client:
        report = client.index("cat", limit=10)
        assert (report.discovered, report.indexed, report.failed) == (3, 3, 0)
        assert fetcher.downloaded > 0
        (best, *_) = client.search(web.query, k=3)
        assert best.image_url == f"{web.url}/img/rocket.jpg"
        assert best.page_url == f"{web.url}/posts/rocket"
        found = client.locate(web.query, index=False)
        assert [p.page_url for p in found] == [f"{web.url}/pages/copy"]
    reopened = registry.load("store", "jsonfile")(tmp_path / "vectors.json")
    assert reopened.count() == 3


# -- through the command, in new processes -------------------------------------------


def run_command(*args: str | Path, site: Path, home: Path) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))},
        "PYTHONPATH": path,
        "HOME": str(home),
        "IMG2IMG_HOME": str(home / "img2img"),
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "img2img", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=home,
    )


def test_the_command_runs_the_installed_adapters(site: Path, web: Web, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = f"jsonfile://{tmp_path / 'photos.json'}"

    listed = run_command("plugins", "--json", site=site, home=home)
    assert listed.returncode == 0, listed.stderr
    plugins = json.loads(listed.stdout)
    for kind, name in (("source", "feed"), ("reverse_source", "acme"), ("embedder", "thumb")):
        (row,) = [row for row in plugins[kind] if row["name"] == name]
        assert row["provider"] == DISTRIBUTION
        assert "error" not in row
    assert [r["options"] for r in plugins["source"] if r["name"] == "feed"] == [["--feed"]]
    built_in = {row["name"]: row["provider"] for kind in plugins.values() for row in kind}
    for name in ("google", "lens", "clip", "local", "pinecone"):
        assert built_in[name] == "img2img-search", "the built-in adapters, beside the package's"

    missing = run_command("--store", store, "search", "x.jpg", site=site, home=home)
    assert missing.returncode == 1
    assert "no JSON store at" in missing.stderr

    wrong = run_command("--store", store, "index", "cat", "--source", "feed", site=site, home=home)
    assert wrong.returncode == 2, wrong.stderr
    assert "--source feed needs --feed URL" in wrong.stderr

    indexed = run_command(
        "--store", store, "--embedder", "thumb", "--json", "index", "cat", "--source", "feed",
        "--feed", f"{web.url}/feed.json", "--allow-network", LOOPBACK, site=site, home=home,
    )  # fmt: skip
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["indexed"] == 3

    query = home / "query.png"
    web.query.save(query)
    searched = run_command("--store", store, "--json", "search", query, site=site, home=home)
    assert searched.returncode == 0, searched.stderr
    assert "acme/thumb-8" in searched.stderr  # the store's model, rebuilt by the thumb embedder
    assert json.loads(searched.stdout)[0]["image_url"] == f"{web.url}/img/rocket.jpg"

    info = run_command("--store", store, "--json", "info", site=site, home=home)
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert (data["kind"], data["count"], data["model"]) == ("jsonfile", 3, "acme/thumb-8")
    assert "feed" in data["adapters"]["source"]

    located = run_command(
        "--store", store, "--json", "locate", query, "--engine", "acme",
        "--acme-service", web.url, "--allow-network", LOOPBACK, site=site, home=home,
    )  # fmt: skip
    assert located.returncode == 0, located.stderr
    result = json.loads(located.stdout)
    assert [p["page_url"] for p in result["postings"]] == [f"{web.url}/pages/copy"]
    assert result["report"]["uploads"] == 1  # a local picture goes through the engine's upload


def test_an_adapter_that_cannot_be_imported_says_what_to_install(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    info = site / "broken_adapter-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-adapter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[img2img.sources]\nbroken = no_such_module:Source\nbuggy = buggy_source:Source\n"
    )
    (site / "buggy_source.py").write_text("raise RuntimeError('a bug at import')\n")
    home = tmp_path / "home"
    home.mkdir()
    listed = run_command("plugins", site=site, home=home)
    assert listed.returncode == 0, listed.stderr
    assert "broken" in listed.stdout
    assert "a bug at import" in listed.stdout
    chosen = run_command("index", "cats", "--source", "broken", site=site, home=home)
    assert chosen.returncode == 1
    assert "pip install --force-reinstall broken-adapter" in chosen.stderr
    buggy = run_command("index", "cats", "--source", "buggy", site=site, home=home)
    assert buggy.returncode == 1
    assert "a bug at import" in buggy.stderr
    assert "Traceback" not in buggy.stderr
