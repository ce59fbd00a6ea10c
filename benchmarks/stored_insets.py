"""Pictures-in-pictures split when indexed: recall and cost before and after, in one run.

Builds (or reuses, with ``--keep``) the crowded ``LocalStore`` of
``postings_speed.py`` with the shipped code, so every stored picture that is
split (a grid, a picture on a plain background, and now a picture pasted over
a photo: :mod:`img2img.postings.insets`) has its regions. "Before" is a second
store in the same folder holding the same records less the regions only the
inset search found (and those pictures' ``regions`` field), asked with the
inset search switched off, as the code before it would. Then:

- how many stored pictures the inset search split, by kind (the photos, the
  drawings, the crowd of distractors made from each, the stored composites by
  form): every split of a plain picture is a false one;
- ``find_postings`` at the default ``k`` with each held-out picture reposted in
  each form, and with each original for its stored composites (rows
  ``<form> stored``), before and after, the order alternating from query to
  query after an untimed warm-up of each: recall, median wall and CPU;
- ``add`` per image on a sample of the same files: regions off, regions on
  without the inset search, with the split of a git revision (``--previous``,
  loaded by ``split_identity.py``) and as shipped, ``--add-rounds`` rounds in
  alternating order after a warm-up, the least wall and the least CPU kept.

    python benchmarks/stored_insets.py --keep /tmp/img2img-insets --every 6 --thin 2 --add-sample 100
    python benchmarks/stored_insets.py --keep /tmp/img2img-insets --forms --add-sample 100 --previous 3a009e4
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from machine import cpu_flags
from PIL import Image
from postings_speed import build, cases, timed
from reposts import COMPOSITES, name_of
from split_identity import previous_split

from img2img import ImageSearchClient, InMemoryStore, LocalStore
from img2img.images import to_rgb
from img2img.pipeline import regions as pipeline_regions
from img2img.postings import insets
from img2img.postings.composites import REGIONS_FIELD
from img2img.postings.region_records import REGION_OF
from img2img.postings.regions import split_regions

FORMS = ("collage2x2", "collage3x3", "inset15", "inset30", "inset40", "thumb160")


@contextmanager
def without_insets() -> Iterator[None]:
    """The code before the inset search: :func:`split_regions` without it."""
    kept = insets.find_inset  # imported by split_regions when called
    insets.find_inset = lambda *args: None  # type: ignore[assignment]
    try:
        yield
    finally:
        insets.find_inset = kept


@contextmanager
def nothing() -> Iterator[None]:
    yield


def kind_of(name: str, source: dict[str, str]) -> str:
    if name.startswith("composite/"):
        return name.split("/")[1] + " (stored composite)"
    if name.startswith("crowd/"):
        made_from = source.get(name, "art/")
        return "crowd from " + ("drawings" if made_from.startswith("art/") else "photos")
    return "drawings" if name.startswith("art/") else "photos"


def inset_splits(store: LocalStore, folder: Path) -> dict[str, str]:
    """The stored pictures (record id -> name) whose one region only the inset search found."""
    out: dict[str, str] = {}
    for page in store.scan():
        for record in page:
            boxes = record.metadata.get(REGIONS_FIELD)
            if not isinstance(boxes, list) or len(boxes) != 1:
                continue
            name = name_of(str(record.metadata.get("image_url", "")))
            with Image.open(folder / (name.replace("/", "__") + ".jpg")) as opened:
                image = to_rgb(opened)
            with without_insets():
                if split_regions(image):
                    continue
            out[record.id] = name
    return out


def before_store(store: LocalStore, path: Path, insets: dict[str, str]) -> LocalStore:
    """A store of ``store``'s records less the regions in ``insets`` (made once, kept)."""
    ready = path.with_suffix(".ready")
    before = LocalStore(path)
    if ready.exists():
        return before
    space = store.embedding_space()
    assert space is not None
    before.set_embedding_space(space)
    for page in store.scan():
        kept = []
        for record in page:
            if record.metadata.get(REGION_OF) in insets:
                continue
            if record.id in insets:
                metadata = {k: v for k, v in record.metadata.items() if k != REGIONS_FIELD}
                record = type(record)(record.id, record.vector, metadata)
            kept.append(record)
        before.upsert(kept)
    ready.touch()
    return before


@contextmanager
def split_by(split: Callable[[Image.Image], list[tuple[int, int, int, int]]]) -> Iterator[None]:
    """``add`` splitting pictures with ``split`` (the code of another revision)."""
    kept = pipeline_regions.split_regions
    pipeline_regions.split_regions = split
    try:
        yield
    finally:
        pipeline_regions.split_regions = kept


