"""find_postings on reposts as the web makes them, in a crowded store, on held-out pictures.

Indexes the photos of :mod:`photoset`, flat-colour drawings of
:mod:`img2img.testing.drawings` and a crowd of distractors (variants of the
photos and drawings: cut, turned, recoloured, mirrored; and other drawings),
then queries with every held-out picture under every repost form of
:mod:`img2img.testing.reposts` and every edit of :mod:`img2img.testing.edits`.
Prints, per form and per kind of picture (photo, art):

- ``R``: postings recall (the original is returned), ``P``: precision (what is
  returned shows the picture: the original, a crowd variant of it, or, for a
  collage or an inset, one of the pictures composed with it), ``top5``: the
  original in the search's top 5 (the shortlist's part), and the relations;

and for the composite forms (collages, insets) the other way round too: the
composite stored (made with other companions), the original as the query
(rows ``<form> stored``: found when the composite is returned);

then the pairs that must not be called copies (the stereo pair, bent photos,
and :mod:`flatscenes`' pairs of one flat scene shot from two places, both
ways), the seconds a warm ``find_postings`` query takes at the default ``k``,
and indexing time per image. Pictures whose name hashes to 0 mod 3 tuned the
thresholds; the table is the other two thirds.

    python benchmarks/reposts.py                   # crowd of 1,000
    python benchmarks/reposts.py --no-regions      # the shortlist of the whole query only
    python benchmarks/reposts.py --compare         # also the verifier before the flow check, beside it
    python benchmarks/reposts.py --crowd 150 --every 3 --tuning   # quick, on the tuning third
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).parent))

from flatscenes import flat_scene_pairs
from machine import cpu_flags
from photoset import SAME_SCENE, load_photos
from quality import BEND_EDITS, BEND_PIXELS, is_tuning_photo

from img2img import EfficientNetEmbedder, ImageSearchClient, InMemoryStore, verify_copy
from img2img.postings.verify import DEFAULT_THRESHOLDS
from img2img.testing.drawings import drawing
from img2img.testing.edits import EDITS, apply_edit, bend, jpeg
from img2img.testing.reposts import REPOSTS, apply_repost

ART = 36
#: Other pictures each form composes the query with (collage tiles, a backdrop).
COMPANIONS = {"collage2x2": 3, "collage3x3": 8}
#: Forms that compose the picture with others: also measured stored, with the original as query.
COMPOSITES = ("collage2x2", "collage3x3", "inset15", "inset30", "inset40")
#: The verifier before a small query's pixels were compared with the candidate's
#: (:mod:`img2img.postings.flow`), for ``--compare``.
BEFORE = replace(DEFAULT_THRESHOLDS, flow=None)
#: Seeds of the stored composites are apart from the queries' (other companions, other places).
STORED_SEED = 1000


def variant(image: Image.Image, rng: random.Random) -> Image.Image:
    """A distractor made from a picture: cut, turned, recoloured, maybe mirrored."""
    keep = rng.uniform(0.35, 0.8)
    width, height = round(image.width * keep), round(image.height * keep)
    left, top = rng.randint(0, image.width - width), rng.randint(0, image.height - height)
    out = image.crop((left, top, left + width, top + height)).rotate(
        rng.choice((0, 0, 15, -20, 90, 180)), expand=True, fillcolor=(0, 0, 0)
    )
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.3, 1.8))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.7, 1.3))
    return ImageOps.mirror(out) if rng.random() < 0.3 else out


def build_crowd(
    pictures: dict[str, Image.Image], size: int
) -> tuple[dict[str, Image.Image], dict[str, str]]:
    """``size`` distractors by name, and the picture each variant was made from."""
    rng = random.Random("crowd")
    names = sorted(pictures)
    crowd: dict[str, Image.Image] = {}
    source: dict[str, str] = {}
    for index in range(size):
        if index % 10 < 3:  # other drawings: flat art that is NOT any query's
            crowd[f"crowd/art{index}"] = drawing(10_000 + index)
            continue
        name = rng.choice(names)
        crowd[f"crowd/{index}"] = variant(pictures[name], rng)
        source[f"crowd/{index}"] = name
    return crowd, source


def save_all(folder: Path, pictures: dict[str, Image.Image]) -> None:
    for name, picture in pictures.items():
        picture.save(folder / (name.replace("/", "__") + ".jpg"), quality=92)


def companions(name: str, form: str, pool: list[str], seed: int) -> list[str]:
    rng = random.Random(f"{name}:{form}:{seed}")
    return rng.sample([n for n in pool if n != name], COMPANIONS.get(form, 1))


def name_of(url: str | None) -> str:
    """The picture or distractor name a stored file's URL was saved under."""
    return unquote(Path(urlsplit(url or "").path).stem).replace("__", "/")


