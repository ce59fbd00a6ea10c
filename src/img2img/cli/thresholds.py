"""The verifier's thresholds on the command line, for ``postings``, ``search --group``,
``duplicates`` and ``locate``: stricter or looser than the measured defaults."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TypeVar

from img2img.options import number_type
from img2img.postings.verify import DEFAULT_THRESHOLDS, Thresholds

__all__ = ["add_threshold_options", "fraction", "thresholds_from"]

T = TypeVar("T", int, float)

#: Option types: a number from 0 to 1, one of 0 or more, a count of keypoints.
fraction = number_type(float, least=0, most=1)
_non_negative = number_type(float, least=0, refusal="must be 0 or more, got {value}")
_count = number_type(int, least=3, refusal="a fit needs at least 3 keypoints, got {value}")


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    """``--min-inliers``, ``--min-coverage``, ``--max-residual`` (see docs/postings.md)."""
    group = parser.add_argument_group("verifier thresholds (see docs/postings.md)")
    group.add_argument(
        "--min-inliers",
        type=_count,
        metavar="N",
        help=f"keypoints that must agree with the fit (default: {DEFAULT_THRESHOLDS.min_inliers})",
    )
    group.add_argument(
        "--min-coverage",
        type=fraction,
        metavar="F",
        help="share of the common frame the agreeing keypoints must span, 0 to 1 "
        f"(default: {DEFAULT_THRESHOLDS.min_coverage})",
    )
    group.add_argument(
        "--max-residual",
        type=_non_negative,
        metavar="PX",
        help="how far, in pixels of a 512-pixel frame, agreeing keypoints may sit from the fit "
        f"(default: {DEFAULT_THRESHOLDS.max_residual})",
    )


def _given(args: argparse.Namespace, name: str, default: T) -> T:
    value = getattr(args, name, None)
    return default if value is None else value


def thresholds_from(args: argparse.Namespace) -> Thresholds:
    """The thresholds the options set, the defaults for the rest."""
    defaults = DEFAULT_THRESHOLDS
    thresholds = replace(
        defaults,
        min_inliers=_given(args, "min_inliers", defaults.min_inliers),
        min_coverage=_given(args, "min_coverage", defaults.min_coverage),
        max_residual=_given(args, "max_residual", defaults.max_residual),
    )
    if thresholds.max_noisy_residual < thresholds.max_residual:
        thresholds = replace(thresholds, max_noisy_residual=thresholds.max_residual)
    return thresholds
