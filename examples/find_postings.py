"""Where is this picture posted? Index reposts of real photos, then find every posting. Offline.

    python examples/find_postings.py

Real photos from scikit-image are "posted" on made-up pages: some as they are,
some as reposts (cropped, mirrored, captioned, screenshotted), next to a photo
of the same motorcycle from a viewpoint a few centimetres away. Then:

- ``find_postings`` lists every posting of one picture with the evidence, and
  leaves out the other photo of the same motorcycle, which ``search`` ranks high;
- ``search(..., group=True)`` shows one row per picture;
- ``duplicates`` lists every picture posted more than once.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from img2img import EfficientNetEmbedder, ImageCandidate, ImageSearchClient, LocalStore
from img2img.testing.edits import apply_edit
from img2img.testing.photos import sample_photos


def post(folder: Path, name: str, image: Image.Image, page: str) -> ImageCandidate:
    """Save ``image`` as if downloaded from ``page``: a file, with the page as provenance."""
    path = folder / f"{name}.jpg"
    image.save(path, quality=88)
    return ImageCandidate(
        image_url=path.resolve().as_uri(), page_url=page, title=name, domain=page.split("/")[2]
    )


def main() -> int:
    import skimage.data

    workdir = Path(tempfile.mkdtemp(prefix="img2img-postings-"))
    photos = sample_photos(("coffee", "astronaut", "chelsea", "rocket"))
    left, right, _ = skimage.data.stereo_motorcycle()
    bike, same_bike = Image.fromarray(np.asarray(left)), Image.fromarray(np.asarray(right))

    candidates = [
        post(workdir, "bike", bike, "https://motors.example/reviews/roadster"),
        post(workdir, "bike-crop", apply_edit(bike, "crop70"), "https://forum.example/t/88"),
        post(workdir, "bike-meme", apply_edit(bike, "text"), "https://memes.example/p/5"),
        post(workdir, "bike-mirror", apply_edit(bike, "mirror"), "https://blog.example/ride"),
        post(workdir, "bike-screenshot", apply_edit(bike, "border"), "https://social.example/s/1"),
        post(workdir, "same-bike-other-shot", same_bike, "https://shop.example/item/42"),
    ]
    for name, photo in photos.items():
        candidates.append(post(workdir, name, photo, f"https://photos.example/{name}"))
    candidates.append(
        post(
            workdir, "chelsea-small", photos["chelsea"].resize((225, 150)), "https://cats.example/"
        )
    )

    store = LocalStore(workdir / "index.sqlite3")
    with ImageSearchClient(embedder=EfficientNetEmbedder(), store=store) as client:
        print(f"Indexed: {client.add(candidates, keyphrase='example')}")

        print("\nWhere is the motorcycle photo posted?")
        postings = client.find_postings(bike)
        for posting in postings:
            evidence = posting.evidence
            detail = (
                f"{evidence.inliers} keypoints agree, scale {evidence.scale:.2f}, "
                f"rotated {evidence.rotation:+.0f}{', mirrored' if evidence.mirrored else ''}"
                if evidence
                else "same bytes"
            )
            print(f"  {posting.relation:5} {posting.page_url}  ({detail})")
        print(
            f"  ({postings.candidates} candidates checked, {len(postings.unverified)} unverified)"
        )

        alike = [m.title for m in client.search(bike, k=8)]
        print(
            f"\nsearch ranks the other shot of the bike at {alike.index('same-bike-other-shot') + 1}"
        )
        print(
            "find_postings calls it a copy:", "same-bike-other-shot" in [p.title for p in postings]
        )

        print("\nGrouped search, one row per picture:")
        for rank, group in enumerate(client.search(bike, k=3, group=True), start=1):
            print(f"  {rank}. {group.score:.3f}  {', '.join(str(p.title) for p in group.postings)}")

        print("\nPictures posted more than once:")
        for group in client.duplicates():
            print(f"  {len(group)} postings: {', '.join(str(p.page_url) for p in group.postings)}")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
