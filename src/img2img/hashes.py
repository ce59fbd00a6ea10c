"""Perceptual hashes: a picture's difference hash (dHash), and how many bits two differ by.

A dHash of 64 bits changes little when a picture is resized, re-encoded or
slightly recoloured; the verifier reports the distance beside its fit, and
records store the hash so it is had without the pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["difference_hash", "hamming_distance"]


def difference_hash(image: Image.Image) -> str:
    """A 64-bit perceptual hash (dHash) as 16 hex chars: equal for near-identical images.

    Compare two with a Hamming distance; up to ~10 differing bits means the
    same picture resized or re-encoded.
    """
    from PIL import Image

    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).reshape(-1)
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def hamming_distance(hash_a: str, hash_b: str) -> int:
    """Bits that differ between two hex perceptual hashes."""
    return (int(hash_a, 16) ^ int(hash_b, 16)).bit_count()
