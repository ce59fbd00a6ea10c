"""The dense check's CPU time, before and after a change, on the calls real verifications make.

    python benchmarks/dense_speed.py                      # against the dense check of 3a009e4
    python benchmarks/dense_speed.py --before <commit>    # against another commit's
    python benchmarks/dense_speed.py --inputs /tmp/dense-inputs.pkl   # gather once, time often

First gathers inputs: the verifier (:func:`~img2img.postings.verify.verify_features`,
shipped thresholds) is run over real pairs, and the arguments of every
:func:`~img2img.postings.dense.dense_check` call it makes are recorded: real
photos (``benchmarks/photoset.py``) and drawings (:func:`~img2img.testing.drawings.drawing`)
against their reposts in every form of :data:`~img2img.testing.reposts.REPOSTS`
(the repost is the query, the original's cached thumbnail the candidate, as
``find_postings`` verifies them), drawings against others of their style (one
template, other content), photos against unrelated photos, the stereo pair and
flat scenes shot from two places. ``--inputs FILE`` keeps them (pickled) for
the next run.

Then times the dense check of ``--before`` (loaded from git at run time, not
copied) and the checkout's, alternately on the same inputs, ``--rounds`` times:
prints the CPU time (user + sys of this process) of each, the ratio, and the
inputs whose :class:`~img2img.postings.dense.DenseCheck` differ in any field,
``laid`` included (must be 0).
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from machine import cpu_flags
from photoset import SAME_SCENE, load_photos

import img2img.postings.verify as verify_module
from img2img.images import decode_image
from img2img.postings import dense
from img2img.postings.cache import encode_thumbnail
from img2img.postings.features import extract_features
from img2img.postings.verify import QueryFeatures, one_blas_thread, verify_features
from img2img.testing.drawings import STYLES, drawing
from img2img.testing.edits import jpeg
from img2img.testing.reposts import REPOSTS, apply_repost

ROOT = Path(__file__).resolve().parents[1]
#: Drawings made for the pairs (as ``benchmarks/reposts.py`` has them).
ART = 36

Call = tuple[Any, ...]


def load_before(commit: str) -> types.ModuleType:
    """``postings/dense.py`` as it was at ``commit``, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{commit}:src/img2img/postings/dense.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("dense_before")
    sys.modules[module.__name__] = module
    exec(compile(source, f"{commit}:dense.py", "exec"), module.__dict__)
    return module


def gather(every: int, kinds: Counter[str]) -> list[Call]:
    """The arguments of every dense check the verifier makes over the pairs."""
    calls: list[Call] = []
    recorded = verify_module.dense_check

    def recording(query, query_frame, candidate, candidate_frame, matrix, **options):  # type: ignore[no-untyped-def]
        calls.append(
            (
                query.copy(),
                query_frame,
                candidate.copy(),
                candidate_frame,
                matrix.copy(),
                options.get("correct", False),
                options.get("enough"),
            )
        )
        return recorded(query, query_frame, candidate, candidate_frame, matrix, **options)

    def verified(kind: str, query, candidate) -> None:  # type: ignore[no-untyped-def]
        before = len(calls)
        verify_features(QueryFeatures.of(query), candidate)
        kinds[kind] += len(calls) - before

    photos, notes = load_photos()
    for note in notes:
        print(note)
    pictures = dict(photos) | {f"art/{i}": drawing(i) for i in range(ART)}
    names = sorted(pictures)[::every]
    rng = random.Random(0)
    verify_module.dense_check = recording  # type: ignore[assignment]
    try:
        for seed, name in enumerate(names):
            original = extract_features(decode_image(encode_thumbnail(pictures[name])))
            for form in REPOSTS:
                others = [pictures[o] for o in rng.sample(names, 9) if o != name]
                repost = apply_repost(pictures[name], form, others=others, seed=seed)
                verified("reposts", extract_features(repost), original)
            if name.startswith("art/"):
                number = int(name.split("/")[1])
                alike = [
                    o for o in range(ART) if o != number and o % len(STYLES) == number % len(STYLES)
                ]
                query = extract_features(jpeg(pictures[name]))
                for other in alike[:6]:
                    verified("templates", query, extract_features(jpeg(drawing(other))))
            else:
                query = extract_features(jpeg(pictures[name]))
                for other in rng.sample(sorted(photos), 4):
                    if other != name:
                        verified("unrelated", query, extract_features(photos[other]))
        pairs = [(photos[a], photos[b]) for a, b in SAME_SCENE if a in photos and b in photos]
        from flatscenes import flat_scene_pairs

        pairs += [(jpeg(a), jpeg(b)) for _, a, b in flat_scene_pairs(photos, count=6)]
        for a, b in pairs:
            fa, fb = extract_features(a), extract_features(b)
            verified("scenes", fa, fb)
            verified("scenes", fb, fa)
    finally:
        verify_module.dense_check = recorded
    return calls


