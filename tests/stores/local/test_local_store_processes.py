"""Several processes on one LocalStore file: writers serialised by SQLite, readers never blocked.

Real processes (not threads), so each has its own memory copy of the store and
only SQLite's locking (``BEGIN IMMEDIATE`` for every write) stands between them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from img2img.models import EmbeddingSpace
from img2img.stores.local.store import LocalStore

DIM = 16

WRITER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from img2img.errors import Img2ImgError
    from img2img.models import EmbeddingSpace, VectorRecord
    from img2img.stores.local.store import LocalStore
    from img2img.stores.space import check_accepts

    path, model, dim = sys.argv[1], sys.argv[2], int(sys.argv[3])
    space = EmbeddingSpace(model, dim)
    with LocalStore(path) as store:
        check_accepts(store, space)          # as `img2img add` does before its run
        # What the client's first write does (stores.space.SpaceOnFirstWrite): record the
        # space, then upsert. Both writers record theirs on the empty store, then both write.
        store.set_embedding_space(space)
        writer = store
        print("ready", flush=True)
        sys.stdin.readline()
        rng = np.random.default_rng(abs(hash(model)) % 1000)
        try:
            for batch in range(5):
                rows = rng.standard_normal((50, dim)).astype(np.float32)
                rows /= np.linalg.norm(rows, axis=1, keepdims=True)
                writer.upsert([
                    VectorRecord(f"{model}-{batch}-{i}", v, {"model": model})
                    for i, v in enumerate(rows)
                ])
        except Img2ImgError as exc:
            print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
            sys.exit(3)
    print(json.dumps({"written": 250}), flush=True)
    """
)


def start(path: Path, model: str, dim: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), model, str(dim)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def race(path: Path, dims: tuple[int, int]) -> list[tuple[int, dict[str, str]]]:
    writers = [start(path, "model-a", dims[0]), start(path, "model-b", dims[1])]
    for writer in writers:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready", writer.stderr
    outcomes = []
    for writer in writers:
        out, err = writer.communicate("go\n", timeout=120)
        assert writer.returncode in (0, 3), err
        outcomes.append((writer.returncode, json.loads(out.strip().splitlines()[-1])))
    return outcomes


def test_two_writers_with_different_embedders_never_mix_spaces(tmp_path: Path) -> None:
    for dims in ((DIM, DIM), (DIM, 2 * DIM)):
        path = tmp_path / f"store-{dims[1]}.sqlite3"
        outcomes = race(path, dims)
        # Exactly one writer wins; the other is refused with a clear error, having written nothing.
        assert sorted(code for code, _ in outcomes) == [0, 3]
        loser = next(result for code, result in outcomes if code == 3)
        assert loser["error"] == "EmbeddingSpaceMismatchError"
        with LocalStore(path) as store:
            space = store.embedding_space()
            assert space is not None
            models = {r.metadata["model"] for page in store.scan() for r in page}
            assert models == {space.model_id}
            assert store.count() == 250
            assert space == EmbeddingSpace(space.model_id, dims[space.model_id == "model-b"])


READER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from img2img.stores.local.store import LocalStore

    path, index = sys.argv[1], sys.argv[2]
    seen, reads = [], 0
    with LocalStore(path, index=index) as store:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            count = store.count()
            seen.append(count)
            if count:
                # Every batch is whole: the newest record of the newest batch is found.
                last = count // 100 - 1
                v = np.random.default_rng(last * 100 + 99).standard_normal(16).astype(np.float32)
                v /= np.linalg.norm(v)
                top = store.query(v, k=1)[0]
                assert top.metadata["batch"] >= last, (top, last)
            reads += 1
            if count >= 2000:
                break
    print(json.dumps({"counts": seen, "reads": reads}), flush=True)
    """
)

LOG_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from img2img.models import VectorRecord
    from img2img.stores.local.store import LocalStore

    with LocalStore(sys.argv[1]) as store:
        for batch in range(20):
            rows = []
            for i in range(100):
                v = np.random.default_rng(batch * 100 + i).standard_normal(16).astype(np.float32)
                rows.append(VectorRecord(f"r{batch * 100 + i}", v / np.linalg.norm(v), {"batch": batch}))
            store.upsert(rows)
    """
)


def test_many_readers_while_one_writes(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    LocalStore(path).close()
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(path), index],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in ("exact", "exact", "hnsw")
    ]
    writer = subprocess.run(
        [sys.executable, "-c", LOG_WRITER, str(path)], capture_output=True, text=True, timeout=120
    )
    assert writer.returncode == 0, writer.stderr
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err
        counts = json.loads(out)["counts"]
        assert counts == sorted(counts)  # never goes back
        assert all(c % 100 == 0 for c in counts)  # never sees half a batch
        assert counts[-1] == 2000
    with LocalStore(path) as store:
        assert store.count() == 2000
        assert np.isfinite(store.fetch(["r1999"])["r1999"].vector).all()


OPENER = textwrap.dedent(
    """
    import sys, time
    from img2img.stores.local.store import LocalStore

    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
    with LocalStore(sys.argv[1]) as store:
        print(store.count(), flush=True)
    """
)


def test_processes_opening_a_new_store_at_once_all_get_it(tmp_path: Path) -> None:
    # Each round, several processes create the same store at the same moment: none is
    # refused ("database is locked" or "another application's database") and one store results.
    for round_ in range(3):
        path = tmp_path / f"new-{round_}.sqlite3"
        at = str(time.time() + 1.5)
        openers = [
            subprocess.Popen(
                [sys.executable, "-c", OPENER, str(path), at],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for opener in openers:
            out, err = opener.communicate(timeout=120)
            assert opener.returncode == 0, err
            assert out.strip() == "0"
        with LocalStore(path) as store:
            assert store.count() == 0
