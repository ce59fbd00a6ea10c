"""What a change of the verifier does, pair by pair, without a store.

Verifies every held-out picture of ``benchmarks/reposts.py`` (or the tuning
third, ``--tuning``) against each of its reposts, the pairs its table counts,
as ``find_postings`` does (the repost is the query, the original's cached
thumbnail the candidate), under two settings: the verifier before a small
query's pixels were compared with the candidate's a fraction of a pixel at a
time (``flow=None``, see :mod:`img2img.postings.flow`) and the shipped one. Then
the pairs that must stay refused, both ways: drawings on one template (other
drawings of the same style: the same comic layout, the same badge and word
mark), the stereo pair, flat scenes shot from two places, bent photos; and
(``crowd``) the photos' reposts against every photo variant of the crowd of
``benchmarks/reposts.py`` (cut, turned, recoloured): a variant of another photo
called a copy is a wrong posting in that benchmark; ``stereo``, the quick part
of that: every repost of a held-out view of the stereo pair against every crowd
variant of the other view, with the seeds ``reposts.py --every 6`` gives them
(its crowd run's wrong photo postings were all such pairs). The shortlist is left out:
a verdict that does not change cannot change the table's recall.

    python benchmarks/guard_change.py --every 3
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from flatscenes import flat_scene_pairs
from machine import cpu_flags
from photoset import SAME_SCENE, load_photos
from quality import BEND_EDITS, BEND_PIXELS, is_tuning_photo
from reposts import ART, build_crowd, companions

from img2img.images import decode_image
from img2img.postings.cache import encode_thumbnail
from img2img.postings.dense import DEFAULT_DENSE_GUARD
from img2img.postings.features import LocalFeatures, extract_features
from img2img.postings.flow import DEFAULT_FLOW_GUARD
from img2img.postings.screens import DEFAULT_SCREENS
from img2img.postings.verify import (
    DEFAULT_THRESHOLDS,
    QueryFeatures,
    one_blas_thread,
    verify_features,
)
from img2img.testing.drawings import STYLES, drawing
from img2img.testing.edits import EDITS, apply_edit, bend, jpeg
from img2img.testing.reposts import REPOSTS, apply_repost

#: The verifier before a small query's pixels were compared with the candidate's.
BEFORE = replace(DEFAULT_THRESHOLDS, flow=None)
SETTINGS = {"before": BEFORE, "shipped": DEFAULT_THRESHOLDS}
#: Other settings to try beside them (``--try``).
TRIALS = {
    "unlike 0.3": replace(DEFAULT_THRESHOLDS, dense=replace(DEFAULT_DENSE_GUARD, max_unlike=0.3)),
    "unlike 0.45": replace(DEFAULT_THRESHOLDS, dense=replace(DEFAULT_DENSE_GUARD, max_unlike=0.45)),
    "noise from 0.35": replace(DEFAULT_THRESHOLDS, noise_from=0.35),
    "noise from 0.5": replace(DEFAULT_THRESHOLDS, noise_from=0.5),
    "flow quartile only": replace(
        DEFAULT_THRESHOLDS, flow=replace(DEFAULT_FLOW_GUARD, max_stretch=float("inf"))
    ),
    "no seams, noise from 1": replace(
        DEFAULT_THRESHOLDS, seams=None, noise_from=DEFAULT_THRESHOLDS.max_residual
    ),
    "perspective by count": replace(
        DEFAULT_THRESHOLDS,
        screens=replace(DEFAULT_SCREENS, least_affine_share_for_perspective=None),
    ),
}
#: Reposts of each photo checked against every photo variant of the crowd.
CROWD_FORMS = ("thumb160", "noise", "perspective10", "stretch1:1", "meme")
#: Other drawings of one style each drawing is checked against (besides the benchmark's own).
TEMPLATE_CROWD = 30


def cached(image):  # type: ignore[no-untyped-def]
    """The candidate as the picture cache keeps it: a 512-pixel JPEG thumbnail."""
    return decode_image(encode_thumbnail(image))


def verdicts(query: LocalFeatures, candidate: LocalFeatures) -> dict[str, bool]:
    pair = QueryFeatures.of(query)
    return {
        label: verify_features(pair, candidate, thresholds=thresholds).same
        for label, thresholds in SETTINGS.items()
    }


def reposts_verified(pictures, names) -> None:  # type: ignore[no-untyped-def]
    pools = {
        k: [n for n in pictures if n.startswith("art/") == (k == "art")] for k in ("art", "photo")
    }
    kept: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    per_form: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    count: Counter[str] = Counter()
    for seed, name in enumerate(names):
        original = extract_features(cached(pictures[name]))
        kind = "art" if name.startswith("art/") else "photo"
        for form in REPOSTS:
            others = [pictures[o] for o in companions(name, form, pools[kind], seed)]
            repost = extract_features(apply_repost(pictures[name], form, others=others, seed=seed))
            count[kind] += 1
            for label, same in verdicts(repost, original).items():
                kept[label][kind] += same
                per_form[(kind, form)][label] += same
    print(f"\n{len(names)} pictures x {len(REPOSTS)} forms: reposts verified")
    for label, counts in kept.items():
        print(f"  {label:16} " + ", ".join(f"{k} {counts[k]} of {count[k]}" for k in sorted(count)))
    print(
        f"  {'form':14} "
        + " ".join(f"{k + ' ' + label:>24}" for k in ("photo", "art") for label in SETTINGS)
    )
    for form in REPOSTS:
        cells = [per_form[(k, form)][label] for k in ("photo", "art") for label in SETTINGS]
        print(f"  {form:14} " + " ".join(f"{c:>24}" for c in cells))


def template_pairs(names: list[str]) -> None:
    """Each drawing against the other drawings of its style, both as drawn and as a thumbnail."""
    seeds = [int(n.split("/")[1]) for n in names if n.startswith("art/")]
    crowd = [10_000 + i for i in range(3 * TEMPLATE_CROWD)]
    stored = {s: extract_features(cached(drawing(s))) for s in range(ART) if True} | {
        s: extract_features(cached(drawing(s))) for s in crowd
    }
    called: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    checks: Counter[str] = Counter()
    for seed in seeds:
        style = STYLES[seed % len(STYLES)]
        queries = {
            "as drawn": extract_features(jpeg(drawing(seed))),
            "thumb160": extract_features(apply_repost(drawing(seed), "thumb160", seed=seed)),
        }
        for other in stored:
            if other == seed or other % len(STYLES) != seed % len(STYLES):
                continue
            for query in queries.values():
                checks[style] += 1
                for label, same in verdicts(query, stored[other]).items():
                    called[label][style] += same
    print(f"\ndrawings on one template (each of {len(seeds)} against the others of its style):")
    for label, counts in called.items():
        print(
            f"  {label:16} " + ", ".join(f"{s} {counts[s]} of {checks[s]}" for s in sorted(checks))
        )


def refused_pairs(photos, every: int, tuning: bool) -> None:  # type: ignore[no-untyped-def]
    pairs = [("stereo", photos[a], photos[b]) for a, b in SAME_SCENE if a in photos and b in photos]
    pairs += [(n, jpeg(a), jpeg(b)) for n, a, b in flat_scene_pairs(photos)]
    pairs += [
        (n, jpeg(a), jpeg(b)) for n, a, b in flat_scene_pairs(photos, count=6, kinds=("wall",))
    ]
    order = sorted(photos)
    held = [n for n in order if is_tuning_photo(n) == tuning][::every]
    pairs += [
        (
            f"bent {n} {e}",
            photos[n],
            apply_edit(bend(photos[n], BEND_PIXELS, seed=order.index(n)), e, seed=1),
        )
        for n in held
        for e in BEND_EDITS
    ]
    called: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    named: dict[str, list[str]] = defaultdict(list)
    checks: Counter[str] = Counter()
    for pair, a, b in pairs:
        kind = pair.split("-")[0].split(" ")[0]
        fa, fb = extract_features(a), extract_features(b)
        for way, (x, y) in (("a->b", (fa, fb)), ("b->a", (fb, fa))):
            checks[kind] += 1
            for label, same in verdicts(x, y).items():
                called[label][kind] += same
                if same:
                    named[label].append(f"{pair} {way}")
    print("\npairs that must be refused, called a copy (both ways):")
    for label, counts in called.items():
        print(
            f"  {label:16} " + ", ".join(f"{k} {counts[k]} of {checks[k]}" for k in sorted(checks))
        )
        print(f"  {'':16} {', '.join(named[label]) or 'none'}")


def crowd_pairs(photos, pictures, names) -> None:  # type: ignore[no-untyped-def]
    """Each photo's reposts against every photo variant of the crowd of ``reposts.py``."""
    crowd, source = build_crowd(pictures, 1000)
    variants = {
        c: extract_features(cached(image)) for c, image in crowd.items() if source.get(c) in photos
    }
    pool = [n for n in pictures if not n.startswith("art/")]
    right: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    wrong: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    checks: Counter[str] = Counter()
    seen: dict[str, list[str]] = defaultdict(list)
    for seed, name in enumerate(n for n in names if n in photos):
        for form in CROWD_FORMS:
            others = [pictures[o] for o in companions(name, form, pool, seed)]
            repost = extract_features(apply_repost(photos[name], form, others=others, seed=seed))
            for variant, features in variants.items():
                own = source[variant] == name
                checks["own" if own else "other"] += 1
                for label, same in verdicts(repost, features).items():
                    (right if own else wrong)[label][form] += same
                    if same and not own and label == "shipped":
                        seen[f"{name} {form}"].append(f"{variant} (of {source[variant]})")
    print(
        f"\ncrowd: {len(variants)} photo variants x reposts ({', '.join(CROWD_FORMS)}): "
        f"{checks['own']} checks against a variant of the query's photo, {checks['other']} of another"
    )
    for label in SETTINGS:
        print(
            f"  {label:16} own variants called copies {sum(right[label].values())}, "
            f"others {sum(wrong[label].values())} ("
            + ", ".join(f"{f} {wrong[label][f]}" for f in CROWD_FORMS)
            + ")"
        )
    for query, called in sorted(seen.items()):
        print(f"    {query}: {', '.join(called)}")


