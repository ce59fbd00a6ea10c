"""Every code block in README.md and docs/ runs, offline, so the docs cannot rot.

Each page runs top to bottom in a fresh folder (the "stage"):

- ``python`` blocks run in order in one namespace per page. A block may be
  preceded by a hidden ``<!-- doctest-setup ... -->`` comment holding the code
  that defines what the prose assumes (a ``client``, a ``vector``, a fake
  Discord holding the channel the page reads, reached as a user behind a
  gateway would reach Discord: through ``DISCORD_BASE_URL``);
- ``bash`` blocks run line by line, after their setup if they have one: ``img2img`` commands run for real, in a new
  process; ``pip install``, ``make``, ``python SCRIPT`` and ``pytest PATH``,
  which would install, recurse or take minutes, are checked instead: the
  package is this project or one of its dependencies, the make target, script,
  flag or test file exists;
- every other fence must say what it holds (``text`` for diagrams and output);
  a ``text`` block right after a ``python`` block is what that block prints,
  and is compared with what it does print (run times aside).

The stage has what the docs name: ``photo.jpg``, ``query.jpg`` and
``collage.jpg`` (``photo.jpg`` as one tile of four) in the folder, real photos in ``~/Pictures``. Nothing leaves this machine, so three
things differ from a user's machine, each a loopback stand-in or local model:

- SerpAPI is :class:`~img2img.testing.fake_serpapi.FakeSerpApi`, whose results
  point at a local web server, and Pinecone is
  :class:`~img2img.testing.fake_pinecone.FakePinecone`, both reached through
  the documented variables (``SERPAPI_BASE_URL``, ``PINECONE_CONTROLLER_HOST``);
  pages about other services start their fakes in their setup, the same way;
- downloads resolve every host to that local server (``HttpFetcher`` with a
  loopback resolver), since the docs' example hosts are not reachable;
- CLIP hub weights cannot be downloaded, so a ``ClipEmbedder`` asking for hub
  weights gets the tiny open_clip model of ``tests/data/open_clip``, with
  random weights; checkpoint paths are kept as written.

``img2img`` lines run through the command's ``main`` in this process, so the
same stand-ins serve them, and the offline model loads once for the suite.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack, redirect_stdout, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from markdown_blocks import (
    NOT_CODE,
    PYTHON,
    ROOT,
    SHELL,
    Block,
    blocks_of,
    check_make,
    check_pip,
    check_pytest,
    check_python_script,
    pages,
    shell_commands,
    split_command,
)
from PIL import Image

import img2img
import img2img.embedders.clip
import img2img.net.fetch
from img2img.net.guard import LOOPBACK_NETWORKS
from img2img.testing.edits import jpeg_bytes
from img2img.testing.fake_pinecone import FakePinecone
from img2img.testing.fake_serpapi import FakeSerpApi
from img2img.testing.http import LoopbackServer, RecordedRequest, Reply
from img2img.testing.photos import edited_copy
from img2img.testing.reposts import apply_repost

PAGES = pages()
PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]
#: Files and folders the pages name, made in the stage.
STAGED_PHOTOS = ("coffee", "rocket")


def test_the_pages_are_found() -> None:
    names = {str(page.relative_to(ROOT)) for page in PAGES}
    assert {"README.md", "docs/cli.md", "docs/quickstart.md"} <= names
    assert sum(len(blocks_of(page)) for page in PAGES) > 40


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_fence_names_its_language(page: Path) -> None:
    unnamed = [b.where for b in blocks_of(page) if b.lang not in PYTHON | SHELL | NOT_CODE]
    assert unnamed == [], "label each block: python, bash, or text for diagrams and output"


@dataclass
class Stage:
    folder: Path
    home: Path
    env: dict[str, str]


@pytest.fixture
def stage(
    tmp_path: Path,
    photos: dict[str, Image.Image],
    monkeypatch: pytest.MonkeyPatch,
    tiny_clip_name: str,
) -> Iterator[Stage]:
    folder, home = tmp_path / "work", tmp_path / "home"
    for sub in ("", "holiday", "2024"):
        (home / "Pictures" / sub).mkdir(parents=True)
        for name in STAGED_PHOTOS:
            photos[name].save(home / "Pictures" / sub / f"{name}.jpg", quality=90)
    folder.mkdir()
    photos["chelsea"].save(folder / "photo.jpg", quality=90)
    for name in ("query.jpg", "screenshot-from-a-forum.jpg"):
        edited_copy(photos["rocket"]).save(folder / name, quality=70)
    others = [photo for name, photo in photos.items() if name != "chelsea"][:3]
    apply_repost(photos["chelsea"], "collage2x2", others=others, seed=1).save(
        folder / "collage.jpg", quality=90
    )
    jpegs = [jpeg_bytes(photo) for photo in photos.values()]

    def web(request: RecordedRequest) -> Reply:
        numbers = re.findall(r"\d+", request.path)
        body = jpegs[int(numbers[-1]) % len(jpegs)] if numbers else jpegs[0]
        return Reply(body=body, headers={"Content-Type": "image/jpeg"})

    with ExitStack() as stack:
        server = stack.enter_context(LoopbackServer(web))
        serp = stack.enter_context(FakeSerpApi(total_results=6, image_base_url=server.url))
        pinecone = stack.enter_context(FakePinecone(dimension=None, index_name="images"))
        env = {
            "HOME": str(home),
            "IMG2IMG_HOME": str(home / ".img2img"),
            "HF_HUB_OFFLINE": "1",
            "SERPAPI_API_KEY": serp.api_key,
            "SERPAPI_BASE_URL": serp.url,
            "IMG2IMG_ALLOW_NETWORKS": "127.0.0.0/8",
            "PINECONE_API_KEY": pinecone.api_key,
            "PINECONE_CONTROLLER_HOST": pinecone.url,
            "COLUMNS": "120",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        _stand_ins(monkeypatch, server.port, tiny_clip_name)
        monkeypatch.chdir(folder)
        yield Stage(folder, home, dict(os.environ))


def _stand_ins(monkeypatch: pytest.MonkeyPatch, port: int, tiny: str) -> None:
    """What no setting covers, for code run in this process: example hosts that do
    not exist, and CLIP weights that are not on this machine."""
    real_clip = img2img.embedders.clip.ClipEmbedder
    real_fetcher = img2img.net.fetch.HttpFetcher

    class OfflineClip(real_clip):  # type: ignore[misc,valid-type]
        def __init__(
            self, model_name: str = "ViT-B-32", pretrained: Any = "hub", **kw: Any
        ) -> None:
            path = pretrained is not None and (os.sep in str(pretrained) or "." in str(pretrained))
            super().__init__(model_name if path else tiny, pretrained if path else None, **kw)

    class LocalFetcher(real_fetcher):  # type: ignore[misc,valid-type]
        def __init__(self, **kw: Any) -> None:
            kw.setdefault("allowed_networks", LOOPBACK_NETWORKS)
            kw.setdefault("resolver", lambda host, _: ["127.0.0.1"])
            super().__init__(**kw)

        def fetch(self, url: str) -> bytes:  # a host on a default port is the local web server
            return super().fetch(re.sub(r"^https?://([^/:]+)(?=/|$)", rf"http://\1:{port}", url))

    # The command keeps the adapter classes it loaded: let it load the stand-ins afresh.
    from img2img.cli.commands.locating import ENGINE_OPTIONS
    from img2img.cli.embedding import EMBEDDER_OPTIONS
    from img2img.cli.sources import SOURCE_OPTIONS

    for options in (EMBEDDER_OPTIONS, SOURCE_OPTIONS, ENGINE_OPTIONS):
        monkeypatch.setattr(options, "_loaded", None)
    for module, name, stand_in in (
        (img2img.embedders.clip, "ClipEmbedder", OfflineClip),
        (img2img, "ClipEmbedder", OfflineClip),
        (img2img.net.fetch, "HttpFetcher", LocalFetcher),
        (img2img, "HttpFetcher", LocalFetcher),
    ):
        monkeypatch.setattr(module, name, stand_in)


#: A page marked so runs with the real fetcher and models, exactly as a reader runs it.
AS_IS = "<!-- doctest: as-is"
_REAL = {
    (img2img.net.fetch, "HttpFetcher"): img2img.net.fetch.HttpFetcher,
    (img2img, "HttpFetcher"): img2img.HttpFetcher,
    (img2img.embedders.clip, "ClipEmbedder"): img2img.embedders.clip.ClipEmbedder,
    (img2img, "ClipEmbedder"): img2img.ClipEmbedder,
}


def _without_stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    for (module, name), real in _REAL.items():
        monkeypatch.setattr(module, name, real)


def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    if block.setup.strip():
        exec(compile(block.setup, f"setup of {block.where}", "exec"), namespace)
    printed = io.StringIO()
    with redirect_stdout(printed):
        exec(compile(block.code, block.where, "exec"), namespace)
    if block.shown_output is not None:
        assert _comparable(printed.getvalue()) == _comparable(block.shown_output), (
            f"{block.where} prints something else than the page shows:\n{printed.getvalue()}"
        )


#: Times differ from run to run: "in 1.4s" is compared as "in ?s".
_SECONDS = re.compile(r"\bin \d+(?:\.\d+)?s\b")


def _comparable(text: str) -> list[str]:
    """Printed lines as a reader compares them: trailing spaces and run times aside."""
    return [_SECONDS.sub("in ?s", line.rstrip()) for line in text.strip("\n").splitlines()]


def _expand(word: str) -> str:
    """What the shell would pass: ``~`` and ``$VARIABLE`` expanded."""
    return os.path.expandvars(os.path.expanduser(word))


def _run_command(block: Block, command: str, args: list[str], env: dict[str, str]) -> None:
    """An ``img2img`` line, run by the command's own ``main`` in this process.

    In-process, so the offline model loads once for the whole suite; the
    command's behaviour in a process of its own is tested in tests/cli.
    """
    from img2img.cli.main import main

    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        code = main([_expand(arg) for arg in args])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert code == 0, f"{block.where}: {command} exited {code}"


def _run_shell(block: Block, namespace: dict[str, Any]) -> None:
    if block.setup.strip():
        exec(compile(block.setup, f"setup of {block.where}", "exec"), namespace)
    for command in shell_commands(block.code):
        env, words = split_command(command)
        program, args = (words[0], words[1:]) if words else ("", [])
        if program == "img2img":
            _run_command(block, command, args, env)
        elif program == "pip":
            check_pip(args)
        elif program == "make":
            check_make(args)
        elif program == "python":
            check_python_script(args)
        elif program == "pytest":
            check_pytest(args)
        else:
            assert not program, f"{block.where}: teach tests/docs to check {program!r} lines"


def _close_all(namespace: dict[str, Any]) -> None:
    for value in namespace.values():
        close = getattr(value, "close", None)
        if callable(close) and not isinstance(value, type):
            with suppress(Exception):  # closing twice, or a half-made object: not tested here
                close()


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_the_page_s_code_runs(page: Path, stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    runnable = [b for b in blocks_of(page) if b.lang in PYTHON | SHELL]
    if not runnable:
        pytest.skip("no code on this page")
    if AS_IS in page.read_text(encoding="utf-8"):
        _without_stand_ins(monkeypatch)
    namespace: dict[str, Any] = {"__name__": "__doc_page__"}
    environment = dict(os.environ)
    try:
        for block in runnable:
            if block.lang in PYTHON:
                _run_python(block, namespace)
            else:
                _run_shell(block, namespace)
    finally:
        _close_all(namespace)
        os.environ.clear()
        os.environ.update(environment)


_PATH = re.compile(r"(?<![\w/.-])((?:tests|src/img2img|benchmarks|examples|docs)/[\w/.-]*[\w/])")
_LINK = re.compile(r"\]\(([^)#:]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_paths_and_links_named_by_the_page_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    named = {ROOT / path for path in _PATH.findall(text)}
    named |= {(page.parent / link).resolve() for link in _LINK.findall(text)}
    missing = sorted(str(path.relative_to(ROOT)) for path in named if not path.exists())
    assert missing == []
