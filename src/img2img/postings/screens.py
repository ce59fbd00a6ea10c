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
    #: Whether the pixels' check of a thin fit (one the pixels must vouch for)
    #: stops as soon as too few blocks can still be in place, and looks for
    #: blocks moved far off only when enough are: the verdict is the same,
    #: the reason for a refusal may name another of the failed tests.
    dense_stops_early: bool = True


DEFAULT_SCREENS = Screens()
