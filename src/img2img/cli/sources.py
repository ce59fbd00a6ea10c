"""Where ``img2img index`` finds images: ``--source google|discord|patreon|reddit|bluesky``.

Each source has its own options (``--channel`` for Discord, ``--subreddit``
for Reddit …), grouped by source in ``--help``. An option of another source is
a usage error, so a typo in ``--source`` is not silently a different search.
Credentials come only from the environment, never from flags, to keep them out
of shell history; a missing required one stops the command before any model
or store is touched.
"""

from __future__ import annotations

import argparse
import datetime
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from img2img.cli.exits import UsageError
from img2img.cli.parser import positive_int
from img2img.errors import ConfigurationError

if TYPE_CHECKING:
    from img2img.protocols import ImageSource

__all__ = [
    "SOURCES",
    "WebSource",
    "add_source_options",
    "build_source",
    "iso_time",
    "require_env",
    "source_of",
]


def iso_time(text: str) -> str:
    """An argparse type: an ISO 8601 date or time (``2026-01-31``, ``2026-01-31T18:00:00Z``)."""
    try:
        datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T18:00:00Z"
        ) from None
    return text.strip()


def _utc(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def require_env(variable: str, why: str) -> None:
    """Refuse, in one line saying where to find it, when credential ``variable`` is unset."""
    if not os.environ.get(variable, "").strip():
        raise ConfigurationError(f"{why}: set {variable} {_WHERE[variable]}")


_WHERE = {
    "SERPAPI_API_KEY": "(your key is at https://serpapi.com/manage-api-key)",
    "DISCORD_BOT_TOKEN": "to your bot's token "
    "(Discord Developer Portal -> your application -> Bot -> Reset Token)",
    "PATREON_ACCESS_TOKEN": "to the campaign creator's access token "
    "(https://www.patreon.com/portal/registration/register-clients -> Creator's Access Token)",
}


def _google(args: argparse.Namespace) -> ImageSource:
    from img2img.sources.serpapi.google_images import SerpApiSource

    require_env("SERPAPI_API_KEY", "index searches Google Images through SerpAPI")
    return SerpApiSource(sites=args.site or (), country=args.country, language=args.language)


def _discord(args: argparse.Namespace) -> ImageSource:
    from img2img.sources.discord.source import DiscordSource

    if not args.channel and not args.guild:
        raise UsageError("--source discord needs --channel ID or --guild ID (repeatable)")
    require_env("DISCORD_BOT_TOKEN", "index --source discord reads channels through a bot")
    return DiscordSource(
        channels=args.channel or (),
        guilds=args.guild or (),
        since=_utc(args.since) if args.since else None,
        max_messages=args.max_messages,
    )


def _patreon(args: argparse.Namespace) -> ImageSource:
    from img2img.sources.patreon.source import PatreonSource

    require_env("PATREON_ACCESS_TOKEN", "index --source patreon reads posts as their creator")
    return PatreonSource(campaigns=args.campaign or ())


def _reddit(args: argparse.Namespace) -> ImageSource:
    from img2img.sources.reddit.source import RedditSource

    if not args.keyphrase.strip() and not args.subreddit:
        raise UsageError(
            "--source reddit needs a KEYPHRASE, or --subreddit NAME to read the newest posts of"
        )
    return RedditSource(
        args.subreddit or (),
        sort=args.sort or "relevance",
        time_filter=args.time or "all",
        include_nsfw=bool(args.nsfw),
        user_agent=args.user_agent,
        **({"max_pages": args.max_pages} if args.max_pages else {}),
    )


def _bluesky(args: argparse.Namespace) -> ImageSource:
    from img2img.sources.bluesky.source import BlueskySource

    return BlueskySource(
        sort=args.sort or "latest",
        language=args.lang,
        author=args.author,
        since=args.since,
        until=args.until,
        **({"max_pages": args.max_pages} if args.max_pages else {}),
    )


@dataclass(frozen=True)
class WebSource:
    """One choice of ``--source``: its name in messages, whether it needs a keyphrase,
    the ``--sort`` orders it knows, and how to build it from the arguments."""

    title: str
    build: Callable[[argparse.Namespace], ImageSource]
    needs_keyphrase: bool
    sorts: tuple[str, ...] = ()


SOURCES: Mapping[str, WebSource] = {
    "google": WebSource("Google Images", _google, needs_keyphrase=True),
    "discord": WebSource("Discord", _discord, needs_keyphrase=False),
    "patreon": WebSource("Patreon", _patreon, needs_keyphrase=False),
    "reddit": WebSource(
        "Reddit",
        _reddit,
        needs_keyphrase=False,
        sorts=("relevance", "hot", "top", "new", "comments"),
    ),
    "bluesky": WebSource("Bluesky", _bluesky, needs_keyphrase=True, sorts=("latest", "top")),
}

#: Each source-specific option (its ``dest``) and the sources it applies to.
_APPLIES_TO: Mapping[str, frozenset[str]] = {
    "site": frozenset({"google"}),
    "country": frozenset({"google"}),
    "language": frozenset({"google"}),
    "channel": frozenset({"discord"}),
    "guild": frozenset({"discord"}),
    "max_messages": frozenset({"discord"}),
    "campaign": frozenset({"patreon"}),
    "subreddit": frozenset({"reddit"}),
    "time": frozenset({"reddit"}),
    "nsfw": frozenset({"reddit"}),
    "user_agent": frozenset({"reddit"}),
    "lang": frozenset({"bluesky"}),
    "author": frozenset({"bluesky"}),
    "until": frozenset({"bluesky"}),
    "since": frozenset({"discord", "bluesky"}),
    "sort": frozenset({"reddit", "bluesky"}),
    "max_pages": frozenset({"reddit", "bluesky"}),
}


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """``--source`` and every source's own options, one help group per source."""
    parser.add_argument(
        "--source",
        choices=tuple(SOURCES),
        default="google",
        help="where to look (default: google, Google Images through SerpAPI)",
    )
    google = parser.add_argument_group("--source google (needs SERPAPI_API_KEY)")
    google.add_argument(
        "--site", action="append", metavar="SITE", help="only images on this site; repeatable"
    )
    google.add_argument("--country", metavar="CC", help="Google country code, e.g. fr")
    google.add_argument("--language", metavar="LANG", help="Google interface language, e.g. en")

    discord = parser.add_argument_group(
        "--source discord (needs DISCORD_BOT_TOKEN; an empty KEYPHRASE takes every image)"
    )
    discord.add_argument(
        "--channel",
        action="append",
        metavar="ID|LINK",
        help="a channel id, or a link copied from Discord; repeatable",
    )
    discord.add_argument(
        "--guild", action="append", metavar="ID", help="every text channel of a server; repeatable"
    )
    discord.add_argument(
        "--max-messages", type=positive_int, metavar="N", help="read at most N messages a channel"
    )

    patreon = parser.add_argument_group(
        "--source patreon (needs PATREON_ACCESS_TOKEN; an empty KEYPHRASE takes every image)"
    )
    patreon.add_argument(
        "--campaign",
        action="append",
        metavar="ID",
        help="a campaign id; repeatable (default: the token's own campaigns)",
    )

    reddit = parser.add_argument_group(
        "--source reddit (REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET for OAuth, else public JSON)"
    )
    reddit.add_argument(
        "--subreddit",
        action="append",
        metavar="NAME",
        help="search only this subreddit (its newest posts without a KEYPHRASE); repeatable",
    )
    reddit.add_argument(
        "--time",
        choices=("hour", "day", "week", "month", "year", "all"),
        help="how far back to search (default: all)",
    )
    reddit.add_argument(
        "--nsfw", action="store_true", default=None, help="also take posts marked over 18"
    )
    reddit.add_argument(
        "--user-agent",
        metavar="TEXT",
        help="'<platform>:<app id>:<version> (by /u/<you>)', as Reddit asks "
        "(default: $REDDIT_USER_AGENT)",
    )

    bluesky = parser.add_argument_group(
        "--source bluesky (BLUESKY_HANDLE and BLUESKY_APP_PASSWORD to sign in, else anonymous)"
    )
    bluesky.add_argument("--lang", metavar="LANG", help="only posts in this language, e.g. en")
    bluesky.add_argument("--author", metavar="HANDLE", help="only posts by this handle or DID")
    bluesky.add_argument("--until", type=iso_time, metavar="ISO", help="only posts before this")

    shared = parser.add_argument_group("options of several sources")
    shared.add_argument(
        "--since",
        type=iso_time,
        metavar="ISO",
        help="discord, bluesky: only messages or posts from this date or time on",
    )
    shared.add_argument(
        "--sort",
        metavar="ORDER",
        help="reddit: relevance (default), hot, top, new, comments; bluesky: latest (default), top",
    )
    shared.add_argument(
        "--max-pages",
        type=positive_int,
        metavar="N",
        help="reddit, bluesky: read at most N pages of results (default: 10)",
    )


def source_of(args: argparse.Namespace) -> WebSource:
    """The ``--source`` chosen, once its options and keyphrase are checked (``UsageError``)."""
    name = args.source
    chosen = SOURCES[name]
    for dest, sources in _APPLIES_TO.items():
        if getattr(args, dest) not in (None, False) and name not in sources:
            flag = "--" + dest.replace("_", "-")
            users = " or ".join(f"--source {s}" for s in SOURCES if s in sources)
            raise UsageError(f"{flag} is an option of {users}, not of --source {name}")
    if args.sort is not None and args.sort not in chosen.sorts:
        raise UsageError(f"--source {name} sorts by {', '.join(chosen.sorts)}; not {args.sort!r}")
    if chosen.needs_keyphrase and not args.keyphrase.strip():
        raise UsageError(f"--source {name} needs a KEYPHRASE to search for")
    return chosen


def build_source(args: argparse.Namespace) -> tuple[WebSource, ImageSource]:
    """The source the arguments ask for, with its credentials checked."""
    chosen = source_of(args)
    return chosen, chosen.build(args)