def edits_verified(photos, tuning: bool) -> None:  # type: ignore[no-untyped-def]
    """Each photo's 13 edits of ``benchmarks/quality.py`` (its seeds) against its cached original."""
    order = sorted(photos)
    kept: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    count = 0
    for name in (n for n in order if is_tuning_photo(n) == tuning):
        original = extract_features(cached(photos[name]))
        for edit in EDITS:
            query = extract_features(apply_edit(photos[name], edit, seed=order.index(name)))
            count += 1
            for label, same in verdicts(query, original).items():
                kept[label][edit] += same
    print(f"\nthe 13 edits of quality.py, verified (of {count}):")
    for label, counts in kept.items():
        print(
            f"  {label:16} {sum(counts.values())}: " + ", ".join(f"{e} {counts[e]}" for e in EDITS)
        )


def stereo_pairs(photos, pictures) -> None:  # type: ignore[no-untyped-def]
    """Every repost of each held-out view of the stereo pair against every crowd variant
    of the other view (and of its own), the query seeded as ``reposts.py --every 6`` seeds it."""
    crowd, source = build_crowd(pictures, 1000)
    queries = [n for n in sorted(pictures) if not is_tuning_photo(n)][::6]
    pool = [n for n in pictures if not n.startswith("art/")]
    wrong: dict[str, Counter[str]] = {label: Counter() for label in SETTINGS}
    own: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    for a, b in SAME_SCENE:
        for name, other in ((a, b), (b, a)):
            if name not in queries or other not in photos:
                continue
            seed = queries.index(name)
            stored = {
                c: extract_features(cached(image))
                for c, image in crowd.items()
                if source.get(c) in (name, other)
            }
            stored[other] = extract_features(cached(photos[other]))
            for form in REPOSTS:
                others = [pictures[o] for o in companions(name, form, pool, seed)]
                repost = extract_features(
                    apply_repost(photos[name], form, others=others, seed=seed)
                )
                for c, features in stored.items():
                    mine = source.get(c) == name
                    checks["own" if mine else "other"] += 1
                    for label, same in verdicts(repost, features).items():
                        if mine:
                            own[label] += same
                        elif same:
                            wrong[label][f"{form} {c}"] += 1
    print(
        f"\nstereo: reposts of a view against the crowd's variants of the other view "
        f"({checks['other']} checks) and of its own ({checks['own']})"
    )
    for label in SETTINGS:
        print(
            f"  {label:16} other view called a copy {sum(wrong[label].values())} "
            f"({', '.join(sorted(wrong[label])) or 'none'}); own view {own[label]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument(
        "--tuning", action="store_true", help="the tuning third instead of the held-out part"
    )
    parser.add_argument(
        "--only", choices=("reposts", "edits", "templates", "scenes", "stereo", "crowd"), nargs="*"
    )
    parser.add_argument("--try", dest="trials", choices=sorted(TRIALS), nargs="*", default=[])
    args = parser.parse_args()
    parts = args.only or ("reposts", "edits", "templates", "scenes", "stereo", "crowd")
    SETTINGS.update({name: TRIALS[name] for name in args.trials})
    print(f"CPU flags: {cpu_flags()}")
    photos, _ = load_photos()
    pictures = dict(photos) | {f"art/{i}": drawing(i) for i in range(ART)}
    names = [n for n in sorted(pictures) if is_tuning_photo(n) == args.tuning][:: args.every]
    started = time.process_time()
    random.seed(0)
    with one_blas_thread():
        if "reposts" in parts:
            reposts_verified(pictures, names)
        if "edits" in parts:
            edits_verified(photos, args.tuning)
        if "templates" in parts:
            template_pairs(names)
        if "scenes" in parts:
            refused_pairs(photos, args.every, args.tuning)
        if "stereo" in parts:
            stereo_pairs(photos, pictures)
        if "crowd" in parts:
            crowd_pairs(photos, pictures, names)
    print(f"\nCPU time {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