def wrong_kind(picture: str, name: str, others: list[str], source: dict[str, str]) -> str:
    """What a wrongly returned picture is, for the precision breakdown."""
    made_from = source.get(picture, picture)
    if made_from in others:
        return "the backdrop or a companion (or a crowd variant of it)"
    art = made_from.startswith(("art/", "crowd/art"))
    same_style = art and name.startswith("art/") and _style(made_from) == _style(name)
    what = "drawing of the same style" if same_style else "drawing" if art else "photo"
    return f"another {what}" + (" (a crowd variant)" if picture in source else "")


def _style(name: str) -> int:
    number = int(name.rsplit("art", 1)[-1].lstrip("/"))
    return (number if name.startswith("art/") else 10_000 + number) % 3


def pools_of(pictures):
    return {
        kind: [n for n in pictures if n.startswith("art/") == (kind == "art")]
        for kind in ("art", "photo")
    }


def stored_composites(pictures, queries, forms):
    """For each query picture and composite form, the composite to store (by name) and
    the picture each shows."""
    pools = pools_of(pictures)
    made: dict[str, Image.Image] = {}
    shows: dict[str, set[str]] = {}
    for seed, name in enumerate(queries):
        kind = "art" if name.startswith("art/") else "photo"
        for form in (f for f in forms if f in COMPOSITES):
            others = companions(name, form, pools[kind], STORED_SEED + seed)
            key = f"composite/{form}/{name}"
            made[key] = apply_repost(
                pictures[name],
                form,
                others=[pictures[o] for o in others],
                seed=STORED_SEED + seed,
            )
            shows[key] = {name, *others}
    return made, shows


def evaluate(client, pictures, source, queries, forms, shows, regions, settings):
    """Tallies per (setting, kind, form): queries, found, top5, returned, correct, relations,
    and what the wrong postings were."""
    tallies: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    pools = pools_of(pictures)
    for seed, name in enumerate(queries):
        kind = "art" if name.startswith("art/") else "photo"
        for form in forms:
            others = companions(name, form, pools[kind], seed)
            if form in REPOSTS:
                query = apply_repost(
                    pictures[name], form, others=[pictures[o] for o in others], seed=seed
                )
            else:
                query = apply_edit(pictures[name], form, seed=seed)
            top5 = name in [name_of(m.image_url) for m in client.search(query, k=5)]
            shown = {name, *(others if form in COMPANIONS or form.startswith("inset") else ())}
            for label, thresholds in settings.items():
                tally = tallies[(label, kind, form)]
                tally["queries"] += 1
                tally["top5"] += top5
                for posting in client.find_postings(query, thresholds=thresholds, regions=regions):
                    picture = name_of(posting.image_url)
                    tally["returned"] += 1
                    right = (
                        picture in shown
                        or source.get(picture) in shown
                        or bool(shows.get(picture, set()) & shown)
                    )
                    tally["correct"] += right
                    if not right:
                        tally["wrong: " + wrong_kind(picture, name, others, source)] += 1
                        tally[f"wrong as {posting.relation}"] += 1
                    if picture == name:
                        tally["found"] += 1
                        tally[posting.relation] += 1
        # The other way round: the original asked, its composites stored.
        for form in (f for f in forms if f in COMPOSITES):
            stored = f"composite/{form}/{name}"
            top5 = stored in [name_of(m.image_url) for m in client.search(pictures[name], k=5)]
            for label, thresholds in settings.items():
                tally = tallies[(label, kind, f"{form} stored")]
                tally["queries"] += 1
                tally["top5"] += top5
                found = client.find_postings(pictures[name], thresholds=thresholds, regions=regions)
                for posting in found:
                    picture = name_of(posting.image_url)
                    tally["returned"] += 1
                    tally["correct"] += name in (picture, source.get(picture)) or name in shows.get(
                        picture, set()
                    )
                    if picture == stored:
                        tally["found"] += 1
                        tally[posting.relation] += 1
    return tallies


