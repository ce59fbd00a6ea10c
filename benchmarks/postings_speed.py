"""What a warm ``find_postings`` query costs with regions, the shipped verifier against the previous one.

Builds (or reuses, with ``--keep``) a crowded ``LocalStore`` as ``reposts.py``
does: the photos of :mod:`photoset`, the drawings, a crowd of distractors and
the held-out pictures' composites stored (for the stored direction). Then asks
``find_postings`` at the default ``k`` with each held-out picture reposted in
each form (collages and insets: the regions' part; plain reposts: what every
query pays), and with each original (rows ``<form> stored``: its stored
composite must be found), once under each plan in the same run, the order
alternating from query to query, after one untimed warm-up of each query.

Prints per form and plan: recall (the original, or the stored composite,
returned), median wall and CPU seconds (this process, all threads) per query,
and the ratio shipped / previous; the queries one plan found and the other did
not, and postings one returned that the other did not; then ``add`` per image
with and without the regions of composites on a sample of the same files.

A plan also names the side the query's regions are described at
(:data:`img2img.postings.region_features.REGION_SIDE`); ``--as-bytes`` asks with
each query as JPEG bytes, decoded (and shrunk) as a file or URL is.

    python benchmarks/postings_speed.py --keep /tmp/img2img-speed --every 6
    python benchmarks/postings_speed.py --keep /tmp/img2img-speed --plans region512 shipped --as-bytes
    python benchmarks/postings_speed.py --keep /tmp/img2img-speed --thin 2 --add-sample 100
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from machine import cpu_flags
from photoset import load_photos
from quality import is_tuning_photo
from reposts import (
    ART,
    COMPOSITES,
    add_cost,
    build_crowd,
    companions,
    name_of,
    pools_of,
    save_all,
    stored_composites,
)

from img2img import EfficientNetEmbedder, ImageSearchClient, LocalStore
from img2img.postings import judge, region_features
from img2img.postings import shortlist as shortlist_module
from img2img.postings.features import extract_features
from img2img.postings.regions import crop_regions
from img2img.postings.screens import DEFAULT_SCREENS
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds
from img2img.testing.drawings import drawing
from img2img.testing.edits import jpeg_bytes
from img2img.testing.reposts import apply_repost

FORMS = (
    "collage2x2",
    "collage3x3",
    "inset15",
    "inset30",
    "inset40",
    "perspective10",
    "thumb160",
    "crop35",
)

#: The shortlist's region plan, the verifier's thresholds and the side the query's
#: regions are described at, of each: "previous" does all the verifier's work,
#: without the screens of :mod:`img2img.postings.screens`; "region512" describes
#: regions at 512 pixels, as before :data:`~img2img.postings.region_features.REGION_SIDE`.
PLANS: dict[str, tuple[shortlist_module.RegionPlan, Thresholds, int | None]] = {
    "previous": (
        shortlist_module.DEFAULT_PLAN,
        replace(DEFAULT_THRESHOLDS, screens=None),
        region_features.REGION_SIDE,
    ),
    **{
        f"region{side}": (shortlist_module.DEFAULT_PLAN, DEFAULT_THRESHOLDS, side)
        for side in (512, 384, 320)
    },
    # Regions cut and described at 512 as before region_features.py: a crop of a
    # query shrunk at decoding kept the whole picture's original_size.
    "crop512": (shortlist_module.DEFAULT_PLAN, DEFAULT_THRESHOLDS, None),
    # The perspective fit screened by the affine fit's count alone, as before its share.
    "perspective-count": (
        shortlist_module.DEFAULT_PLAN,
        replace(
            DEFAULT_THRESHOLDS,
            screens=replace(DEFAULT_SCREENS, least_affine_share_for_perspective=None),
        ),
        region_features.REGION_SIDE,
    ),
    # Five nearest pictures a region, as before REGION_K was 12.
    "region-k5": (
        replace(shortlist_module.DEFAULT_PLAN, region_k=5),
        DEFAULT_THRESHOLDS,
        region_features.REGION_SIDE,
    ),
    "shipped": (shortlist_module.DEFAULT_PLAN, DEFAULT_THRESHOLDS, region_features.REGION_SIDE),
}


@contextmanager
def plan(chosen: shortlist_module.RegionPlan, region_side: int | None) -> Iterator[None]:
    kept = shortlist_module.DEFAULT_PLAN, region_features.REGION_SIDE, judge.describe_region
    shortlist_module.DEFAULT_PLAN = chosen
    if region_side is None:
        judge.describe_region = described_as_before  # type: ignore[assignment]
    else:
        region_features.REGION_SIDE = region_side
    try:
        yield
    finally:
        shortlist_module.DEFAULT_PLAN, region_features.REGION_SIDE, judge.describe_region = kept


def described_as_before(image, box):
    return extract_features(crop_regions(image, [box])[0])


def build(keep: Path, crowd_size: int, every: int):
    """The pictures, the held-out queries, the stored composites and a client on the kept store."""
    photos, _ = load_photos()
    pictures = dict(photos) | {f"art/{i}": drawing(i) for i in range(ART)}
    crowd, source = build_crowd(pictures, crowd_size)
    queries = [n for n in sorted(pictures) if not is_tuning_photo(n)][::every]
    composites, _shows = stored_composites(pictures, queries, COMPOSITES)
    keep.mkdir(parents=True, exist_ok=True)
    marker = keep / f"built-crowd{crowd_size}-every{every}"
    folder = keep / "files"
    store = LocalStore(keep / "index.sqlite3")
    client = ImageSearchClient(embedder=EfficientNetEmbedder(), store=store)
    if not marker.exists():
        folder.mkdir(exist_ok=True)
        save_all(folder, pictures | crowd | composites)
        started = time.perf_counter()
        report = client.add([folder])
        print(
            f"indexed {report.indexed} images in {time.perf_counter() - started:.0f} s, "
            f"{store.count()} vectors"
        )
        marker.touch()
    else:
        print(f"reusing the store in {keep}: {store.count()} vectors")
    return client, pictures, crowd, source, queries, folder


def cases(pictures, queries, forms) -> Iterator[tuple[str, str, object, str]]:
    """``(form, kind, query image, name wanted)`` for every held-out picture and form."""
    pools = pools_of(pictures)
    for seed, name in enumerate(queries):
        kind = "art" if name.startswith("art/") else "photo"
        for form in forms:
            others = companions(name, form, pools[kind], seed)
            image = apply_repost(
                pictures[name], form, others=[pictures[o] for o in others], seed=seed
            )
            yield form, kind, image, name
        for form in (f for f in forms if f in COMPOSITES):
            yield f"{form} stored", kind, pictures[name], f"composite/{form}/{name}"


def timed(call: Callable[[], object]) -> tuple[object, float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, required=True, help="folder of the store, kept")
    parser.add_argument("--crowd", type=int, default=1000)
    parser.add_argument(
        "--every", type=int, default=6, help="every n-th held-out picture (composites stored)"
    )
    parser.add_argument("--thin", type=int, default=1, help="ask with every n-th of those only")
    parser.add_argument("--forms", nargs="*", default=list(FORMS))
    parser.add_argument("--plans", nargs="*", default=list(PLANS))
    parser.add_argument("--add-sample", type=int, default=0, help="images timed for add")
    parser.add_argument(
        "--as-bytes",
        action="store_true",
        help="ask with each query as JPEG bytes (quality 95), decoded as a file or URL is",
    )
    args = parser.parse_args()
    print(
        f"CPU flags: {cpu_flags()}; load average at the start "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    client, pictures, crowd, _source, queries, folder = build(args.keep, args.crowd, args.every)
    queries = queries[:: args.thin]
    print(f"{len(queries)} held-out pictures x {len(args.forms)} forms; plans {args.plans}")
    walls: dict[tuple[str, str], list[float]] = defaultdict(list)
    cpus: dict[tuple[str, str], list[float]] = defaultdict(list)
    found: dict[tuple[str, str], list[bool]] = defaultdict(list)
    returned: dict[str, dict[tuple[int, str], set[str]]] = defaultdict(dict)
    for number, (form, _kind, picture, wanted) in enumerate(cases(pictures, queries, args.forms)):
        image = jpeg_bytes(picture, quality=95) if args.as_bytes else picture
        order = args.plans if number % 2 == 0 else args.plans[::-1]
        # Warm: every candidate's features in the cache (the first plan does all its work).
        region_plan, thresholds, side = PLANS[args.plans[0]]
        with plan(region_plan, side):
            client.find_postings(image, thresholds=thresholds)
        for label in order:
            region_plan, thresholds, side = PLANS[label]
            with plan(region_plan, side):
                postings, wall, cpu = timed(
                    lambda image=image, t=thresholds: client.find_postings(image, thresholds=t)
                )
            walls[(label, form)].append(wall)
            cpus[(label, form)].append(cpu)
            names = {name_of(p.image_url) for p in postings}  # type: ignore[attr-defined]
            found[(label, form)].append(wanted in names)
            returned[label][(number, f"{form} {wanted}")] = names
    compare(args.plans, returned, found)
    rows = [*args.forms, *(f"{f} stored" for f in args.forms if f in COMPOSITES)]
    if rows:
        report(rows, args.plans, walls, cpus, found)
    print("load average at the end " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    if args.add_sample:
        names = sorted(pictures) + sorted(crowd)
        sample = random.Random("add").sample(names, args.add_sample)
        add_cost(folder, sample, client.embedder)


def compare(plans, returned, found) -> None:
    """Query for query: what each plan found that the first did not, and the reverse."""
    first = plans[0]
    for second in plans[1:]:
        compare_two(first, second, returned)


def compare_two(first, second, returned) -> None:
    keys = sorted(returned[first])
    differ = [k for k in keys if returned[first][k] != returned[second][k]]
    print(
        f"\nqueries whose postings differ between {first} and {second}: {len(differ)} of {len(keys)}"
    )
    for key in differ:
        only_first = sorted(returned[first][key] - returned[second][key])
        only_second = sorted(returned[second][key] - returned[first][key])
        print(f"  {key[1]}: only {first} {only_first}, only {second} {only_second}")


def report(rows, plans, walls, cpus, found) -> None:
    print(f"\n{'form':18} {'plan':9} {'n':>3} {'R':>6} {'wall':>7} {'CPU':>7}")
    groups = {
        "plain reposts": [f for f in rows if f not in COMPOSITES and not f.endswith("stored")],
        "composites": [f for f in rows if f in COMPOSITES],
        "stored composites": [f for f in rows if f.endswith("stored")],
        "all": rows,
    }
    for form in [*rows, *groups]:
        for label in plans:
            keys = [(label, f) for f in groups.get(form, [form])]
            if not any(found[key] for key in keys):
                continue
            hits = [h for k in keys for h in found[k]]
            wall = [w for k in keys for w in walls[k]]
            cpu = [c for k in keys for c in cpus[k]]
            print(
                f"{form:18} {label:9} {len(hits):3} {sum(hits) / max(1, len(hits)):6.3f} "
                f"{statistics.median(wall):7.3f} {statistics.median(cpu):7.3f}"
            )
    first = plans[0]
    for second in plans[1:]:
        for group, forms in groups.items():
            for name, table in (("wall", walls), ("CPU", cpus)):
                a = [v for f in forms for v in table[(first, f)]]
                b = [v for f in forms for v in table[(second, f)]]
                if a and b:
                    ratio = statistics.median(b) / statistics.median(a)
                    print(f"{group}: median {name} per query, {second} / {first} = {ratio:.2f}")


if __name__ == "__main__":
    main()
