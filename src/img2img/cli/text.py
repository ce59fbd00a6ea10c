"""Text from strangers, made safe to show on a terminal.

Titles, URLs and failure reasons come from web pages and services. Printed
as they are, an escape sequence in one could rewrite the screen or the window
title, a bidi override could disguise a file name, and rich would read
``[link=...]`` in a title as markup. Everything the command shows that it did
not write itself goes through :func:`plain`.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.style import Style
    from rich.text import Text

__all__ = ["plain", "printable"]

#: Unicode categories that can drive a terminal or reorder text: controls (ESC
#: starts terminal commands), format characters (bidi overrides), separators.
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
#: Format characters that only join glyphs (emoji sequences, Indic scripts): harmless.
_JOINERS = frozenset({"\u200c", "\u200d"})


def printable(text: str) -> str:
    """``text`` with every character that could drive a terminal shown escaped (``\\x1b``)."""
    return "".join(
        ch
        if ch in _JOINERS or unicodedata.category(ch) not in _UNSAFE
        else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
        for ch in text
    )


def plain(text: str | None, style: str | Style = "") -> Text:
    """``text`` as a rich ``Text``: never read as markup, unsafe characters escaped."""
    from rich.text import Text

    return Text(printable(text or ""), style=style)
