"""Write a report as one self-contained HTML file: thumbnails embedded, no network, no script.

    from img2img import ImageSearchClient, write_html

    client = ImageSearchClient()
    found = client.find_postings("mine.jpg")
    write_html(found, "postings.html", query="mine.jpg", client=client)

Jinja2 is imported only when a report is drawn, with autoescaping on: a title
like ``<script>`` from a web page is shown as text, never run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from img2img.errors import ConfigurationError, MissingDependencyError
from img2img.report.build import QueryImage, ReportResult, build_report
from img2img.report.thumbnails import ThumbnailLookup, local_thumbnails

if TYPE_CHECKING:
    from img2img.client import ImageSearchClient
    from img2img.report.views import Report

__all__ = ["render_html", "render_report", "write_html"]

_TEMPLATE = "report.html.j2"


def render_report(report: Report) -> str:
    """``report`` as the text of an HTML page."""
    try:
        import jinja2
    except ImportError as exc:
        raise MissingDependencyError("HTML reports need Jinja2: pip install jinja2") from exc
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("img2img.report", "templates"),
        autoescape=True,  # every template, whatever its name: strings from the web are text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(_TEMPLATE).render(report=report)


def render_html(
    result: ReportResult,
    *,
    query: QueryImage | None = None,
    query_text: str = "",
    client: ImageSearchClient | None = None,
    thumbnails: ThumbnailLookup | None = None,
    kind: str | None = None,
) -> str:
    """The HTML report of ``result`` (see :func:`write_html`), as text."""
    if thumbnails is None:
        thumbnails = local_thumbnails(client.pictures if client is not None else None)
    report = build_report(
        result, query=query, query_text=query_text, thumbnails=thumbnails, kind=kind
    )
    return render_report(report)


def write_html(
    result: ReportResult,
    path: str | os.PathLike[str],
    *,
    query: QueryImage | None = None,
    query_text: str = "",
    client: ImageSearchClient | None = None,
    thumbnails: ThumbnailLookup | None = None,
    kind: str | None = None,
) -> Path:
    """Write the report of ``result`` to ``path`` as one HTML file; returns the path.

    ``result`` is what ``search`` (plain or ``group=True``), ``find_postings``,
    ``locate`` or ``duplicates`` returned (pass ``kind="duplicates"`` for an
    empty list of groups). ``query`` is the picture asked about (a path, URL,
    bytes or PIL image), shown at the top; ``query_text`` the words of a
    ``search_text``. Thumbnails come from ``client``'s picture cache, then from
    local files (or from ``thumbnails(id, image_url)``); nothing is downloaded,
    and a picture that cannot be had is drawn as an empty frame.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigurationError(f"{target} is a folder; give the report a file name")
    html = render_html(
        result,
        query=query,
        query_text=query_text,
        client=client,
        thumbnails=thumbnails,
        kind=kind,
    )
    try:
        target.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the report to {target}: {exc}") from exc
    return target
