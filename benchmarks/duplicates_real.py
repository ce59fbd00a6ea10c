"""``client.duplicates()`` over a store of real-looking pictures: time, the verifier's share, groups.

    python benchmarks/duplicates_real.py                      # 10,000 pictures
    python benchmarks/duplicates_real.py --records 1000       # a few minutes, to try things
    python benchmarks/duplicates_real.py --min-score 0.3      # another gate than the default
    python benchmarks/duplicates_real.py --lists              # neighbours through inverted lists

The pictures are :mod:`real_crowd`'s: cuts of real photos and flat-colour
drawings, each posted once or reposted up to 18 times in the web's forms,
with the truth in their file names. The first run writes them under
``--folder`` (``/tmp/img2img-dupreal-<records>``) and indexes them with the
offline embedder (EfficientNet-Lite0 on ONNX Runtime) into a ``LocalStore``
there; later runs reuse that store. The picture cache the indexing wrote
(thumbnails, no features) is kept aside, and put back before each pass
(``--warm`` keeps the features the last pass computed), so each pass starts
as the first ``duplicates()`` after indexing does: every feature computed.

Prints the pass's wall and CPU time (user + sys of this process) and the load
average; the verifier's share: pairs verified and the seconds spent in them,
features computed and their seconds (summed over threads); and the groups
against the planted truth: pair precision and recall (pairs of postings put
in one group), groups found exactly, and the known non-group pairs (overlapping
cuts of one photo, the two stereo views) put in one group; the links the pass
verified, and how many join two planted groups, by kind; and, from the same
links, the groups a union-find of them would make (every linked set one group,
as ``duplicates()`` grouped before it made stars of them). ``--links FILE`` writes
the links (pairs of picture names) as JSON, to try other groupings on them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from machine import cpu_flags
from real_crowd import crowd, group_of

STORE = "store.sqlite3"
PICTURES = "store.pictures.sqlite3"
PRISTINE = "pictures-after-indexing.sqlite3"


def build(folder: Path, records: int) -> None:
    """Write the pictures and index them into a new store in ``folder``."""
    from img2img import EfficientNetEmbedder, ImageSearchClient, LocalStore

    postings, _ = crowd(records)
    pictures = folder / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for posting in postings:
        path = pictures / f"{posting.name}.jpg"
        if not path.exists():
            posting.make().save(path, quality=90)  # type: ignore[operator]
    print(f"made {len(postings):,} pictures in {time.perf_counter() - started:.0f} s")
    started, cpu = time.perf_counter(), _cpu()
    with ImageSearchClient(
        embedder=EfficientNetEmbedder(), store=LocalStore(folder / STORE)
    ) as client:
        report = client.add([pictures])
    print(
        f"indexed {report.indexed:,} in {time.perf_counter() - started:.0f} s wall, "
        f"{_cpu() - cpu:.0f} s CPU; {report.failed} failed"
    )
    shutil.copyfile(folder / PICTURES, folder / PRISTINE)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Tally:
    """Calls and seconds (per thread, summed) of a wrapped function."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def wrap(self, function):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.calls += 1
                    self.seconds += time.perf_counter() - started

        return timed


class Pass:
    """What the benchmark's probes saw of the pass: its link graph, the pairs judged
    while linking, and the CPU the linking took."""

    graph: object = None
    judged = 0
    linking_cpu = 0.0
    linking_wall = 0.0


