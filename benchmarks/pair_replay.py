"""The pairs a ``duplicates()`` pass judges, replayed under two verifier settings.

    python benchmarks/duplicates_real.py --records 10000 --build-only   # the store, once
    python benchmarks/pair_replay.py --records 10000 --pairs 2000

Finds every record's neighbours in the store ``duplicates_real.py`` built (as
the pass does: the same ``k``, gate and mutual pairs judged once), draws a
sample of those pairs, computes each picture's features once, and judges the
sample with the shipped thresholds and with ``--baseline`` (a setting of
:data:`BASELINES`), alternating rounds on one thread. Prints the CPU time of
each (summed over the rounds, and their ratio), split into pairs of one planted
group and pairs of two, and every pair whose verdict differs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from duplicates_real import _name
from machine import cpu_flags
from real_crowd import group_of

from img2img.postings.judge import DEFAULT_THRESHOLDS, Judge, Picture, Thresholds
from img2img.postings.screens import DEFAULT_SCREENS

#: Settings the shipped thresholds are compared with.
BASELINES: dict[str, Thresholds] = {
    "perspective by count": replace(
        DEFAULT_THRESHOLDS,
        screens=replace(DEFAULT_SCREENS, least_affine_share_for_perspective=None),
    ),
    "no screens": replace(DEFAULT_THRESHOLDS, screens=None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--folder", type=Path, help="default /tmp/img2img-dupreal-<records>")
    parser.add_argument("--pairs", type=int, default=2000, help="pairs drawn (all: 0)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", choices=sorted(BASELINES), default="perspective by count")
    args = parser.parse_args()
    folder = args.folder or Path(f"/tmp/img2img-dupreal-{args.records}")

    from img2img import LocalStore
    from img2img.images import decode_image
    from img2img.postings.duplicates import neighbours_to_judge
    from img2img.postings.features import extract_features
    from img2img.postings.grouping import GROUP_MIN_COSINE
    from img2img.postings.verify import one_blas_thread

    print(f"CPU flags: {cpu_flags()}")
    store = LocalStore(folder / "store.sqlite3")
    pairs = [
        (record.id, neighbour.id)
        for record, fresh in neighbours_to_judge(store, k=args.k, min_score=GROUP_MIN_COSINE)
        for neighbour in fresh
    ]
    sample = random.Random(1).sample(pairs, min(args.pairs or len(pairs), len(pairs)))
    ids = sorted({i for pair in sample for i in pair})
    records = store.fetch(ids)
    started = time.process_time()
    features = {
        i: extract_features(
            decode_image(
                Path(str(records[i].metadata["image_url"]).removeprefix("file://")).read_bytes()
            )
        )
        for i in ids
    }
    print(
        f"{len(pairs):,} pairs judged by a pass over {store.count():,} records; "
        f"{len(sample):,} drawn, {len(ids):,} pictures described in "
        f"{time.process_time() - started:.0f} s"
    )

    def picture(i: str) -> Picture:
        # The stored record as a pass sees it, with the features computed above
        # (no picture cache: its lambda is never called).
        return replace(Picture.stored(i, records[i].metadata, None), pixels=features[i])  # type: ignore[arg-type]

    names = {i: _name(str(records[i].metadata.get("image_url"))) for i in ids}
    one_group = [group_of(names[a]) == group_of(names[b]) for a, b in sample]
    settings = {"shipped": DEFAULT_THRESHOLDS, args.baseline: BASELINES[args.baseline]}
    seconds = {label: {True: 0.0, False: 0.0} for label in settings}
    verdicts: dict[str, list[bool]] = {}
    with one_blas_thread():
        for _ in range(args.rounds):
            for label, thresholds in settings.items():
                said = []
                for (a, b), same_group in zip(sample, one_group, strict=True):
                    started = time.process_time()
                    judgement = Judge(picture(a), thresholds=thresholds).judge(picture(b))
                    seconds[label][same_group] += time.process_time() - started
                    said.append(judgement.whole)
                verdicts[label] = said
    base = seconds[args.baseline]
    for label, spent in seconds.items():
        total = spent[True] + spent[False]
        print(
            f"{label:22} {total:7.1f} s CPU ({spent[True]:.1f} s on pairs of one group, "
            f"{spent[False]:.1f} s on others); x{total / (base[True] + base[False]):.3f}"
        )
    differ = [
        (names[a], names[b])
        for (a, b), x, y in zip(sample, verdicts["shipped"], verdicts[args.baseline], strict=True)
        if x != y
    ]
    print(f"verdicts that differ: {len(differ)} of {len(sample):,} {json.dumps(differ[:10])}")


if __name__ == "__main__":
    main()