def print_table(tallies, forms, label) -> None:
    print(f"\n== {label} ==")
    print(f"{'form':20} {'kind':5} {'n':>4} {'R':>6} {'P':>6} {'top5':>6}  relations")
    rows = [*forms, *(f"{f} stored" for f in forms if f in COMPOSITES)]
    for kind in ("photo", "art"):
        total: Counter[str] = Counter()
        for form in rows:
            t = tallies[(label, kind, form)]
            total.update(t)
            rel = ", ".join(
                f"{r} {t[r]}" for r in ("copy", "warped", "contains", "part", "exact") if t[r]
            )
            print(
                f"{form:20} {kind:5} {t['queries']:4} {t['found'] / max(1, t['queries']):6.3f} "
                f"{t['correct'] / max(1, t['returned']):6.3f} {t['top5'] / max(1, t['queries']):6.3f}  {rel}"
            )
        print(
            f"{'all':20} {kind:5} {total['queries']:4} {total['found'] / max(1, total['queries']):6.3f} "
            f"{total['correct'] / max(1, total['returned']):6.3f} {total['top5'] / max(1, total['queries']):6.3f}"
        )
        wrong = {k: v for k, v in total.items() if k.startswith("wrong")}
        print(
            f"  wrong postings ({total['returned'] - total['correct']} of {total['returned']}): "
            + "; ".join(f"{k[6:]} {v}" for k, v in sorted(wrong.items()))
        )
        by_form = {
            f: tallies[(label, kind, f)]["returned"] - tallies[(label, kind, f)]["correct"]
            for f in rows
        }
        print("  by form: " + ", ".join(f"{f} {n}" for f, n in by_form.items() if n))


def refused_pairs(photos: dict[str, Image.Image], names: list[str]) -> None:
    """Pairs that must not be called copies, checked both ways with the verifier alone."""
    pairs = [
        (f"stereo {a}", photos[a], photos[b]) for a, b in SAME_SCENE if a in photos and b in photos
    ]
    pairs += [(f"flat scene {n}", jpeg(a), jpeg(b)) for n, a, b in flat_scene_pairs(photos)]
    called = [label for label, a, b in pairs for x, y in ((a, b), (b, a)) if verify_copy(x, y).same]
    print(
        f"\none scene from two places: {len(called)} of {2 * len(pairs)} checks called a copy {called}"
    )
    order = sorted(photos)
    bent = [
        verify_copy(
            photos[n], apply_edit(bend(photos[n], BEND_PIXELS, seed=order.index(n)), e, seed=1)
        ).same
        for n in names
        for e in BEND_EDITS
    ]
    print(
        f"bent photos (up to {BEND_PIXELS:.0f} px, then {', '.join(BEND_EDITS)}): {sum(bent)} of {len(bent)} called a copy"
    )


def warm_timing(client, pictures, names, regions) -> None:
    """Wall and CPU seconds (this process, all threads) of a warm query at the default k."""
    pools = pools_of(pictures)
    for form in ("perspective10", "collage2x2"):
        queries = []
        for i, n in enumerate(names[:12]):
            kind = "art" if n.startswith("art/") else "photo"
            others = [pictures[o] for o in companions(n, form, pools[kind], i)]
            queries.append(apply_repost(pictures[n], form, others=others, seed=i))
        for query in queries:
            client.find_postings(query, regions=regions)
        walls, cpus = [], []
        for query in queries:
            started, cpu = time.perf_counter(), time.process_time()
            client.find_postings(query, regions=regions)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        print(
            f"warm find_postings ({form} queries), default k: wall median "
            f"{statistics.median(walls):.3f} s, max {max(walls):.3f} s; CPU median "
            f"{statistics.median(cpus):.3f} s; load average {os.getloadavg()[0]:.1f}"
        )


