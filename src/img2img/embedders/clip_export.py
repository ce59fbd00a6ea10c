"""Write an open_clip model as a CLIP ONNX folder (needs the ``[torch]`` extra).

The folder has Immich's layout (see :mod:`img2img.embedders.clip_onnx`), so
:class:`~img2img.embedders.clip.ClipEmbedder` runs it without torch. The
tokenizer is CLIP's byte-level BPE built from the vocabulary open_clip ships,
so no download is needed::

    from img2img.embedders.clip_export import export_clip_folder
    export_clip_folder("ViT-B-32", "/models/vit-b-32.safetensors", "/models/ViT-B-32-onnx")
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from img2img.embedders.stack import import_model_package
from img2img.errors import ModelUnavailableError

__all__ = ["clip_tokenizer_json", "export_clip_folder"]

_OPSET = 17
_INSTALL = "pip install 'img2img-search[torch]'"
# CLIP's pre-tokenisation: contractions, letter runs, single digits, other symbol runs.
_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map of bytes to printable characters, which CLIP's vocabulary uses."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes), strict=True))


def clip_tokenizer_json(bpe_path: str | Path) -> str:
    """CLIP's tokenizer as ``tokenizer.json`` for the ``tokenizers`` package.

    ``bpe_path`` is open_clip's ``bpe_simple_vocab_16e6.txt.gz``. The ids agree
    with open_clip's ``SimpleTokenizer``: 256 byte symbols, the same with the
    end-of-word mark, the 48,894 merges, then start and end of text.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE

    with gzip.open(bpe_path, "rt", encoding="utf-8") as file:
        lines = file.read().split("\n")
    merges: list[tuple[str, str]] = []
    for line in lines[1 : 49152 - 256 - 2 + 1]:
        left, right = line.split()
        merges.append((left, right))
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [symbol + "</w>" for symbol in symbols]
    tokens += ["".join(merge) for merge in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = Tokenizer(
        BPE(
            vocab=vocab,
            merges=merges,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
            unk_token="<|endoftext|>",
        )
    )
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    start, end = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", start), ("<|endoftext|>", end)],
    )
    tokenizer.add_special_tokens(["<|startoftext|>", "<|endoftext|>"])
    serialised: str = tokenizer.to_str()
    return serialised


def _export(module: Any, example: Any, target: Path, input_name: str) -> None:
    import torch

    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.enable_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
            torch.onnx.export(
                module,
                (example,),
                str(target),
                input_names=[input_name],
                output_names=["embedding"],
                dynamic_axes={input_name: {0: "batch"}, "embedding": {0: "batch"}},
                opset_version=_OPSET,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many kinds for unsupported operators
        raise ModelUnavailableError(f"could not export the model to ONNX: {exc}") from exc


def export_clip_folder(
    model_name: str,
    pretrained: str | os.PathLike[str] | None,
    folder: str | os.PathLike[str],
) -> Path:
    """Export open_clip ``model_name`` with weights ``pretrained`` into ``folder``; returns it.

    ``pretrained`` is what :class:`~img2img.embedders.clip.ClipEmbedder` takes:
    an open_clip tag, a checkpoint file, or ``None`` for its seeded random
    weights. Written beside ``folder`` and renamed into place, so a failed
    export leaves nothing behind.
    """
    for module, package in (("torch", "torch"), ("torchvision", "torchvision")):
        import_model_package(module, package=package, needed_by="exporting CLIP", install=_INSTALL)
    open_clip = import_model_package(
        "open_clip", package="open_clip_torch", needed_by="exporting CLIP", install=_INSTALL
    )
    import torch

    from img2img.embedders.clip import ClipEmbedder

    clip = ClipEmbedder(model_name, pretrained=pretrained, runtime="torch")
    model, _, _ = clip._load()
    model = model.float().cpu().eval()
    config = open_clip.get_model_config(model_name)
    preprocess = dict(model.visual.preprocess_cfg)
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        (staging / "visual").mkdir()
        (staging / "textual").mkdir()
        (staging / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        (staging / "visual" / "preprocess_cfg.json").write_text(
            json.dumps(preprocess, indent=2), encoding="utf-8"
        )

        class Visual(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.clip = model

            def forward(self, image: torch.Tensor) -> torch.Tensor:
                return self.clip.encode_image(image)  # type: ignore[no-any-return]

        class Textual(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.clip = model

            def forward(self, text: torch.Tensor) -> torch.Tensor:
                return self.clip.encode_text(text)  # type: ignore[no-any-return]

        size = preprocess["size"]
        height, width = (size, size) if isinstance(size, int) else size
        context = int(config.get("text_cfg", {}).get("context_length", 77))
        _export(
            Visual().eval(),
            torch.zeros(2, 3, height, width),
            staging / "visual" / "model.onnx",
            "image",
        )
        _export(
            Textual().eval(),
            torch.ones(2, context, dtype=torch.int32),
            staging / "textual" / "model.onnx",
            "text",
        )
        bpe = Path(str(open_clip.__file__)).parent / "bpe_simple_vocab_16e6.txt.gz"
        (staging / "textual" / "tokenizer.json").write_text(
            clip_tokenizer_json(bpe), encoding="utf-8"
        )
        (staging / "textual" / "tokenizer_config.json").write_text(
            json.dumps({"pad_token": "<|endoftext|>", "model_max_length": context}),
            encoding="utf-8",
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
