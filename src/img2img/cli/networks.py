"""``--allow-network``: address ranges a command may download from although they are private."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from img2img.cli.session import Session
    from img2img.net.fetch import HttpFetcher

__all__ = ["ALLOW_NETWORKS_ENV", "add_allow_network", "allowed_networks", "fetcher_for"]

#: Address ranges to download from although private, comma-separated: ``--allow-network``'s default.
ALLOW_NETWORKS_ENV = "IMG2IMG_ALLOW_NETWORKS"


def add_allow_network(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--allow-network CIDR`` option."""
    parser.add_argument(
        "--allow-network",
        metavar="CIDR",
        action="append",
        help="also download from this address range, refused by default (e.g. an "
        f"intranet: 10.20.0.0/16); repeatable; default: ${ALLOW_NETWORKS_ENV}",
    )


def allowed_networks(session: Session) -> list[str]:
    """The ranges ``--allow-network`` (or its variable) allows, besides public addresses."""
    given: list[str] = session.args.allow_network or [
        cidr.strip() for cidr in os.environ.get(ALLOW_NETWORKS_ENV, "").split(",") if cidr.strip()
    ]
    return given


def fetcher_for(session: Session) -> HttpFetcher | None:
    """A fetcher allowing the ranges asked for; ``None`` (the guarded default) when none are."""
    networks = allowed_networks(session)
    if not networks:
        return None
    from img2img.net.fetch import HttpFetcher

    return HttpFetcher(allowed_networks=networks)
