"""Quality of search and find_postings on real photos, edit by edit, on held-out photos.

Indexes every photo of :mod:`photoset` (55 with ``pip install -e '.[bench]'``),
then queries with an edited copy of each photo under each edit of
:mod:`img2img.testing.edits` (resize, JPEG 70/30, crops keeping 90/70/50 % of
each side, rotations of +-10 degrees, colour jitter, greyscale, mirror, text
overlay, screenshot border; every copy re-saved as JPEG). Every other photo is
a distractor. Prints, per edit:

- ``search``: recall@1, recall@5 and mAP (one relevant image per query: the original);
- ``find_postings``: recall (the original is returned) and precision (what is
  returned is the original), beside the perceptual-hash filter it replaces
  (dHash distance <= 10 among the 50 nearest) as the baseline;
- how often the two views of the stereo pair (one scene, nearby viewpoints)
  are called copies of each other, and how often a *bent* photo (a smooth
  displacement of up to 6 px, as a second viewpoint moves a scene; then
  re-saved, recoloured or cropped) is called a copy of its original, with the
  default thresholds and with loose fits never admitted;
- seconds per query and per indexed image, and a warm-cache postings query
  over a 50-candidate shortlist against a plain search in the same run.

The verifier's thresholds were tuned on the photos whose name hashes to 0 mod
3; the table reports the other two thirds (held out), then a one-line summary
of the tuning third.

    python benchmarks/quality.py                 # EfficientNet, and CLIP if its weights are here
    python benchmarks/quality.py --quick         # every third photo, about a quarter of the time
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from photoset import SAME_SCENE, load_photos

from img2img import (
    ClipEmbedder,
    EfficientNetEmbedder,
    Embedder,
    ImageSearchClient,
    InMemoryStore,
)
from img2img.hashes import difference_hash, hamming_distance
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds
from img2img.testing.edits import EDITS, MILD_EDITS, apply_edit, bend

SHORTLIST = 50
BASELINE_MAX_DISTANCE = 10
#: How far bent photos are displaced (pixels at 512), and the edits applied after.
BEND_PIXELS = 6.0
BEND_EDITS = ("jpeg70", "colour", "crop70")


def is_tuning_photo(name: str) -> bool:
    """The third of the photos the thresholds were chosen on."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 3 == 0


def file_name(name: str) -> str:
    return name.replace("/", "__") + ".png"


