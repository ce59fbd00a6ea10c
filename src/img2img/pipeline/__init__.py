"""The indexing pipeline: candidates -> bytes -> images -> vectors -> store.

One module per stage and per policy:

- :mod:`~img2img.pipeline.download`: threads that only download, and hand the bytes on;
- :mod:`~img2img.pipeline.prepare`: a workshop of one thread per core that decodes, hashes,
  gates and prepares each image (resize and normalise for the model, when the
  embedder can do that apart from the model);
- :mod:`~img2img.pipeline.embed` and :mod:`~img2img.pipeline.write`: on the calling thread,
  the model in batches and the store, never waiting for the CPU work of the next batch;
- :mod:`~img2img.pipeline.handoff`: how each item's outcome comes back to the runner;
- :mod:`~img2img.pipeline.failures`: per-item failures versus systemic ones;
- :mod:`~img2img.pipeline.interrupts`: Ctrl-C, held back while a batch is written;
- :mod:`~img2img.pipeline.items` (what the stages share), :mod:`~img2img.pipeline.tally`
  (the counts), :mod:`~img2img.pipeline.runner` (``run_index``, joining them).

At most ``window`` items are in flight, and at most ``workers`` downloaded
images wait for the workshop, so memory stays bounded however many candidates
a source yields. Nothing is done twice (see :mod:`img2img.pipeline.reuse`): stored ids
are skipped before download, and bytes already embedded reuse their vector.
Ctrl-C stops the run at once: queued downloads are cancelled, the batch being
embedded is dropped, and :class:`~img2img.models.IndexInterrupted` carries the
report of what was stored.
"""

from img2img.pipeline.items import Gate, IndexSettings, PictureKeeper
from img2img.pipeline.runner import run_index

__all__ = ["Gate", "IndexSettings", "PictureKeeper", "run_index"]
