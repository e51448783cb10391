"""Normalization layers shared by the built-in model families (PB-25, PB-30)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from tunebook.core.workloads.base import HParam

NORMS: tuple[str, ...] = ("none", "layer", "group", "batch")

VIRTUAL_BATCH_SIZE = HParam(
    "virtual_batch_size",
    0,
    "int",
    help=(
        "advanced, batch norm only: compute training statistics over chunks of about this "
        "many examples (ghost batch norm, PB-25); 0 uses the whole batch"
    ),
)


class GhostBatchNorm(nn.Module):
    """Batch norm whose training statistics come from chunks of ~``virtual_batch_size``.

    Decouples the normalization statistics from the batch size (PB-25). The running
    statistics are updated once per chunk; evaluation uses them as plain batch norm does.
    """

    def __init__(self, norm: nn.modules.batchnorm._BatchNorm, virtual_batch_size: int) -> None:
        super().__init__()
        self.norm = norm
        self.virtual_batch_size = virtual_batch_size

    def forward(self, x: Tensor) -> Tensor:
        """Normalize each chunk with its own statistics in training, the running ones otherwise."""
        size = self.virtual_batch_size
        if not self.training or size <= 0 or x.shape[0] <= size:
            return self.norm(x)
        chunks = x.chunk(math.ceil(x.shape[0] / size))
        return torch.cat([self.norm(chunk) for chunk in chunks])


def make_norm(kind: str, features: int, spatial: bool, virtual_batch_size: int = 0) -> nn.Module:
    """A normalization layer for ``features`` channels: none, layer, group or (ghost) batch."""
    if kind == "none":
        return nn.Identity()
    if kind == "layer":
        return nn.GroupNorm(1, features) if spatial else nn.LayerNorm(features)
    if kind == "group":
        groups = math.gcd(features, 8)
        return nn.GroupNorm(groups, features)
    if kind == "batch":
        norm = nn.BatchNorm2d(features) if spatial else nn.BatchNorm1d(features)
        return GhostBatchNorm(norm, virtual_batch_size) if virtual_batch_size > 0 else norm
    raise ValueError(f"unknown norm {kind!r} (choices: {', '.join(NORMS)})")