@dataclass
class Tally:
    queries: int = 0
    rank1: int = 0
    rank5: int = 0
    average_precision: float = 0.0
    found: int = 0
    returned: int = 0
    correct: int = 0
    baseline_found: int = 0
    baseline_returned: int = 0
    baseline_correct: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in (
            "queries", "rank1", "rank5", "average_precision", "found", "returned", "correct",
            "baseline_found", "baseline_returned", "baseline_correct",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds


def ratio(part: float, whole: float) -> str:
    return f"{part / whole:6.3f}" if whole else "   n/a"


def evaluate(
    client: ImageSearchClient,
    photos: dict[str, Image.Image],
    ids: dict[str, str],
    names: list[str],
    postings: bool,
) -> tuple[dict[str, Tally], dict[str, int]]:
    partner = dict(SAME_SCENE) | {b: a for a, b in SAME_SCENE}
    tallies: dict[str, Tally] = defaultdict(Tally)
    scene = {"queries": 0, "called_copy": 0}
    order = sorted(photos)
    for name in names:
        for edit in EDITS:
            query = apply_edit(photos[name], edit, seed=order.index(name))
            tally = tallies[edit]
            tally.queries += 1
            near = client.search(query, k=SHORTLIST)
            ranked = [m.id for m in near]
            rank = ranked.index(ids[name]) + 1 if ids[name] in ranked else None
            tally.rank1 += rank == 1
            tally.rank5 += rank is not None and rank <= 5
            tally.average_precision += 1.0 / rank if rank else 0.0
            if not postings:
                continue
            query_hash = difference_hash(query)
            by_hash = [
                m.id
                for m in near
                if hamming_distance(query_hash, str(m.metadata["dhash"])) <= BASELINE_MAX_DISTANCE
            ]
            tally.baseline_returned += len(by_hash)
            tally.baseline_correct += by_hash.count(ids[name])
            tally.baseline_found += ids[name] in by_hash
            started = time.perf_counter()
            found = [p.id for p in client.find_postings(query, k=SHORTLIST)]
            tally.seconds.append(time.perf_counter() - started)
            tally.returned += len(found)
            tally.correct += found.count(ids[name])
            tally.found += ids[name] in found
            if name in partner:
                scene["queries"] += 1
                scene["called_copy"] += ids[partner[name]] in found
    return tallies, scene


def print_table(title: str, tallies: dict[str, Tally], postings: bool) -> Tally:
    print(f"\n{title}")
    head = f"{'edit':10} {'n':>4} {'R@1':>6} {'R@5':>6} {'mAP':>6}"
    if postings:
        head += f" | {'postings R':>10} {'P':>6} | {'dHash R':>7} {'P':>6}"
    print(head)
    total = Tally()
    for edit in EDITS:
        t = tallies[edit]
        total.add(t)
        line = (
            f"{edit:10} {t.queries:4} {ratio(t.rank1, t.queries)} {ratio(t.rank5, t.queries)} "
            f"{ratio(t.average_precision, t.queries)}"
        )
        if postings:
            line += (
                f" | {ratio(t.found, t.queries):>10} {ratio(t.correct, t.returned)}"
                f" | {ratio(t.baseline_found, t.queries):>7} "
                f"{ratio(t.baseline_correct, t.baseline_returned)}"
            )
        print(line)
    line = (
        f"{'all':10} {total.queries:4} {ratio(total.rank1, total.queries)} "
        f"{ratio(total.rank5, total.queries)} {ratio(total.average_precision, total.queries)}"
    )
    if postings:
        line += (
            f" | {ratio(total.found, total.queries):>10} {ratio(total.correct, total.returned)}"
            f" | {ratio(total.baseline_found, total.queries):>7} "
            f"{ratio(total.baseline_correct, total.baseline_returned)}"
        )
    print(line)
    return total


def bent_views(
    client: ImageSearchClient,
    photos: dict[str, Image.Image],
    ids: dict[str, str],
    names: list[str],
) -> tuple[int, int, int]:
    """(queries, called a copy, called a copy with loose fits never admitted) for
    each photo bent, then edited: stand-ins for another viewpoint of the scene."""
    strict = Thresholds(max_noisy_residual=DEFAULT_THRESHOLDS.max_residual)
    order = sorted(photos)
    queries = called = called_strict = 0
    for name in names:
        bent = bend(photos[name], BEND_PIXELS, seed=order.index(name))
        for edit in BEND_EDITS:
            query = apply_edit(bent, edit, seed=order.index(name))
            queries += 1
            found = client.find_postings(query, k=SHORTLIST)
            called += ids[name] in [p.id for p in found]
            found = client.find_postings(query, k=SHORTLIST, thresholds=strict)
            called_strict += ids[name] in [p.id for p in found]
    return queries, called, called_strict


def warm_timing(
    client: ImageSearchClient, photos: dict[str, Image.Image], names: list[str]
) -> None:
    """Median seconds of a warm postings query (50 candidates) and of a plain search.

    With fewer photos indexed (the ``bench`` extra's photo packages missing),
    the shortlist is every photo, and the line says how many.
    """
    shortlist = min(SHORTLIST, len(photos))
    queries = [apply_edit(photos[n], "crop70", seed=1) for n in names[:15]]
    for query in queries[:3]:
        client.find_postings(query, k=shortlist)  # warm every candidate's features
    strict = Thresholds(max_noisy_residual=DEFAULT_THRESHOLDS.max_residual)
    search_times, postings_times, strict_times = [], [], []
    for _ in range(2):
        for query in queries:
            started = time.perf_counter()
            client.search(query, k=shortlist)
            search_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = client.find_postings(query, k=shortlist)
            postings_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.find_postings(query, k=shortlist, thresholds=strict)
            strict_times.append(time.perf_counter() - started)
    assert result.candidates >= shortlist - 1, "the shortlist was not filled"
    search_median = statistics.median(search_times)
    postings_median = statistics.median(postings_times)
    print(
        f"warm cache, {shortlist}-candidate shortlist: find_postings median "
        f"{postings_median:.3f} s (p90 {sorted(postings_times)[int(len(postings_times) * 0.9)]:.3f} s), "
        f"search median {search_median:.3f} s, ratio {postings_median / search_median:.1f}x; "
        f"with loose fits never admitted {statistics.median(strict_times):.3f} s"
    )


def embedders(include_clip: bool) -> list[tuple[Embedder, str, bool]]:
    """(embedder, label, scored) for every embedder available here."""
    found: list[tuple[Embedder, str, bool]] = [
        (EfficientNetEmbedder(), "EfficientNet-Lite0 (ImageNet weights)", True)
    ]
    if include_clip:
        clip = ClipEmbedder()
        if clip.weights_available():
            found.append((clip, f"CLIP {clip.model_id}", True))
        else:
            found.append(
                (
                    ClipEmbedder(pretrained=None),
                    "CLIP ViT-B-32 with RANDOM weights (no checkpoint here): not scored",
                    False,
                )
            )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every third photo only")
    parser.add_argument("--no-clip", action="store_true", help="skip CLIP")
    args = parser.parse_args()

    photos, notes = load_photos()
    for note in notes:
        print(note)
    names = sorted(photos)
    if args.quick:
        names = names[::3]
    tuning = [n for n in names if is_tuning_photo(n)]
    held_out = [n for n in names if not is_tuning_photo(n)]
    print(
        f"python {platform.python_version()}, {platform.machine()}; {len(photos)} photos indexed; "
        f"queries from {len(held_out)} held-out and {len(tuning)} tuning photos x {len(EDITS)} edits"
    )

    folder = Path(tempfile.mkdtemp(prefix="img2img-quality-"))
    for name, photo in photos.items():
        photo.save(folder / file_name(name))
    for embedder, label, scored in embedders(not args.no_clip):
        client = ImageSearchClient(embedder=embedder, store=InMemoryStore())
        embedder.embed_images([photos[names[0]]])  # load the model outside the timing
        started = time.perf_counter()
        report = client.add([folder])
        per_image = (time.perf_counter() - started) / max(1, report.indexed)
        ids = {
            name: match.id
            for name in photos
            for match in client.search(folder / file_name(name), k=1)
        }
        print(
            f"\n== {label} ==\nindexing: {per_image * 1000:.0f} ms per image (embedding, thumbnail)"
        )
        tallies, scene = evaluate(client, photos, ids, held_out, postings=scored)
        total = print_table("held-out photos", tallies, postings=scored)
        if not scored:
            continue
        mild = [tallies[e] for e in MILD_EDITS]
        print(
            "search recall@1 on mild edits (" + ", ".join(MILD_EDITS) + "): "
            f"{sum(t.rank1 for t in mild) / sum(t.queries for t in mild):.3f}"
        )
        print(
            f"find_postings: median {statistics.median(total.seconds):.3f} s per query "
            f"(cold cache for the first query of each picture)"
        )
        tune_tallies, tune_scene = evaluate(client, photos, ids, tuning, postings=True)
        tune = Tally()
        for t in tune_tallies.values():
            tune.add(t)
        print(
            f"tuning photos: postings recall {tune.found / tune.queries:.3f}, precision "
            f"{tune.correct / max(1, tune.returned):.3f}, worst edit recall "
            f"{min(t.found / t.queries for t in tune_tallies.values()):.3f}"
        )
        queries = scene["queries"] + tune_scene["queries"]
        if queries:
            print(
                f"stereo pair (one scene, nearby viewpoints): the other view called a copy in "
                f"{scene['called_copy'] + tune_scene['called_copy']} of {queries} queries"
            )
        for label, group in (("held-out", held_out), ("tuning", tuning)):
            bent, called, strict = bent_views(client, photos, ids, group)
            print(
                f"bent {label} photos (up to {BEND_PIXELS:.0f} px, then {', '.join(BEND_EDITS)}): "
                f"called a copy in {called} of {bent} queries ({strict} with loose fits never "
                f"admitted)"
            )
        warm_timing(client, photos, held_out)


if __name__ == "__main__":
    main()
