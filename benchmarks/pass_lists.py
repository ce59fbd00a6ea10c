"""What a pass's inverted lists find against the exact scan, on a store of real embeddings.

    python benchmarks/pass_lists.py --store /tmp/dupreal-10k/store.sqlite3
    python benchmarks/pass_lists.py --store PATH --probes 4 --probes 8 --probes 16

``duplicates()`` asks every record's ``k`` nearest (scoring at least
``--min-score``) through ``LocalStore.pass_queries()``: inverted lists built
for the pass from 50,000 records on. This asks the same neighbours of every
record of ``--store`` both ways, the exact scan (blocked matrix products, the
baseline) and the lists (built whatever the store's size), in the same run,
and prints for each number of lists probed: the build and query time against
the exact scan's, and the share of the exact answers' pairs the lists found,
overall and by the pair's score (near-copies score high: those are the pairs
the verifier can accept), and how many of the pairs missed were displaced by
neighbours as close (a record with more than ``k`` near-identical neighbours
keeps ``k`` of them, not the scan's ``k``). Regions of stored composites are left out, as the
pass leaves them out.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from machine import cpu_flags

BANDS = (0.95, 0.9, 0.8, 0.6)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _neighbours(
    store: object, k: int, min_score: float
) -> tuple[dict[str, dict[str, float]], float, float]:
    from img2img.postings.neighbours import nearest_neighbours

    start, cpu = time.perf_counter(), _cpu()
    found = {
        record.id: {m.id: m.score for m in matches}
        for record, matches in nearest_neighbours(store, k=k, min_score=min_score)  # type: ignore[arg-type]
    }
    return found, time.perf_counter() - start, _cpu() - cpu


def _band(score: float) -> str:
    for low in BANDS:
        if score >= low:
            return f">= {low}"
    return "lower"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--min-score", type=float, default=0.3)
    parser.add_argument("--probes", type=int, action="append", help="lists probed (repeatable)")
    args = parser.parse_args()

    from img2img import LocalStore
    from img2img.stores.local import lists

    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"CPU flags {cpu_flags()}, load average {os.getloadavg()[0]:.2f}"
    )
    with LocalStore(args.store) as store:
        store.lists_from = sys.maxsize
        truth, seconds, cpu = _neighbours(store, args.k, args.min_score)
        pairs = Counter(_band(s) for found in truth.values() for s in found.values())
        print(
            f"store             {store.count():,} records ({len(truth):,} with neighbours), "
            f"k={args.k}, min_score={args.min_score}, {lists.list_count(store.count())} lists"
        )
        print(f"exact scan        {seconds:.1f} s wall, {cpu:.1f} s CPU (the baseline)")
        store.lists_from = 0
        for probes in args.probes or [lists.PROBES]:
            lists.PROBES = probes
            found, l_seconds, l_cpu = _neighbours(store, args.k, args.min_score)
            kept: Counter[str] = Counter()
            displaced = 0
            for record, exact in truth.items():
                got = found.get(record, {})
                kept.update(_band(s) for other, s in exact.items() if other in got)
                # A pair missed for a tie: the answer is full of neighbours as close.
                worst = min(got.values()) if len(got) >= args.k else 2.0
                displaced += sum(1 for o, s in exact.items() if o not in got and worst >= s - 1e-3)
            total = sum(pairs.values())
            bands = ", ".join(
                f"{band} {kept[band]}/{pairs[band]}"
                for band in [f">= {b}" for b in BANDS] + ["lower"]
                if pairs[band]
            )
            print(
                f"lists, {probes:2d} probed  {l_seconds:.1f} s wall, {l_cpu:.1f} s CPU "
                f"({l_seconds / seconds:.2f}x wall, {l_cpu / cpu:.2f}x CPU); pairs found "
                f"{sum(kept.values()) / total:.4f} of {total:,} ({bands}); missed for "
                f"neighbours as close (ties): {displaced:,}"
            )
    print(f"load average now  {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