def outcome(check: Any) -> tuple[Any, ...]:
    """Every field of a :class:`DenseCheck` (``laid`` as bytes), to compare two modules' results."""
    laid = None if check.laid is None else (check.laid.shape, check.laid.tobytes())
    return (
        check.blocks,
        check.in_place,
        check.displaced,
        check.missing,
        check.moved,
        check.unlike,
        check.complete,
        laid,
    )


def run(module: types.ModuleType, calls: list[Call]) -> tuple[float, list[tuple[Any, ...]]]:
    """CPU seconds of ``module.dense_check`` over ``calls``, and its outcomes."""
    results = []
    started = time.process_time()
    for query, qf, candidate, cf, matrix, correct, enough in calls:
        results.append(
            module.dense_check(query, qf, candidate, cf, matrix, correct=correct, enough=enough)
        )
    spent = time.process_time() - started
    return spent, [outcome(r) for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="3a009e4", help="commit of the dense check to beat")
    parser.add_argument("--every", type=int, default=4, help="every n-th picture for the pairs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--inputs", type=Path, help="pickle of the gathered calls (kept)")
    args = parser.parse_args()
    print(f"CPU flags: {cpu_flags()}")
    if args.inputs is not None and args.inputs.exists():
        with args.inputs.open("rb") as handle:
            calls, kinds = pickle.load(handle)
        print(f"inputs read from {args.inputs}")
    else:
        kinds = Counter()
        started = time.process_time()
        with one_blas_thread():
            calls = gather(args.every, kinds)
        print(f"gathered in {time.process_time() - started:.0f} s CPU")
        if args.inputs is not None:
            with args.inputs.open("wb") as handle:
                pickle.dump((calls, kinds), handle)
    enough = sum(1 for c in calls if c[6] is not None)
    correct = sum(1 for c in calls if c[5])
    print(
        f"{len(calls)} dense checks ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
        f"{correct} may correct the fit, {enough} may stop early"
    )
    before = load_before(args.before)
    spent: dict[str, float] = {"before": 0.0, "after": 0.0}
    modules = {"before": before, "after": dense}
    differ: set[int] = set()
    with one_blas_thread():
        run(dense, calls[:20])  # warm up both
        run(before, calls[:20])
        for round_ in range(args.rounds):
            order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
            outcomes = {}
            for label in order:
                seconds, outcomes[label] = run(modules[label], calls)
                spent[label] += seconds
            differ |= {
                i
                for i, (a, b) in enumerate(zip(outcomes["before"], outcomes["after"], strict=True))
                if a != b
            }
    load = os.getloadavg()
    per = {k: 1000 * v / (args.rounds * len(calls)) for k, v in spent.items()}
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"CPU over {args.rounds} rounds: before ({args.before}) {spent['before']:.2f} s "
        f"({per['before']:.3f} ms a check), after {spent['after']:.2f} s "
        f"({per['after']:.3f} ms a check); before / after = {spent['before'] / spent['after']:.2f}x"
    )
    print(f"inputs whose results differ: {len(differ)} of {len(calls)}")
    for i in sorted(differ)[:5]:
        query, qf, candidate, cf, matrix, correct, enough = calls[i]
        a = before.dense_check(query, qf, candidate, cf, matrix, correct=correct, enough=enough)
        b = dense.dense_check(query, qf, candidate, cf, matrix, correct=correct, enough=enough)
        print(f"  #{i}: before {a}\n       after  {b}")


if __name__ == "__main__":
    main()
