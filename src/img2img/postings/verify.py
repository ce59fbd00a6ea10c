"""Is the candidate the same picture as the query? Local features and one geometric fit.

A copy of a picture (resized, re-encoded, cropped, rotated, recoloured, with text
or a border added, mirrored) relates to its original by a *similarity*: rotation,
uniform scale and shift, after an optional left-right flip. So the verifier
matches SIFT keypoints (Lowe's ratio test on RootSIFT descriptors), fits a
similarity with RANSAC (OpenCV's ``estimateAffinePartial2D``) and accepts when
the fit is

- **supported**: at least :attr:`Thresholds.min_inliers` keypoints agree with it;
- **tight**: the agreeing keypoints land within a fraction of a pixel of where the
  fit puts them (:attr:`Thresholds.max_residual`), or, if the fit is looser
  (up to :attr:`Thresholds.max_noisy_residual`), its misfit is *noise*: it
  differs from keypoint to keypoint instead of moving neighbouring keypoints
  alike (:attr:`Thresholds.min_noise_ratio`, see :func:`noise_ratio`);
- **broad**: they span a good part of the area the two frames share
  (:attr:`Thresholds.min_coverage`).

Inliers alone are not enough: two photos of one scene from nearby viewpoints (a
stereo pair, a facade shot twice) share many keypoints, but with parallax no
single similarity fits them all tightly across the frame. Parallax shifts
neighbouring keypoints alike (their depths are alike), so what the fit leaves
over is a smooth displacement field; a copy whose keypoints are merely placed
less exactly (a dark, flattened, recoloured picture with little texture)
leaves independent scatter. The thresholds were chosen on one part of the
benchmark's photos and checked on the rest (see ``docs/postings.md``). A
mirrored copy is verified with the flipped query's features (SIFT is not
mirror-symmetric).

When no similarity passes, an affine and then a perspective fit are tried on
the same matches, each accepted only past :class:`~img2img.postings.warps.WarpGuard`
(the picture stretched, or seen at an angle: relation ``warped``); and any
accepted fit is refused when the matches it leaves out agree on a second,
different motion, as a nearer part of a scene does when the camera moves.
Drawings with few agreeing keypoints must have a fair share of what could
agree (``few_inliers``, ``min_agreement``): two drawings on one template share
a dozen corners.

Then the pixels (:mod:`img2img.postings.dense`, when both sides kept a sketch):
a fit the keypoints accept is refused when the pixels under it disagree (a
part displaced or moved on its own, as parallax does; too little in place, as
two drawings on one layout), and then looser fits are tried; a fit the
keypoints refuse only for being thin (a flat-colour drawing has few corners,
bunched on its outlines) is accepted when the pixels under it agree all over.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from img2img.models import Evidence, Relation
from img2img.postings.dense import DenseGuard, dense_check, judge_dense
from img2img.postings.features import LocalFeatures, extract_features, mirrored
from img2img.postings.fits import Fit, Pairs, fit_model, noise_ratio
from img2img.postings.flow import judge_flow
from img2img.postings.screens import Screens
from img2img.postings.seams import judge_seams, sketch_seams
from img2img.postings.thresholds import DEFAULT_THRESHOLDS, Thresholds
from img2img.postings.warps import DEFAULT_WARP_GUARD, WarpGuard, judge_warp, second_motion

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "DEFAULT_THRESHOLDS",
    "QueryFeatures",
    "Thresholds",
    "Verification",
    "noise_ratio",
    "one_blas_thread",
    "verify_copy",
    "verify_features",
]

#: Lowe's ratio: a match counts when its nearest descriptor is clearly nearer than the second.
RATIO = 0.8


@dataclass(frozen=True, slots=True)
class Verification:
    """The verifier's answer: ``same`` and the measurements behind it.

    ``evidence`` holds the fit's figures (also when ``same`` is false, for a
    near miss); ``reason`` says in words why a candidate was refused.
    ``matches`` counts keypoint pairs that passed the ratio test.
    """

    same: bool
    evidence: Evidence
    matches: int
    reason: str = ""

    @property
    def relation(self) -> Relation:
        """``copy`` when a similarity fits, ``warped`` when only a looser fit does."""
        return "copy" if self.evidence.model == "similarity" else "warped"


@dataclass(frozen=True, slots=True, eq=False)
class QueryFeatures:
    """A query's features, as seen and mirrored: computed once, compared with many."""

    direct: LocalFeatures
    flipped: LocalFeatures
    #: The RootSIFT descriptors of each (see :func:`_root_sift`), computed once for
    #: all the candidates the query is compared with.
    roots: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        roots = (_root_sift(self.direct.descriptors), _root_sift(self.flipped.descriptors))
        object.__setattr__(self, "roots", roots)

    @classmethod
    def of(cls, image: Image.Image | LocalFeatures) -> QueryFeatures:
        """Features of ``image`` (or ones computed before) and of its mirror image."""
        direct = image if isinstance(image, LocalFeatures) else extract_features(image)
        return cls(direct, mirrored(direct))


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS libraries on one thread each.

    Verification multiplies many small matrices (800 x 128 by 128 x 800); BLAS
    threads cost more to wake than such a product takes, and on a busy machine
    two of them made matching 5x slower than one. Callers parallelise over
    candidates instead. The limit is process-wide while the block runs.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _root_sift(descriptors: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """RootSIFT: L1-normalise, square-root; dot products then compare like Hellinger kernels."""
    values = descriptors.astype(np.float32)
    values /= values.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(values)


def _ratio_matches(
    query: LocalFeatures,
    candidate: LocalFeatures,
    roots: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> Pairs:
    """Keypoints of ``query`` and ``candidate`` paired by the ratio test; ``roots`` are
    the RootSIFT descriptors of each."""
    empty = np.zeros((0, 2), np.float32)
    if len(query) < 2 or len(candidate) < 2:
        return Pairs(empty, empty)
    similarity = roots[0] @ roots[1].T
    rows = np.arange(similarity.shape[0])
    nearest = similarity.argmax(axis=1)
    first = similarity[rows, nearest]
    similarity[rows, nearest] = -np.inf  # two passes of max beat argpartition's sort here
    second = similarity.max(axis=1)
    # RootSIFT rows have unit length: a squared distance is 2 - 2 * their dot product.
    keep = np.maximum(2 - 2 * first, 0) < (RATIO**2) * np.maximum(2 - 2 * second, 0)
    return Pairs(query.points[keep], candidate.points[nearest[keep]])


def _judge(fit: Fit, thresholds: Thresholds) -> str:
    """Why the fit is not a copy, or ``""`` when it is."""
    evidence = fit.evidence
    if evidence.inliers < thresholds.min_inliers:
        return f"{evidence.inliers} keypoints agree, fewer than {thresholds.min_inliers}"
    if evidence.residual > thresholds.max_residual:
        loose = f"the fit is loose ({evidence.residual:.2f} px > {thresholds.max_residual})"
        if evidence.residual > thresholds.max_noisy_residual:
            return loose
        # Only loose fits pay for this: all-pairs distances between agreeing keypoints.
        ratio = noise_ratio(fit.points, fit.misfits)
        if ratio < thresholds.min_noise_ratio:
            return (
                f"{loose} and neighbouring keypoints are displaced alike, as parallax does "
                f"(noise ratio {ratio:.2f} < {thresholds.min_noise_ratio})"
            )
    elif evidence.residual > thresholds.noise_from:
        ratio = noise_ratio(fit.points, fit.misfits)
        if ratio < thresholds.min_noise_ratio:
            return (
                f"neighbouring keypoints are displaced alike, as parallax does (residual "
                f"{evidence.residual:.2f} px, noise ratio {ratio:.2f} < {thresholds.min_noise_ratio})"
            )
    if evidence.inliers < thresholds.few_inliers and fit.agreement < thresholds.min_agreement:
        return (
            f"only {evidence.inliers} keypoints agree, {fit.agreement:.0%} of those that could "
            f"(< {thresholds.min_agreement:.0%}), as two drawings on one template"
        )
    if evidence.coverage < thresholds.min_coverage:
        return (
            f"agreeing keypoints span {evidence.coverage:.0%} of the textured common area, "
            f"less than {thresholds.min_coverage:.0%}"
        )
    second = second_motion(fit)
    if second > max(thresholds.min_second_motion, thresholds.max_second_motion * evidence.inliers):
        return (
            f"{second} keypoints the fit leaves out agree on another motion, "
            "as a nearer part of a scene shot from another place"
        )
    return ""


def _similarity(
    query: LocalFeatures,
    candidate: LocalFeatures,
    mirrored: bool,
    roots: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> tuple[Fit, Pairs]:
    pairs = _ratio_matches(query, candidate, roots)
    return fit_model("similarity", pairs, query, candidate, mirrored), pairs


def _warped(
    query: LocalFeatures,
    candidate: LocalFeatures,
    pairs: Pairs,
    mirrored: bool,
    guard: WarpGuard,
    least_inliers: int,
    screens: Screens | None,
) -> list[tuple[Fit, str]]:
    """The looser fits tried, each with why ``guard`` refuses it, up to the first it passes.
    A fit with fewer than ``least_inliers`` is of no use, so RANSAC looks no longer for one
    (nor, with ``screens``, for a perspective fit after an affine one too thin:
    :meth:`~img2img.postings.screens.Screens.tries_perspective`)."""
    tried = []
    for model in ("affine", "perspective"):
        fit = fit_model(model, pairs, query, candidate, mirrored, least_inliers=least_inliers)
        reason = judge_warp(fit, query, candidate, guard)
        tried.append((fit, reason))
        if not reason:
            break
        if screens is not None and not screens.tries_perspective(
            fit.evidence.inliers, len(pairs), least_inliers
        ):
            break
    return tried


def _loose_reason(loose: Fit, thresholds: Thresholds) -> str:
    """Why the caller's own thresholds, which hold for every model, refuse a looser fit."""
    evidence = loose.evidence
    if evidence.inliers < thresholds.min_inliers:
        return f"{evidence.inliers} keypoints agree, fewer than {thresholds.min_inliers}"
    if evidence.inliers < thresholds.few_inliers and loose.agreement < thresholds.min_agreement:
        return f"only {loose.agreement:.0%} of the keypoints that could agree do"
    if evidence.coverage < thresholds.min_coverage:
        return (
            f"agreeing keypoints span {evidence.coverage:.0%} of the common area, "
            f"less than {thresholds.min_coverage:.0%}"
        )
    if evidence.residual > thresholds.max_residual:
        return f"the fit is loose ({evidence.residual:.2f} px > {thresholds.max_residual})"
    return ""


def _thin(thresholds: Thresholds, dense: DenseGuard) -> Thresholds:
    """``thresholds`` asking of keypoints only that they fit, tightly, with a share
    (:attr:`DenseGuard.vouch_inliers`) of the keypoints a fit needs alone: how much of
    the area they span, and whether they are a fair share of what could agree, is
    left to the pixels, whose blocks cover the whole common area."""
    warp = thresholds.warp
    fewest = max(3, math.ceil(thresholds.min_inliers * dense.vouch_inliers))
    # The pixels stand in for the default coverage only: a caller's stricter one still holds.
    coverage = _stricter(thresholds.min_coverage, DEFAULT_THRESHOLDS.min_coverage)
    return replace(
        thresholds,
        min_inliers=fewest,
        min_coverage=coverage,
        few_inliers=0,
        warp=None
        if warp is None
        else replace(
            warp,
            min_inliers=fewest,
            min_coverage=_stricter(warp.min_coverage, DEFAULT_WARP_GUARD.min_coverage),
        ),
    )


def _stricter(asked: float, default: float) -> float:
    """``asked`` where a caller raised it above ``default``, else no floor at all."""
    return asked if asked > default else 0.0


def _pixels_say(
    query: QueryFeatures,
    candidate: LocalFeatures,
    fit: Fit,
    thresholds: Thresholds,
    *,
    vouching: bool,
) -> str:
    """Why the pixels under ``fit`` do not show the same picture, or ``""`` (also when
    either side kept no sketch, unless the pixels must vouch for a thin fit).

    A looser fit must also end at its own edge where that edge runs inside a picture
    (``thresholds.seams``, walked along the fit as the blocks corrected it); a
    similarity never is asked, since a crop's picture goes on past its edges too."""
    guard = thresholds.dense
    side = query.flipped if fit.evidence.mirrored else query.direct
    if guard is None or side.sketch is None or candidate.sketch is None or fit.matrix is None:
        return "no pixels to compare" if vouching else ""
    looser = fit.evidence.model != "similarity"
    # Only a looser fit may be corrected by the pixels (a correction would also
    # smooth a small parallax away).
    stops = vouching and thresholds.screens is not None and thresholds.screens.dense_stops_early
    check = dense_check(
        side.sketch,
        side.size,
        candidate.sketch,
        candidate.size,
        fit.matrix,
        correct=looser,
        enough=guard.vouch_in_place if stops else None,
    )
    reason = judge_dense(check, guard, vouching=vouching)
    if not reason and check.laid is not None:
        reason = judge_flow(
            side.sketch,
            side.size,
            candidate.sketch,
            check.laid,
            thresholds.flow,
            similarity=not looser,
        )
    if reason or not looser or thresholds.seams is None or check.laid is None:
        return reason
    return judge_seams(sketch_seams(side.sketch, candidate.sketch, check.laid), thresholds.seams)


def verify_features(
    query: QueryFeatures,
    candidate: LocalFeatures,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verification:
    """Compare precomputed features: a similarity, the query as seen first, then
    mirrored; then, if none passes, looser fits under ``thresholds.warp``. Each fit
    the keypoints accept must be confirmed by the pixels under it
    (``thresholds.dense``, when both sides kept a sketch); a fit refused only for
    being thin (few keypoints, or spread over little of the area) is accepted
    when the pixels vouch for it."""
    dense = thresholds.dense
    thin = _thin(thresholds, dense) if dense is not None else None
    candidate_roots = _root_sift(candidate.descriptors)  # once, for both sides of the query
    fit, pairs = _similarity(
        query.direct, candidate, mirrored=False, roots=(query.roots[0], candidate_roots)
    )
    seen = fit, pairs
    reason = _judge(fit, thresholds)
    if reason:
        flipped, flipped_pairs = _similarity(
            query.flipped, candidate, mirrored=True, roots=(query.roots[1], candidate_roots)
        )
        flipped_reason = _judge(flipped, thresholds)
        if not flipped_reason or flipped.evidence.inliers > fit.evidence.inliers:
            fit, reason, pairs = flipped, flipped_reason, flipped_pairs
    near = [fit] if reason and thin is not None and not _judge(fit, thin) else []
    if not reason:
        reason = _pixels_say(query, candidate, fit, thresholds, vouching=False)
        if reason and fit.evidence.mirrored:
            # A mirrored fit the pixels refute (a symmetric badge fits both ways):
            # the looser fits look at the picture as seen.
            fit, pairs = seen
    guard = thresholds.warp
    # Looser fits only where enough pairs could pass their guard and the similarity's
    # own least support: a stricter ``min_inliers`` holds for every model.
    least = max(guard.min_inliers, thresholds.min_inliers) if guard is not None else 0
    if reason and guard is not None and len(pairs) >= least:
        side = query.flipped if fit.evidence.mirrored else query.direct
        # A thin fit the pixels may vouch for needs fewer keypoints than one alone.
        useful = least if thin is None or thin.warp is None else min(least, thin.warp.min_inliers)
        tried = _warped(
            side, candidate, pairs, fit.evidence.mirrored, guard, useful, thresholds.screens
        )
        for loose, loose_reason in tried:
            loose_reason = loose_reason or _loose_reason(loose, thresholds)
            if (
                thin is not None
                and thin.warp is not None
                and loose_reason
                and not (
                    judge_warp(loose, side, candidate, thin.warp) or _loose_reason(loose, thin)
                )
            ):
                near.append(loose)
            loose_reason = loose_reason or _pixels_say(
                query, candidate, loose, thresholds, vouching=False
            )
            if not loose_reason:
                fit, reason = loose, ""
                break
        else:
            reason = f"{reason}; {loose_reason}"
    for candidate_fit in near if reason else ():
        if not _pixels_say(query, candidate, candidate_fit, thresholds, vouching=True):
            fit, reason = candidate_fit, ""
            break
    return Verification(same=not reason, evidence=fit.evidence, matches=fit.matches, reason=reason)


def verify_copy(
    query: Image.Image | QueryFeatures,
    candidate: Image.Image | LocalFeatures,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verification:
    """Is ``candidate`` the same picture as ``query``, possibly edited or mirrored?

    Takes RGB ``PIL.Image`` s or features computed before (``QueryFeatures.of(image)``,
    ``extract_features(image)``), so one query can be checked against many
    candidates cheaply. Needs no store: this is the check ``find_postings`` runs
    on every shortlisted candidate. Raises
    :class:`~img2img.errors.MissingDependencyError` without OpenCV.

        result = verify_copy(Image.open("mine.jpg"), Image.open("found.jpg"))
        if result.same:
            print(result.evidence.inliers, result.evidence.coverage)
    """
    query_features = query if isinstance(query, QueryFeatures) else QueryFeatures.of(query)
    candidate_features = (
        candidate if isinstance(candidate, LocalFeatures) else extract_features(candidate)
    )
    with one_blas_thread():
        return verify_features(query_features, candidate_features, thresholds=thresholds)
