"""What a change of the verifier's thresholds does, pair by pair, without a store.

Verifies every held-out picture of ``benchmarks/reposts.py`` against each of
its reposts (the pairs its table counts) under two sets of thresholds, and the
pairs that must stay refused (stereo, bent photos, flat scenes shot twice), and
prints what each set accepts. The shortlist is left out: a verdict that does
not change cannot change the table's recall.

    python benchmarks/guard_change.py --every 3
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from flatscenes import flat_scene_pairs
from photoset import SAME_SCENE, load_photos
from quality import BEND_EDITS, BEND_PIXELS, is_tuning_photo
from reposts import ART, companions

from img2img.postings.features import extract_features
from img2img.postings.verify import DEFAULT_THRESHOLDS, QueryFeatures, Thresholds, verify_features
from img2img.postings.warps import WarpGuard
from img2img.testing.drawings import drawing
from img2img.testing.edits import apply_edit, bend, jpeg
from img2img.testing.reposts import REPOSTS, apply_repost

#: The thresholds before the second-motion check and the stricter containment.
BEFORE = Thresholds(
    max_second_motion=math.inf, warp=WarpGuard(min_contained=0.9, max_second_motion=math.inf)
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=3)
    args = parser.parse_args()
    photos, _ = load_photos()
    pictures = dict(photos) | {f"art/{i}": drawing(i) for i in range(ART)}
    queries = [n for n in sorted(pictures) if not is_tuning_photo(n)][:: args.every]
    pools = {
        k: [n for n in pictures if n.startswith("art/") == (k == "art")] for k in ("art", "photo")
    }
    settings = {"before": BEFORE, "now": DEFAULT_THRESHOLDS}
    kept: dict[str, Counter[str]] = {label: Counter() for label in settings}
    for seed, name in enumerate(queries):
        original = QueryFeatures.of(extract_features(pictures[name]))
        kind = "art" if name.startswith("art/") else "photo"
        for form in REPOSTS:
            others = [pictures[o] for o in companions(name, form, pools[kind], seed)]
            repost = extract_features(apply_repost(pictures[name], form, others=others, seed=seed))
            for label, thresholds in settings.items():
                kept[label][kind] += verify_features(original, repost, thresholds=thresholds).same
    print(
        f"{len(queries)} held-out pictures x {len(REPOSTS)} forms: reposts verified "
        + ", ".join(f"{label} {dict(c)}" for label, c in kept.items())
    )
    pairs = [("stereo", photos[a], photos[b]) for a, b in SAME_SCENE if a in photos and b in photos]
    pairs += [(n, jpeg(a), jpeg(b)) for n, a, b in flat_scene_pairs(photos)]
    pairs += [
        (n, jpeg(a), jpeg(b)) for n, a, b in flat_scene_pairs(photos, count=6, kinds=("wall",))
    ]
    order = sorted(photos)
    held = [n for n in order if not is_tuning_photo(n)][:: args.every]
    pairs += [
        (
            f"bent {n} {e}",
            photos[n],
            apply_edit(bend(photos[n], BEND_PIXELS, seed=order.index(n)), e, seed=1),
        )
        for n in held
        for e in BEND_EDITS
    ]
    for label, thresholds in settings.items():
        called: Counter[str] = Counter()
        for pair, a, b in pairs:
            fa, fb = extract_features(a), extract_features(b)
            for x, y in ((fa, fb), (fb, fa)):
                called[pair.split("-")[0].split(" ")[0]] += verify_features(
                    QueryFeatures.of(x), y, thresholds=thresholds
                ).same
        print(f"{label}: pairs called a copy (of 2 checks per pair): {dict(called)}")


if __name__ == "__main__":
    main()
