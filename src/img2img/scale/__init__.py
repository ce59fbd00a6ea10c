"""Indexing past one machine: the same stages, run by a distributed engine.

:func:`~img2img.scale.ray_index.index_on_ray` runs discover, download, decode,
embed and write as a Ray Data pipeline (``pip install img2img-search[ray]``);
see docs/scale.md. Nothing here imports Ray until a job runs.
"""

from img2img.scale.ray_index import RaySettings, index_on_ray

__all__ = ["RaySettings", "index_on_ray"]