def add_cost(
    folder: Path, names: list[str], embedder, previous: str | None = None, rounds: int = 2
) -> None:
    """ms per image of ``add``: regions off, on without the inset search, on with the
    split of ``previous`` (a git revision), on as shipped; after an untimed warm-up,
    ``rounds`` rounds in alternating order, the least wall and the least CPU of each kept."""
    files = [folder / (n.replace("/", "__") + ".jpg") for n in names]
    settings = {
        "regions off": (False, nothing),
        "regions on, no inset search": (True, without_insets),
    }
    if previous:
        split = previous_split(previous)
        settings[f"regions on, split of {previous}"] = (True, lambda: split_by(split))
    settings["regions on, shipped"] = (True, nothing)
    warm = ImageSearchClient(embedder=embedder, store=InMemoryStore(), cache_pictures=True)
    warm.add(files[:8])  # the model loaded, the first batches' caches made
    walls: dict[str, float] = {}
    cpus: dict[str, float] = {}
    vectors: dict[str, float] = {}
    for round_ in range(rounds):
        order = list(settings) if round_ % 2 == 0 else list(settings)[::-1]
        for label in order:
            on, context = settings[label]
            client = ImageSearchClient(
                embedder=embedder, store=InMemoryStore(), index_regions=on, cache_pictures=True
            )
            with context():
                started, cpu = time.perf_counter(), time.process_time()
                report = client.add(files)
                wall, used = time.perf_counter() - started, time.process_time() - cpu
            walls[label] = min(walls.get(label, wall), wall)
            cpus[label] = min(cpus.get(label, used), used)
            vectors[label] = client.store.count() / max(1, report.indexed)
    off_wall, off_cpu = walls["regions off"], cpus["regions off"]
    for label in settings:
        print(
            f"add {len(files)} images, {label:32}: {walls[label] / len(files) * 1000:5.1f} ms wall, "
            f"{cpus[label] / len(files) * 1000:5.1f} ms CPU per image ({walls[label] / off_wall:.2f}x / "
            f"{cpus[label] / off_cpu:.2f}x of off), {vectors[label]:.2f} vectors per image"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, required=True, help="folder of the stores, kept")
    parser.add_argument("--crowd", type=int, default=1000)
    parser.add_argument("--every", type=int, default=6)
    parser.add_argument("--thin", type=int, default=2, help="ask with every n-th of those only")
    parser.add_argument("--forms", nargs="*", default=list(FORMS))
    parser.add_argument("--add-sample", type=int, default=0, help="images timed for add")
    parser.add_argument("--add-rounds", type=int, default=2, help="rounds of add each way")
    parser.add_argument(
        "--previous", help="also time add splitting as the code at this git revision did"
    )
    args = parser.parse_args()
    print(
        f"CPU flags: {cpu_flags()}; load average at the start "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    client, pictures, crowd, source, queries, folder = build(args.keep, args.crowd, args.every)
    assert isinstance(client.store, LocalStore)
    insets = inset_splits(client.store, folder)
    names = [path.stem.replace("__", "/") for path in folder.glob("*.jpg")]
    everyone = Counter(kind_of(n, source) for n in names)
    split = Counter(kind_of(n, source) for n in insets.values())
    print("\nstored pictures split by the inset search (a plain picture split is a false split):")
    for kind in sorted(everyone):
        print(f"  {kind:32} {split[kind]:4} of {everyone[kind]}")
    before = before_store(client.store, args.keep / "before.sqlite3", insets)
    print(f"store after: {client.store.count()} vectors; before: {before.count()}")
    clients = {
        "before": (ImageSearchClient(embedder=client.embedder, store=before), without_insets),
        "after": (client, nothing),
    }
    queries = queries[:: args.thin]
    print(f"{len(queries)} held-out pictures x {len(args.forms)} forms")
    walls: dict[tuple[str, str], list[float]] = defaultdict(list)
    cpus: dict[tuple[str, str], list[float]] = defaultdict(list)
    found: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for number, (form, _kind, image, wanted) in enumerate(cases(pictures, queries, args.forms)):
        order = list(clients) if number % 2 == 0 else list(clients)[::-1]
        for label in order:  # warm-up: every candidate's features in each store's cache
            asker, context = clients[label]
            with context():
                asker.find_postings(image)
        for label in order:
            asker, context = clients[label]
            with context():
                postings, wall, cpu = timed(lambda a=asker, i=image: a.find_postings(i))
            walls[(label, form)].append(wall)
            cpus[(label, form)].append(cpu)
            got = {name_of(p.image_url) for p in postings}  # type: ignore[attr-defined]
            found[(label, form)].append(wanted in got)
    rows = [*args.forms, *(f"{f} stored" for f in args.forms if f in COMPOSITES)]
    print(
        f"\n{'form':18} {'n':>3} {'R before':>9} {'R after':>8} {'CPU before':>11} {'CPU after':>10} {'wall before':>12} {'wall after':>11}"
    )
    for form in rows:
        b, a = ("before", form), ("after", form)
        print(
            f"{form:18} {len(found[a]):3} {statistics.mean(found[b]):9.3f} {statistics.mean(found[a]):8.3f} "
            f"{statistics.median(cpus[b]):11.3f} {statistics.median(cpus[a]):10.3f} "
            f"{statistics.median(walls[b]):12.3f} {statistics.median(walls[a]):11.3f}"
        )
    print("load average at the end " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    if args.add_sample:
        sample = random.Random("add").sample(sorted(pictures) + sorted(crowd), args.add_sample)
        add_cost(folder, sample, client.embedder, args.previous, args.add_rounds)
        print("load average after add " + " ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
