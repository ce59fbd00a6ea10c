"""The verifier's choices, measured: grey-channel preprocessing and the rule for loose fits.

A strongly recoloured copy of a dark photo with little texture keeps few
keypoints, placed less exactly, and fits loosely. Two ways to find it anyway
are compared here, pair by pair and without a vector store:

- change the features: normalise the grey picture before SIFT (CLAHE, histogram
  equalisation, a contrast stretch), describe HSV value instead of luma, keep
  more keypoints, or lower SIFT's contrast threshold for pictures with few;
- change the rule: admit a fit looser than ``max_residual`` when its misfit is
  noise, not a displacement field (the default ``Thresholds``), against the
  residual alone (``max_noisy_residual=max_residual``).

Every photo of :mod:`photoset` is edited 13 ways (:mod:`img2img.testing.edits`)
and verified against the cached thumbnail of its original (a copy) and of every
other photo (not a copy). Prints, per variant and rule: copies found per edit
on the held-out photos, the tuning photos' total, false positives among pairs
of different photos, and queries of one stereo view called a copy of the other.

    python benchmarks/verifier_variants.py                    # every variant, about 30 minutes here
    python benchmarks/verifier_variants.py --variants shipped,clahe --quick
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from photoset import SAME_SCENE, load_photos
from quality import is_tuning_photo

from img2img.postings.cache import encode_thumbnail
from img2img.postings.features import (
    CONTRAST_THRESHOLD,
    LocalFeatures,
    extract_features,
    grey_pixels,
    opencv,
)
from img2img.postings.verify import (
    DEFAULT_THRESHOLDS,
    QueryFeatures,
    Thresholds,
    one_blas_thread,
    verify_features,
)
from img2img.testing.edits import EDITS, apply_edit

Grey = npt.NDArray[np.uint8]
RULES = {
    "residual alone": Thresholds(max_noisy_residual=DEFAULT_THRESHOLDS.max_residual),
    "noise allowed": DEFAULT_THRESHOLDS,
}


def _clahe(grey: Grey) -> Grey:
    out: Grey = opencv().createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(grey)
    return out


def _equalise(grey: Grey) -> Grey:
    out: Grey = opencv().equalizeHist(grey)
    return out


def _stretch(grey: Grey) -> Grey:
    low, high = np.percentile(grey, (0.5, 99.5))
    if high <= low:
        return grey
    stretched = (grey.astype(np.float32) - low) * 255.0 / (high - low)
    out: Grey = np.clip(stretched, 0, 255).round().astype(np.uint8)
    return out


def _through(step: Callable[[Grey], Grey]) -> Callable[[Image.Image], LocalFeatures]:
    return lambda image: extract_features(step(grey_pixels(image)))


def _value(image: Image.Image) -> LocalFeatures:
    return extract_features(grey_pixels(image.convert("HSV").getchannel("V")))


def _more(image: Image.Image) -> LocalFeatures:
    return extract_features(image, max_features=1500)


def _adaptive(image: Image.Image) -> LocalFeatures:
    """SIFT again at a fifth of the contrast threshold when fewer than 300 keypoints are found."""
    features = extract_features(image)
    if len(features) >= 300:
        return features
    sift = opencv().SIFT_create(nfeatures=800, contrastThreshold=CONTRAST_THRESHOLD / 5)
    keypoints, descriptors = sift.detectAndCompute(grey_pixels(image), None)
    if descriptors is None or len(keypoints) <= len(features):
        return features
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)[:800]
    packed = np.clip(np.rint(descriptors), 0, 255).astype(np.uint8)[:800]
    return LocalFeatures(points, packed, features.size, features.source_size)


VARIANTS: dict[str, Callable[[Image.Image], LocalFeatures]] = {
    "shipped": extract_features,
    "clahe": _through(_clahe),
    "equalise": _through(_equalise),
    "stretch": _through(_stretch),
    "hsv-value": _value,
    "1500-keypoints": _more,
    "adaptive-contrast": _adaptive,
}


def cached(image: Image.Image) -> Image.Image:
    """``image`` as the picture cache keeps it (a 512-pixel JPEG), its size remembered."""
    with Image.open(io.BytesIO(encode_thumbnail(image))) as thumbnail:
        out = thumbnail.convert("RGB")
    out.info["original_size"] = image.size
    return out


def run(
    label: str,
    extract: Callable[[Image.Image], LocalFeatures],
    photos: dict[str, Image.Image],
    names: list[str],
) -> None:
    order = sorted(photos)
    partner = dict(SAME_SCENE) | {b: a for a, b in SAME_SCENE}
    started = time.perf_counter()
    originals = {n: extract(cached(photos[n])) for n in order}
    found = {rule: {(n, e): False for n in names for e in EDITS} for rule in RULES}
    false = dict.fromkeys(RULES, 0)
    stereo = dict.fromkeys(RULES, 0)
    pairs = stereo_queries = 0
    seconds: dict[str, list[float]] = {rule: [] for rule in RULES}
    with one_blas_thread():
        for name in names:
            for edit in EDITS:
                query = QueryFeatures.of(
                    extract(apply_edit(photos[name], edit, seed=order.index(name)))
                )
                for other in order:
                    pairs += other != name
                    stereo_queries += partner.get(name) == other
                    for rule, thresholds in RULES.items():
                        begun = time.perf_counter()
                        same = verify_features(query, originals[other], thresholds=thresholds).same
                        seconds[rule].append(time.perf_counter() - begun)
                        if other == name:
                            found[rule][(name, edit)] = same
                        elif partner.get(name) == other:
                            stereo[rule] += same
                        else:
                            false[rule] += same
    timing = ", ".join(f"{r} {statistics.median(t) * 1000:.2f}" for r, t in seconds.items())
    print(f"\n== {label} ({time.perf_counter() - started:.0f} s; ms per verification: {timing}) ==")
    held = [n for n in names if not is_tuning_photo(n)]
    tuning = [n for n in names if is_tuning_photo(n)]
    print(f"{'rule':15} " + " ".join(f"{e:>9}" for e in EDITS) + " | tuning | false  stereo")
    for rule in RULES:
        per_edit = [sum(found[rule][(n, e)] for n in held) for e in EDITS]
        tuned = sum(found[rule][(n, e)] for n in tuning for e in EDITS)
        print(
            f"{rule:15} "
            + " ".join(f"{k:>4}/{len(held):<4}" for k in per_edit)
            + f" | {tuned}/{len(tuning) * len(EDITS)} | {false[rule]}/{pairs - stereo_queries}"
            f"  {stereo[rule]}/{stereo_queries}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="every third photo's queries")
    args = parser.parse_args()
    photos, notes = load_photos()
    for note in notes:
        print(note)
    names = sorted(photos)[:: 3 if args.quick else 1]
    print(
        f"{len(photos)} photos; queries from {len(names)} x {len(EDITS)} edits, each against "
        f"every photo; copies found per edit on the held-out photos"
    )
    for label in args.variants.split(","):
        run(label, VARIANTS[label], photos, names)


if __name__ == "__main__":
    main()