def instrument() -> tuple[Tally, Tally]:
    """Count the verifier's fits and the features computed, and keep the link graph
    the pass builds (the benchmark's own probes)."""
    from img2img.postings import cache, duplicates, judge, pictures

    link_neighbours, relation_to = duplicates._link_neighbours, duplicates.relation_to

    def kept_graph(*args, **kwargs):  # type: ignore[no-untyped-def]
        started, cpu = time.perf_counter(), _cpu()
        Pass.graph = link_neighbours(*args, **kwargs)
        Pass.linking_wall, Pass.linking_cpu = time.perf_counter() - started, _cpu() - cpu
        return Pass.graph

    def counted_relation(*args, **kwargs):  # type: ignore[no-untyped-def]
        if Pass.graph is None:  # while linking; afterwards the groups are laid out
            Pass.judged += 1
        return relation_to(*args, **kwargs)

    duplicates._link_neighbours = kept_graph  # type: ignore[assignment]
    duplicates.relation_to = counted_relation  # type: ignore[assignment]
    fits, features = Tally(), Tally()
    judge.verify_features = fits.wrap(judge.verify_features)  # type: ignore[assignment]
    cache.extract_features = features.wrap(cache.extract_features)  # type: ignore[assignment]
    pictures.extract_features = features.wrap(pictures.extract_features)  # type: ignore[assignment]
    return fits, features


def _name(url: str | None) -> str:
    return unquote(Path(urlsplit(url or "").path).stem)


def pairs_of(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}  # type: ignore[misc]


def _kind(a: str, b: str) -> str:
    """What kind of wrong link joins postings ``a`` and ``b`` of two base pictures."""
    if a.startswith("d") and b.startswith("d"):
        return "drawings"
    if a.startswith("s") and b.startswith("s"):
        return "stereo views"
    if a.split("c")[0] == b.split("c")[0]:
        return "cuts of one photo"
    return "other"


def score(
    title: str, found: list[list[str]], names: list[str], apart: list[tuple[str, str]]
) -> None:
    """Groups against the planted truth."""
    planted: dict[str, list[str]] = defaultdict(list)
    for name in names:
        planted[group_of(name)].append(name)
    truth = [sorted(g) for g in planted.values() if len(g) > 1]
    true_pairs, found_pairs = pairs_of(truth), pairs_of(found)
    right = true_pairs & found_pairs
    largest = max((len(g) for g in found), default=0)
    print(f"-- {title}")
    print(
        f"groups            {len(found):,} found, {len(truth):,} planted; "
        f"{len({tuple(g) for g in found} & {tuple(g) for g in truth}):,} found exactly; "
        f"largest {largest:,}"
    )
    for kind, test in (
        ("photos", lambda n: not n.startswith("d")),
        ("drawings", lambda n: n.startswith("d")),
    ):
        t = {p for p in true_pairs if test(p[0])}
        f = {p for p in found_pairs if test(p[0]) or test(p[1])}
        print(
            f"pairs, {kind:9} precision {len(t & f) / max(1, len(f)):.4f}, recall "
            f"{len(t & f) / max(1, len(t)):.4f} ({len(f):,} found, {len(t):,} planted)"
        )
    print(
        f"pairs, all       precision {len(right) / max(1, len(found_pairs)):.4f}, "
        f"recall {len(right) / max(1, len(true_pairs)):.4f}"
    )
    wrong = Counter(_kind(group_of(a), group_of(b)) for a, b in found_pairs - true_pairs)
    print(f"wrong pairs       {dict(wrong)}")
    group_at = {name: i for i, g in enumerate(found) for name in g}
    joined = [
        (a, b)
        for a, b in apart
        if group_at.get(f"{a}__0") is not None
        and group_at.get(f"{a}__0") == group_at.get(f"{b}__0")
    ]
    print(
        f"known non-groups  {len(joined)} of {len(apart)} base pairs put in one group {joined[:5]}"
    )


def score_links(links: list[tuple[str, str]]) -> None:
    """The links the pass verified, right and wrong."""
    wrong = [(a, b) for a, b in links if group_of(a) != group_of(b)]
    kinds = Counter(_kind(group_of(a), group_of(b)) for a, b in wrong)
    print(
        f"links             {len(links):,} verified, {len(wrong)} wrong: {dict(kinds)} "
        f"{sorted(tuple(sorted(w)) for w in wrong)[:8]}"
    )


