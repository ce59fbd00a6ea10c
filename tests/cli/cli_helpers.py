"""Running the ``img2img`` command as a user does: a new process, its output, its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from img2img.embedders.hashing import HashEmbedder
from img2img.models import EmbeddingSpace
from img2img.stores.local.store import LocalStore

#: Variables a user's shell might hold that would change what the command does.
_DROPPED = (
    "PINECONE_API_KEY",
    "SERPAPI_API_KEY",
    "PINECONE_CONTROLLER_HOST",
    "SERPAPI_BASE_URL",
    "DISCORD_BOT_TOKEN",
    "DISCORD_BASE_URL",
    "PATREON_ACCESS_TOKEN",
    "PATREON_BASE_URL",
    "REDDIT_CLIENT_ID",
    "REDDIT_CLIENT_SECRET",
    "REDDIT_USER_AGENT",
    "REDDIT_BASE_URL",
    "REDDIT_OAUTH_URL",
    "BLUESKY_HANDLE",
    "BLUESKY_APP_PASSWORD",
    "BLUESKY_APPVIEW_URL",
    "BLUESKY_PDS_URL",
    "IMG2IMG_ALLOW_NETWORKS",
)


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.out)


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no keys, no model hub and a private home."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    env.update(
        HOME=str(home),
        IMG2IMG_HOME=str(home / "img2img"),
        HF_HOME=str(home / "hf"),
        HF_HUB_OFFLINE="1",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def run_cli(*args: str | Path, home: Path, cwd: Path | None = None, **env: str) -> Run:
    """Run ``python -m img2img ARGS`` in a new process and collect what it did."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "img2img", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(home, **env),
        cwd=cwd or home,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)


def hash_store(path: Path, dimension: int = 64) -> Path:
    """A new LocalStore that records the test embedder as its model.

    The command rebuilds the embedder a store names, so every later command
    on this store runs with ``HashEmbedder``: milliseconds, and no torch.
    """
    embedder = HashEmbedder(dimension)
    with LocalStore(path) as store:
        store.set_embedding_space(EmbeddingSpace(embedder.model_id, embedder.dimension))
    return path
