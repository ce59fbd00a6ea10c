"""Headless Chromium for report tests: load a page, let a check script report what it saw.

The report itself forbids script (its Content-Security-Policy); the test writes a
copy with that one line removed and a small check script added at the end, so
the page runs exactly what its markup would run, and nothing stops a script a
hostile title smuggled in: that it did not run is then the test's finding.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

__all__ = ["chromium", "inspect_page", "screenshot"]

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
)

_CHECK = """
<script id="report-check">
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var result = {
    pwned: window.pwned === undefined ? null : String(window.pwned),
    images: images.map(function (i) { return {complete: i.complete, width: i.naturalWidth}; }),
    links: Array.prototype.slice.call(document.querySelectorAll("a[href]")).map(
      function (a) { return a.getAttribute("href"); }),
    polygons: Array.prototype.slice.call(document.querySelectorAll("svg.outline polygon")).map(
      function (p) { var box = p.getBoundingClientRect(); return [p.getAttribute("points"), box.width, box.height]; }),
    scripts: document.scripts.length,
    titles: Array.prototype.slice.call(document.querySelectorAll("p.title")).map(
      function (p) { return p.textContent; })
  };
  var out = document.createElement("pre");
  out.id = "report-check-result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    """The Chromium executable, or skip the test saying why there is none."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    pytest.skip(
        "no Chromium here: `make browser` installs Debian's chromium with apt-get "
        "(needs apt-get and root); the report's browser checks did not run"
    )


def _run(arguments: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="img2img-chromium-") as profile:
        return subprocess.run(
            [chromium(), *_FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "HOME": profile},
        )


def inspect_page(report: Path) -> dict[str, Any]:
    """What the page showed once loaded: images and their decoded widths, links, outlines,
    titles as text, and whether any script set ``window.pwned``."""
    html = report.read_text(encoding="utf-8")
    html, policies = re.subn(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert policies == 1, "the report should carry its Content-Security-Policy"
    checked = report.with_name(report.stem + ".checked.html")
    checked.write_text(html.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    result = _run(["--virtual-time-budget=5000", "--dump-dom", checked.as_uri()])
    found = re.search(r'<pre id="report-check-result">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the check script did not report: {result.stderr[-2000:]}"
    import html as html_module

    data: dict[str, Any] = json.loads(html_module.unescape(found.group(1)))
    return data


def screenshot(report: Path, target: Path, size: str = "1100,900") -> Path:
    """A PNG of how ``report`` looks in the browser."""
    result = _run([f"--window-size={size}", f"--screenshot={target}", report.as_uri()])
    assert target.exists(), result.stderr[-2000:]
    return target