def _progress(
    stop: threading.Event, started: float, cpu: float, fits: Tally, features: Tally
) -> None:
    """A line a minute, so a long pass shows its rate."""
    while not stop.wait(60):
        print(
            f"  ... {time.perf_counter() - started:.0f} s wall, {_cpu() - cpu:.0f} s CPU, "
            f"{features.calls:,} features, {fits.calls:,} pairs fitted, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )


def run(folder: Path, args: argparse.Namespace) -> None:
    from img2img import EfficientNetEmbedder, ImageSearchClient, LocalStore

    if not args.warm:
        for suffix in ("", "-wal", "-shm"):
            (folder / (PICTURES + suffix)).unlink(missing_ok=True)
        shutil.copyfile(folder / PRISTINE, folder / PICTURES)
    fits, features = instrument()
    import cv2  # noqa: F401  (imported before the clock starts, as any second pass finds it)

    options = {"k": args.k}
    if args.min_score is not None:
        options["min_score"] = args.min_score
    store = LocalStore(folder / STORE)
    if args.lists:
        store.lists_from = 0
    with store, ImageSearchClient(embedder=EfficientNetEmbedder(), store=store) as client:
        records = client.store.count()
        load = os.getloadavg()
        started, cpu = time.perf_counter(), _cpu()
        stop = threading.Event()
        threading.Thread(
            target=_progress, args=(stop, started, cpu, fits, features), daemon=True
        ).start()
        groups = list(client.duplicates(**options))
        stop.set()
        wall, cpu = time.perf_counter() - started, _cpu() - cpu
        name_of = {
            record.id: _name(str(record.metadata.get("image_url", "")))
            for page in client.store.scan(batch_size=1000)
            for record in page
        }
    found = [sorted(_name(p.image_url) for p in g.postings) for g in groups]
    print(
        f"records           {records:,}; duplicates({', '.join(f'{k}={v}' for k, v in options.items())})"
    )
    print(
        f"duplicates pass   {wall:.1f} s wall, {cpu:.1f} s CPU (user+sys), "
        f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"linking           {Pass.linking_wall:.1f} s wall, {Pass.linking_cpu:.1f} s CPU; "
        f"{Pass.judged:,} pairs judged"
    )
    print(f"verifier          {fits.calls:,} pairs fitted, {fits.seconds:.1f} s")
    print(f"features          {features.calls:,} computed, {features.seconds:.1f} s")
    names = sorted(p.stem for p in (folder / "pictures").glob("*.jpg"))
    _, apart = crowd(args.records)
    bases = {group_of(name) for name in names}
    apart = [(a, b) for a, b in apart if a in bases and b in bases]
    graph = Pass.graph
    links = sorted(
        {tuple(sorted((name_of[a], name_of[b]))) for a in graph._links for b in graph.links(a)}  # type: ignore[attr-defined]
    )
    score_links(links)  # type: ignore[arg-type]
    if args.links:
        args.links.write_text(json.dumps(links))
    score("groups returned", found, names, apart)
    named = [sorted(name_of[i] for i in ids) for ids in graph.components()]  # type: ignore[attr-defined]
    score("every linked set as one group (a union-find of the links)", named, names, apart)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, help="default /tmp/img2img-dupreal-<records>")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--min-score", type=float)
    parser.add_argument("--warm", action="store_true", help="keep features of the last pass")
    parser.add_argument("--build-only", action="store_true", help="make and index the set, no pass")
    parser.add_argument(
        "--lists",
        action="store_true",
        help="ask neighbours through inverted lists whatever the store's size (shipped from 50,000)",
    )
    parser.add_argument("--links", type=Path, help="write the verified links (names) as JSON here")
    args = parser.parse_args()
    folder = args.folder or Path(f"/tmp/img2img-dupreal-{args.records}")
    import numpy

    print(
        f"python {platform.python_version()}, numpy {numpy.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} cores; CPU flags: {cpu_flags()}"
    )
    if not (folder / PRISTINE).exists():
        build(folder, args.records)
    if not args.build_only:
        run(folder, args)


if __name__ == "__main__":
    main()
