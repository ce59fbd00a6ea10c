"""Where pictures are split, before and after a change to the split: the same boxes, and the CPU of each.

Runs ``split_regions`` as it was at a git revision (``--previous``; its
``regions.py`` and ``insets.py`` read with ``git show`` and loaded at run time)
and as it is now, over the pictures of the benchmarks:

- the photos of :mod:`photoset` and the drawings of :mod:`img2img.testing.drawings`;
- each of them composed into every composite form of ``reposts.py`` (2 x 2 and
  3 x 3 collages, pictures pasted over another at 15, 30 and 40 %), as the
  queries of the benchmarks are;
- the crowd of distractors made from them (``reposts.build_crowd``);
- with ``--files``, the JPEG files of a kept store (``postings_speed.py --keep
  DIR`` keeps them in ``DIR/files``), decoded as ``add`` decodes them: what an
  index splits.

Prints per kind of picture: how many, how many each version splits, how many
come out with boxes that differ (listed by name), and CPU milliseconds per
picture of each version (this process; the faster of ``--rounds`` rounds, the
two versions alternating). Exits with status 1 when any boxes differ.

    python benchmarks/split_identity.py --previous 3a009e4 --files /tmp/img2img-speed/files
"""

from __future__ import annotations

import argparse
import builtins
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from machine import cpu_flags
from photoset import load_photos
from PIL import Image
from reposts import ART, COMPOSITES, build_crowd, companions, pools_of

from img2img.images import decode_image
from img2img.postings.regions import Box, split_regions
from img2img.testing.drawings import drawing
from img2img.testing.reposts import apply_repost

ROOT = Path(__file__).resolve().parent.parent
Split = Callable[[Image.Image], list[Box]]


def previous_split(revision: str) -> Split:
    """``split_regions`` as it was at ``revision``, with the inset search of then (safe to
    call from several threads at once, as ``add``'s workshop does)."""

    def load(path: str, imports: dict[str, types.ModuleType]) -> types.ModuleType:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        module = types.ModuleType(f"previous_{Path(path).stem}")
        module.__file__ = f"{revision}:{path}"

        def redirected(name: str, *args: Any, **kwargs: Any) -> Any:
            # The modules of then import each other by name: hand them each other.
            if name in imports:
                return imports[name]
            return builtins.__import__(name, *args, **kwargs)

        module.__dict__["__builtins__"] = {**vars(builtins), "__import__": redirected}
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        return module

    insets = load("src/img2img/postings/insets.py", {})
    regions = load("src/img2img/postings/regions.py", {"img2img.postings.insets": insets})

    def split(image: Image.Image) -> list[Box]:
        return list(regions.split_regions(image))

    return split


def pictures_by_kind(crowd_size: int, files: Path | None) -> dict[str, dict[str, Image.Image]]:
    photos, notes = load_photos()
    for note in notes:
        print(note)
    drawings = {f"art/{i}": drawing(i) for i in range(ART)}
    pictures = photos | drawings
    pools = pools_of(pictures)
    kinds: dict[str, dict[str, Image.Image]] = {"photos": photos, "drawings": drawings}
    for form in COMPOSITES:
        made: dict[str, Image.Image] = {}
        for seed, name in enumerate(sorted(pictures)):
            kind = "art" if name.startswith("art/") else "photo"
            others = [pictures[o] for o in companions(name, form, pools[kind], seed)]
            made[f"{form}/{name}"] = apply_repost(pictures[name], form, others=others, seed=seed)
        kinds[form] = made
    crowd, source = build_crowd(pictures, crowd_size)
    kinds["crowd from photos"] = {
        n: p for n, p in crowd.items() if n in source and not source[n].startswith("art/")
    }
    kinds["crowd from drawings"] = {
        n: p for n, p in crowd.items() if n not in kinds["crowd from photos"]
    }
    if files is not None:
        decoded = {
            path.stem: decode_image(path.read_bytes()) for path in sorted(files.glob("*.jpg"))
        }
        kinds[f"files of {files}"] = decoded
    return kinds


def timed_split(split: Split, images: dict[str, Image.Image]) -> tuple[dict[str, list[Box]], float]:
    started = time.process_time()
    boxes = {name: split(image) for name, image in images.items()}
    return boxes, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--previous", default="3a009e4", help="git revision of the split compared with"
    )
    parser.add_argument("--crowd", type=int, default=1000)
    parser.add_argument(
        "--files", type=Path, help="a folder of JPEG files to split as decoded by add"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"CPU flags: {cpu_flags()}; load average at the start "
        + " ".join(f"{v:.1f}" for v in os.getloadavg())
    )
    versions: dict[str, Split] = {
        "previous": previous_split(args.previous),
        "shipped": split_regions,
    }
    kinds = pictures_by_kind(args.crowd, args.files)
    print(
        f"\n{'pictures':40} {'n':>5} {'split before':>12} {'after':>6} {'differ':>6} {'CPU ms before':>13} {'after':>6}"
    )
    differ_total = 0
    for kind, images in kinds.items():
        found: dict[str, dict[str, list[Box]]] = {}
        cpu: dict[str, float] = {}
        for round_ in range(args.rounds):
            order = list(versions) if round_ % 2 == 0 else list(versions)[::-1]
            for label in order:
                boxes, used = timed_split(versions[label], images)
                found[label] = boxes
                cpu[label] = min(cpu.get(label, used), used)
        before, after = found["previous"], found["shipped"]
        differ = sorted(n for n in images if before[n] != after[n])
        differ_total += len(differ)
        per = {label: cpu[label] / len(images) * 1000 for label in versions}
        print(
            f"{kind:40} {len(images):5} {sum(bool(b) for b in before.values()):12} "
            f"{sum(bool(b) for b in after.values()):6} {len(differ):6} "
            f"{per['previous']:13.2f} {per['shipped']:6.2f}"
        )
        for name in differ:
            print(f"    {name}: before {before[name]}, after {after[name]}")
    print("load average at the end " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    print(f"pictures whose boxes differ: {differ_total}")
    sys.exit(1 if differ_total else 0)


if __name__ == "__main__":
    main()
