"""The ``lm`` built-in: a small byte-level Transformer language model on Python's own source.

The text is the standard library's top-level ``.py`` files, read in sorted order up to
``max_bytes`` — present on every machine, nothing downloaded. The first 90% of the bytes
train, the next 5% validate, the last 5% test (different files, so no leakage). The
objective is validation bits per byte.
"""

from __future__ import annotations

import functools
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tunebook.core.workloads.base import HParam, Objective, Splits, Workload, WorkloadError

VOCAB = 256
SPLIT_FRACTIONS = (0.9, 0.05)


@functools.lru_cache(maxsize=2)
def stdlib_text(max_bytes: int) -> bytes:
    """Up to ``max_bytes`` of the standard library's top-level .py files, in name order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    chunks, total = [], 0
    for path in sorted(root.glob("*.py")):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        chunks.append(data[: max_bytes - total])
        total += len(chunks[-1])
        if total >= max_bytes:
            break
    return b"".join(chunks)


@functools.lru_cache(maxsize=2)
def _splits(sequence_length: int, max_bytes: int) -> Splits:
    text = stdlib_text(max_bytes)
    window = sequence_length + 1
    data = torch.frombuffer(bytearray(text), dtype=torch.uint8).long()
    cut1 = int(len(data) * SPLIT_FRACTIONS[0])
    cut2 = int(len(data) * sum(SPLIT_FRACTIONS))

    def windows(part: Tensor) -> tuple[Tensor, Tensor]:
        rows = part[: len(part) // window * window].view(-1, window)
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()

    return Splits(
        train=windows(data[:cut1]), validation=windows(data[cut1:cut2]), test=windows(data[cut2:])
    )


class ByteTransformer(nn.Module):
    """Pre-norm Transformer decoder over bytes with learned positions and a local causal mask.

    Each position attends to itself and the ``context - 1`` bytes before it (``context`` 0:
    to every earlier byte of the window).
    """

    def __init__(self, hp: Mapping[str, Any], sequence_length: int) -> None:
        super().__init__()
        d_model = hp["d_model"]
        self.embed = nn.Embedding(VOCAB, d_model)
        self.position = nn.Parameter(torch.randn(sequence_length, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model,
            hp["heads"],
            4 * d_model,
            hp["dropout"],
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, hp["layers"], enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, VOCAB)
        steps = torch.arange(sequence_length)
        distance = steps[:, None] - steps[None, :]
        blocked = (distance < 0) | (distance >= (hp["context"] or sequence_length))
        mask = torch.zeros(sequence_length, sequence_length).masked_fill(blocked, float("-inf"))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-byte logits, shape (batch, length, 256)."""
        length = tokens.shape[1]
        h = self.embed(tokens) + self.position[:length]
        h = self.blocks(h, mask=self.mask[:length, :length])
        return self.head(self.norm(h))


class LanguageModelWorkload(Workload):
    """Byte-level Transformer LM on Python standard-library source; bits per byte."""

    name = "lm"
    task = "language_model"
    objective = Objective("bits_per_byte", "min")
    hparams = (
        HParam("d_model", 64, "int", help="width of the residual stream"),
        HParam("layers", 2, "int", help="Transformer blocks"),
        HParam("heads", 4, "int", help="attention heads (must divide d_model)"),
        HParam("context", 0, "int", help="bytes each position can attend to; 0 = the whole window"),
        HParam("dropout", 0.0, "float", help="dropout in attention and feed-forward"),
    )

    def __init__(self, sequence_length: int = 64, max_bytes: int = 1_000_000) -> None:
        """Train on windows of ``sequence_length`` bytes from up to ``max_bytes`` of text."""
        if sequence_length < 2 or max_bytes < 100 * (sequence_length + 1):
            raise WorkloadError(
                f"workload {self.ref!r}: sequence_length must be ≥ 2 and max_bytes at least "
                f"100 windows, got {sequence_length} and {max_bytes}"
            )
        self.sequence_length = sequence_length
        self.max_bytes = max_bytes
        if len(stdlib_text(max_bytes)) < 100 * (sequence_length + 1):
            raise WorkloadError(
                f"workload {self.ref!r}: too little Python standard-library source found "
                f"under {sysconfig.get_paths()['stdlib']}"
            )

    def config(self) -> dict[str, Any]:
        """Sequence length and text budget."""
        return {"sequence_length": self.sequence_length, "max_bytes": self.max_bytes}

    def splits(self, data_seed: int) -> Splits:
        """Non-overlapping byte windows: inputs and the same bytes shifted by one."""
        return _splits(self.sequence_length, self.max_bytes)

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """A ByteTransformer; ``d_model`` must divide into ``heads``."""
        if hparams["d_model"] % hparams["heads"]:
            raise ValueError(
                f"d_model ({hparams['d_model']}) must be divisible by heads ({hparams['heads']})"
            )
        if not 0 <= hparams["context"] <= self.sequence_length:
            raise ValueError(
                f"context ({hparams['context']}) must be between 0 and the sequence length "
                f"({self.sequence_length})"
            )
        return ByteTransformer(hparams, self.sequence_length)
