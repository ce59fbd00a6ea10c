"""Cheap checks that spare the verifier work whose outcome they tell in advance.

Most candidates of a query are other pictures (a shortlist of 50 holds a few
copies at most), and on them the verifier spent most of its time on fits and
pixel checks that could only refuse: a perspective fit searched with RANSAC's
full count of draws among chance matches, and the pixels under a thin chance
fit compared block by block after too few could match any more. A screen
stops such work early; it never accepts anything the full work would refuse,
so it cannot add a wrong posting, and what it refuses was measured to be
refused anyway (``docs/performance.md``, "A warm query's cost with regions").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SCREENS", "Screens"]


@dataclass(frozen=True, slots=True)
class Screens:
    """Which screens the verifier uses (see the module docstring)."""

    #: Fewest keypoints agreeing with the affine fit, a model only a little stiffer,
    #: for the perspective fit to be tried (and never more than a looser fit needs
    #: to be of any use); ``None`` always tries it. Among chance matches RANSAC's
    #: perspective fit costs ten to fifty times the affine (up to 2,000 draws), and
    #: where the affine found fewer than 8 it never found a usable fit: on the
    #: benchmarks every perspective fit accepted had an affine fit of 13 agreeing
    #: keypoints or more (and 22 or more of its own), while 8 is as few as a thin
    #: looser fit the pixels vouch for may have.
    least_affine_for_perspective: int | None = 8
    #: ... and the least share of the matched pairs agreeing with the affine fit;
    #: ``None`` does not ask. Chance matches (other pictures, 50 to 300 pairs) give
    #: affine fits that a tenth to a fifth of them agree with, and then the
    #: perspective fit was a fifth of the time spent on such a pair; every warped
    #: copy accepted on the benchmarks had an affine fit with 0.325 of its pairs
    #: or more (docs/performance.md, "screens in the verifier").
    least_affine_share_for_perspective: float | None = 0.2
    #: Whether the pixels' check of a thin fit (one the pixels must vouch for)
    #: stops as soon as too few blocks can still be in place, and looks for
    #: blocks moved far off only when enough are: the verdict is the same,
    #: the reason for a refusal may name another of the failed tests.
    dense_stops_early: bool = True

    def tries_perspective(self, affine_inliers: int, matches: int, least_inliers: int) -> bool:
        """Whether a perspective fit is worth its RANSAC after an affine fit that
        ``affine_inliers`` of ``matches`` matched pairs agree with, for a caller
        that needs ``least_inliers`` (see the fields above)."""
        least = self.least_affine_for_perspective
        if least is not None and affine_inliers < min(least, least_inliers):
            return False
        share = self.least_affine_share_for_perspective
        return share is None or affine_inliers >= share * matches


DEFAULT_SCREENS = Screens()
