"""When a geometric fit means "the same picture": the verifier's thresholds, in one place.

:mod:`img2img.postings.verify` applies them; each guard of its own
(:mod:`~img2img.postings.warps`, :mod:`~img2img.postings.dense`,
:mod:`~img2img.postings.seams`, :mod:`~img2img.postings.flow`,
:mod:`~img2img.postings.screens`) keeps its own figures and is one field here.
"""

from __future__ import annotations

from dataclasses import dataclass

from img2img.postings.dense import DEFAULT_DENSE_GUARD, DenseGuard
from img2img.postings.flow import DEFAULT_FLOW_GUARD, FlowGuard
from img2img.postings.screens import DEFAULT_SCREENS, Screens
from img2img.postings.seams import DEFAULT_SEAM_GUARD, SeamGuard
from img2img.postings.warps import DEFAULT_WARP_GUARD, WarpGuard

__all__ = ["DEFAULT_THRESHOLDS", "Thresholds"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a geometric fit means "the same picture" (see the module docstring).

    The defaults come from ``benchmarks/quality.py``'s tuning photos (19 photos x
    13 edits, 2,470 pairs of different photos): different photos never had more
    than 6 keypoints agree with a similarity, copies had a median of 150-470;
    copies' residuals stayed under 0.7 px in 99 % of cases, while the stereo
    pair of the held-out photos sits at 1.2-1.65 px; copies' coverage was over
    0.2 in 99 % of cases, a shared watermark or logo covers a few per cent.
    """

    #: Fewest keypoints that must agree with the fit: twice the most seen between
    #: different photos.
    min_inliers: int = 12
    #: Share of the textured common part of the frames the agreeing keypoints
    #: must span: rules out agreement confined to a logo, a watermark, an inset.
    min_coverage: float = 0.1
    #: Largest median distance (pixels at 512) of agreeing keypoints from the fit:
    #: copies land within a fraction of a pixel, parallax spreads a scene shot twice.
    max_residual: float = 1.0
    #: Largest residual of a fit whose misfit is noise (see ``min_noise_ratio``):
    #: half of RANSAC's tolerance, well under the ~2.8 px at which keypoints
    #: that agree by chance scatter.
    max_noisy_residual: float = 2.0
    #: Least :func:`noise_ratio` for a fit looser than ``max_residual``: about
    #: 1.1 for independent scatter, 0.4-0.8 for parallax. 0.9 keeps 99 % of copies.
    min_noise_ratio: float = 0.9
    #: Residual (pixels of the query's working frame) from which a similarity's
    #: misfit must also be noise (``min_noise_ratio``), as a fit looser than
    #: ``max_residual`` must be: a cut of another view of a scene spans little depth,
    #: and against a thumbnail (a 160-pixel frame) its parallax is about half a
    #: pixel, smooth. No repost of the tuning or held-out pictures was lost at 0.5
    #: (at 0.35, crops were); ``max_residual`` or more asks nothing of tight fits.
    noise_from: float = 0.5
    #: Below this many agreeing keypoints, they must also be ``min_agreement`` of
    #: the keypoints the sparser picture has in the common part: two drawings on
    #: one template (a comic strip's panels, a logo's word mark) agree on a dozen
    #: corners out of hundreds, a copy on a larger share.
    few_inliers: int = 30
    #: Least share of what could agree that does, for a fit with few inliers.
    min_agreement: float = 0.08
    #: Most matched pairs the fit leaves out that may agree on a second motion, as a
    #: share of its inliers (see :func:`~img2img.postings.warps.second_motion`):
    #: copies left at most 3-14 % of a dozen, a scene with a nearer floor or sign 28-42 %.
    max_second_motion: float = 0.08
    #: ... and never fewer than this many: the nested shapes of a logo (rings,
    #: concentric polygons) agree on a scaling of their own by 13-19 keypoints.
    min_second_motion: int = 20
    #: The cheap checks that spare work whose outcome they tell in advance (see
    #: :mod:`img2img.postings.screens`); ``None`` does all the work.
    screens: Screens | None = DEFAULT_SCREENS
    #: When a similarity is refused, the guard an affine and then a perspective fit
    #: must pass to call the candidate the same picture ``warped`` (see
    #: :mod:`img2img.postings.warps`); ``None`` tries the similarity only.
    warp: WarpGuard | None = DEFAULT_WARP_GUARD
    #: When the pixels under a fit confirm or refute it, or vouch for a fit too
    #: thin for the keypoints alone (see :mod:`img2img.postings.dense`); ``None``
    #: lets the keypoints decide alone.
    dense: DenseGuard | None = DEFAULT_DENSE_GUARD
    #: When a looser fit's pixels go on across the edge of the common area, as one
    #: scene shot from two places does, where a warped copy ends at its own edge
    #: (see :mod:`img2img.postings.seams`); ``None`` leaves looser fits to the other checks.
    seams: SeamGuard | None = DEFAULT_SEAM_GUARD
    #: When a small query's pixels refute a fit (queries of 192 pixels or less, a
    #: thumbnail, whose keypoints cannot see a parallax of a few pixels at 512): the
    #: flow between them and the candidate's laid on them (see
    #: :mod:`img2img.postings.flow`); ``None`` lets the keypoints and blocks decide.
    flow: FlowGuard | None = DEFAULT_FLOW_GUARD


DEFAULT_THRESHOLDS = Thresholds()