def add_cost(folder: Path, names: list[str], embedder) -> None:
    """Seconds per image and vectors per image of ``add`` with and without the regions
    of composites, on the same files, in one run (each twice, the faster kept)."""
    files = [folder / (n.replace("/", "__") + ".jpg") for n in names]
    results = {}
    for regions in (False, True, False, True):
        client = ImageSearchClient(
            embedder=embedder, store=InMemoryStore(), index_regions=regions, cache_pictures=True
        )
        started, cpu = time.perf_counter(), time.process_time()
        report = client.add(files)
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        best = results.get(regions)
        if best is None or wall < best[0]:
            results[regions] = (wall, used, client.store.count() / max(1, report.indexed))
    for regions, (wall, used, per) in sorted(results.items()):
        print(
            f"add {len(files)} images, regions {'on ' if regions else 'off'}: "
            f"{wall / len(files) * 1000:.0f} ms wall, {used / len(files) * 1000:.0f} ms CPU per image, "
            f"{per:.2f} vectors per image"
        )
    off, on = results[False], results[True]
    print(f"add with regions / without: wall {on[0] / off[0]:.2f}x, CPU {on[1] / off[1]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crowd", type=int, default=1000, help="distractors in the store")
    parser.add_argument("--every", type=int, default=1, help="query every n-th picture only")
    parser.add_argument("--tuning", action="store_true", help="query the tuning third instead")
    parser.add_argument("--forms", nargs="*", help="only these forms")
    parser.add_argument(
        "--no-regions", action="store_true", help="no regions: whole-image shortlist, as before"
    )
    parser.add_argument(
        "--add-sample", type=int, default=300, help="images timed for add with and without regions"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also verify as before the flow check of small queries (flow=None)",
    )
    parser.add_argument(
        "--noise-from",
        type=float,
        help="also verify with Thresholds.noise_from set to this (a tight similarity's misfit asked to be noise)",
    )
    args = parser.parse_args()
    regions = not args.no_regions

    photos, notes = load_photos()
    for note in notes:
        print(note)
    pictures = dict(photos) | {f"art/{i}": drawing(i) for i in range(ART)}
    crowd, source = build_crowd(pictures, args.crowd)
    queries = [n for n in sorted(pictures) if is_tuning_photo(n) == args.tuning][:: args.every]
    forms = args.forms or [*REPOSTS, *EDITS]
    print(f"CPU flags: {cpu_flags()}; load average at the start {os.getloadavg()[0]:.1f}")
    print(
        f"python {platform.python_version()}; {len(photos)} photos, {ART} drawings, crowd of "
        f"{len(crowd)}; {len(queries)} {'tuning' if args.tuning else 'held-out'} pictures x {len(forms)} forms"
    )
    composites, shows = stored_composites(pictures, queries, forms)
    folder = Path(tempfile.mkdtemp(prefix="img2img-reposts-"))
    save_all(folder, pictures | crowd | composites)
    embedder = EfficientNetEmbedder()
    client = ImageSearchClient(embedder=embedder, store=InMemoryStore(), index_regions=regions)
    embedder.embed_images([photos[queries[0]] if queries[0] in photos else pictures[queries[0]]])
    started = time.perf_counter()
    report = client.add([folder])
    print(
        f"indexing: {(time.perf_counter() - started) / max(1, report.indexed) * 1000:.0f} ms per image, {report.indexed} images "
        f"({len(composites)} stored composites), {client.store.count()} vectors, regions {'on' if regions else 'off'}"
    )
    if args.add_sample:
        sample = random.Random("add").sample(sorted(pictures | crowd), args.add_sample)
        add_cost(folder, sample, embedder)
    settings = {"shipped": DEFAULT_THRESHOLDS}
    if args.compare:
        settings["before (no flow check)"] = BEFORE
    if args.noise_from is not None:
        settings[f"noise from {args.noise_from}"] = replace(
            DEFAULT_THRESHOLDS, noise_from=args.noise_from
        )
    started = time.perf_counter()
    tallies = evaluate(client, pictures, source, queries, forms, shows, regions, settings)
    print(f"queries took {time.perf_counter() - started:.0f} s")
    for label in settings:
        print_table(tallies, forms, label)
    refused_pairs(
        photos, [n for n in sorted(photos) if is_tuning_photo(n) == args.tuning][:: args.every]
    )
    warm_timing(client, pictures, queries, regions)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
