"""Two shots of one flat scene from different places: pairs that must NOT be called copies.

A poster on a wall, photographed twice, relates by a homography wherever the
wall is seen, which is why a perspective fit needs a guard. These pairs are
rendered with a real 3-D displacement of a pinhole camera (no package ships
such pairs besides scikit-image's stereo views): a textured wall (a photo, with
another photo hung on it as a poster), the floor in front of it and, in some
scenes, a sign standing nearer the camera. Each plane is drawn through the
homography its 3-D rectangle makes in each camera, farthest first, so the
second view sees the scene with true parallax between the planes; the
``wall`` scenes have the wall alone (a pure homography), the shots differing
in where they stand, where they look and how far they zoom. The two camera
centres of a pair are at least :data:`MIN_BASELINE` apart (a tenth of the
distance to the wall): shots from one centre are a crop of each other.

    from flatscenes import flat_scene_pairs
    for name, first, second in flat_scene_pairs(photos):
        ...
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

from img2img.postings.features import opencv

__all__ = ["flat_scene_pairs", "render"]

SIZE = (640, 480)
#: Least distance between the two shots' camera centres (scene units; the wall is
#: 10 away): two shots from one centre differ by a rotation and a zoom, so one is a
#: crop of the other seen through a homography, a copy by any measure, not two places.
MIN_BASELINE = 1.0
Plane = tuple[Image.Image, np.ndarray]  # texture, its four 3-D corners (tl, tr, br, bl)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    turn = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    tilt = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return tilt @ turn


def render(
    planes: Sequence[Plane], position: np.ndarray, yaw: float, pitch: float, focal: float
) -> Image.Image:
    """The planes as a pinhole camera at ``position`` sees them (y down, looking along +z)."""
    cv2 = opencv()
    width, height = SIZE
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    rotation = _rotation(yaw, pitch)
    canvas = np.full((height, width, 3), 128, np.uint8)
    order = sorted(
        planes, key=lambda plane: -float(np.linalg.norm(plane[1].mean(axis=0) - position))
    )
    for texture, corners in order:
        seen = (corners - position) @ rotation.T
        if (seen[:, 2] <= 0.1).any():
            continue  # behind the camera: not drawn
        projected = (seen @ camera.T)[:, :2] / seen[:, 2:3]
        tw, th = texture.size
        source = np.array([[0, 0], [tw, 0], [tw, th], [0, th]], np.float32)
        matrix = cv2.getPerspectiveTransform(source, projected.astype(np.float32))
        pixels = cv2.warpPerspective(np.asarray(texture), matrix, SIZE, flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.full((th, tw), 255, np.uint8), matrix, SIZE) > 127
        canvas[mask] = pixels[mask]
    return Image.fromarray(canvas)


def _rectangle(
    x: tuple[float, float], y: tuple[float, float], z: tuple[float, float]
) -> np.ndarray:
    """Corners of an axis-aligned rectangle: a vertical one when z is constant, else the floor."""
    if z[0] == z[1]:
        return np.array(
            [[x[0], y[0], z[0]], [x[1], y[0], z[0]], [x[1], y[1], z[0]], [x[0], y[1], z[0]]], float
        )
    return np.array(
        [[x[0], y[0], z[1]], [x[1], y[0], z[1]], [x[1], y[0], z[0]], [x[0], y[0], z[0]]], float
    )


def _scene(kind: str, textures: Sequence[Image.Image], rng: random.Random) -> list[Plane]:
    wall = ImageOps.fit(textures[0], (1600, 1000))
    poster = ImageOps.fit(textures[1], (560, 420))
    wall.paste(
        ImageOps.expand(poster, border=12, fill=(250, 250, 250)),
        (rng.randint(350, 650), rng.randint(150, 400)),
    )
    planes: list[Plane] = [(wall, _rectangle((-8, 8), (-8, 2), (10, 10)))]
    if kind in ("floor", "sign"):
        planes.append(
            (ImageOps.fit(textures[2], (1600, 800)), _rectangle((-8, 8), (3, 3), (1, 10)))
        )
    if kind == "sign":
        left = rng.uniform(-3, 1)
        planes.append(
            (
                ImageOps.fit(textures[3], (400, 500)),
                _rectangle((left, left + 2.2), (0.0, 3), (6.5, 6.5)),
            )
        )
    return planes


def _apart(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``second`` moved sideways from ``first`` to :data:`MIN_BASELINE` apart."""
    away = second - first
    away[2] = 0.0  # sideways, along the wall: a step forward alone is a zoom
    length = float(np.linalg.norm(away))
    direction = away / length if length > 1e-6 else np.array([1.0, 0.0, 0.0])
    return first + direction * MIN_BASELINE


def flat_scene_pairs(
    photos: dict[str, Image.Image],
    count: int = 12,
    seed: int = 0,
    kinds: Sequence[str] = ("floor", "sign", "facade"),
    cameras: list[tuple[str, list[tuple[np.ndarray, float, float, float]]]] | None = None,
) -> list[tuple[str, Image.Image, Image.Image]]:
    """``count`` pairs ``(name, first shot, second shot)``, a third each of the
    ``floor``, ``sign`` and ``facade`` scenes (all with parallax), textured with
    ``photos``; ``kinds=("wall",)`` makes pairs of a wall alone (no parallax).
    ``cameras``, when given, receives each pair's name and its two shots'
    (position, yaw, pitch, focal)."""
    rng = random.Random(f"flat-scenes:{seed}:{kinds}")
    names = sorted(photos)
    pairs = []
    for index in range(count):
        kind = kinds[index % len(kinds)]
        textures = [photos[name].convert("RGB") for name in rng.sample(names, 4)]
        planes = _scene(kind, textures, rng)
        shots, seen = [], []
        for _ in range(2):
            position = np.array(
                [rng.uniform(-2.5, 2.5), rng.uniform(-1.0, 1.0), rng.uniform(-1.5, 1.5)]
            )
            turn = rng.uniform(-0.1, 0.1)
            pitch = rng.uniform(-0.08, 0.08)
            focal = rng.uniform(520, 760)
            if seen and np.linalg.norm(position - seen[0][0]) < MIN_BASELINE:
                position = _apart(seen[0][0], position)
            yaw = -math.atan2(position[0], 10.0) + turn  # look towards the wall's middle
            shots.append(render(planes, position, yaw, pitch, focal=focal))
            seen.append((position, yaw, pitch, focal))
        pairs.append((f"{kind}-{index}", shots[0], shots[1]))
        if cameras is not None:
            cameras.append((f"{kind}-{index}", seen))
    return pairs
