"""The ``images`` built-in: a small residual CNN on procedurally generated 16×16 images.

Ten classes of patterns (stripes in three directions, checkerboard, disc, ring, square,
frame, plus, triangle) drawn at random positions, sizes, periods and contrasts over a
random background with pixel noise, so a CNN needs translation-invariant features and
the task is not solved perfectly. Generated once per process from a fixed seed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tunebook.core.workloads.base import HParam, Splits, Workload
from tunebook.core.workloads.layers import NORMS, VIRTUAL_BATCH_SIZE, make_norm

DATASET_SEED = 20240518
SIZE = 16
CLASSES = (
    "horizontal stripes",
    "vertical stripes",
    "diagonal stripes",
    "checkerboard",
    "disc",
    "ring",
    "square",
    "frame",
    "plus",
    "triangle",
)
EXAMPLES = (6000, 1000, 1000)  # train, validation, test


def _patterns(label: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` binary masks of class ``label`` with random geometry, shape (n, SIZE, SIZE)."""
    grid = np.arange(SIZE, dtype=np.float64)
    ys, xs = grid[None, :, None], grid[None, None, :]
    cy, cx = rng.uniform(4.0, SIZE - 4.0, (2, n, 1, 1))
    scale = rng.uniform(2.5, 5.5, (n, 1, 1))
    period = rng.uniform(3.0, 6.0, (n, 1, 1))
    phase = rng.uniform(0.0, 2 * np.pi, (n, 1, 1))
    dy, dx = ys - cy, xs - cx
    radius = np.sqrt(dy**2 + dx**2)
    wave = 2 * np.pi / period
    masks = {
        0: np.sin(ys * wave + phase) > 0,
        1: np.sin(xs * wave + phase) > 0,
        2: np.sin((xs + ys) * wave / np.sqrt(2) + phase) > 0,
        3: (np.sin(xs * wave + phase) > 0) ^ (np.sin(ys * wave + phase) > 0),
        4: radius <= scale,
        5: np.abs(radius - scale) <= 0.9,
        6: np.maximum(np.abs(dy), np.abs(dx)) <= scale * 0.85,
        7: np.abs(np.maximum(np.abs(dy), np.abs(dx)) - scale * 0.85) <= 0.7,
        8: (np.minimum(np.abs(dy), np.abs(dx)) <= 0.8) & (radius <= scale + 1),
        9: (dy <= scale * 0.8) & (np.abs(dx) <= (dy + scale) * 0.6),
    }
    return np.broadcast_to(masks[label], (n, SIZE, SIZE))


@functools.lru_cache(maxsize=1)
def generated_images() -> tuple[np.ndarray, np.ndarray]:
    """All images (N, 1, 16, 16) float32 and labels (N,) int64, from the fixed seed."""
    rng = np.random.default_rng(DATASET_SEED)
    total = sum(EXAMPLES)
    labels = rng.integers(0, len(CLASSES), total)
    images = np.empty((total, SIZE, SIZE), dtype=np.float32)
    for label in range(len(CLASSES)):
        where = np.flatnonzero(labels == label)
        images[where] = _patterns(label, rng, len(where))
    contrast = rng.uniform(0.5, 1.2, (total, 1, 1)) * rng.choice([-1.0, 1.0], (total, 1, 1))
    background = rng.uniform(-0.5, 0.5, (total, 1, 1))
    noise = rng.normal(0.0, 0.45, images.shape)
    images = (images - 0.5) * contrast + background + noise
    return images[:, None].astype(np.float32), labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _splits() -> Splits:
    images, labels = generated_images()
    bounds = np.cumsum(EXAMPLES)[:-1]
    parts = [
        (torch.from_numpy(x.copy()), torch.from_numpy(y.copy()))
        for x, y in zip(np.split(images, bounds), np.split(labels, bounds))
    ]
    return Splits(train=parts[0], validation=parts[1], test=parts[2])


class RandomShift(nn.Module):
    """Training-time augmentation: shift each image by up to ``pixels`` in x and y."""

    def __init__(self, pixels: int) -> None:
        super().__init__()
        self.pixels = pixels

    def forward(self, x: Tensor) -> Tensor:
        """Shifted copies while training (edge pixels repeat), ``x`` itself in evaluation."""
        if not self.training or self.pixels == 0:
            return x
        p, (n, _, h, w) = self.pixels, x.shape
        padded = nn.functional.pad(x, (p, p, p, p), mode="replicate")
        offsets = torch.randint(0, 2 * p + 1, (2, n, 1), device=x.device)
        rows = (torch.arange(h, device=x.device) + offsets[0])[:, :, None]
        cols = (torch.arange(w, device=x.device) + offsets[1])[:, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None]
        return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


class ResidualBlock(nn.Module):
    """conv → norm → act → conv → norm, added to the (projected) input, then act."""

    def __init__(self, inputs: int, outputs: int, stride: int, norm: Any) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False),
            norm(outputs),
            nn.ReLU(),
            nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False),
            norm(outputs),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.skip = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False))
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        """``act(skip(x) + body(x))``."""
        return self.act(self.skip(x) + self.body(x))


class SmallResNet(nn.Module):
    """Stem conv, ``stages`` of residual blocks (each stage halves size, doubles width), head."""

    def __init__(self, hp: Mapping[str, Any], classes: int) -> None:
        super().__init__()

        def norm(features: int) -> nn.Module:
            return make_norm(hp["norm"], features, True, hp["virtual_batch_size"])

        width = hp["channels"]
        layers: list[nn.Module] = [
            RandomShift(2 if hp["augment"] else 0),
            nn.Conv2d(1, width, 3, 1, 1, bias=False),
            norm(width),
            nn.ReLU(),
        ]
        for stage in range(hp["stages"]):
            for block in range(hp["blocks_per_stage"]):
                downsample = stage > 0 and block == 0
                outputs = width * 2 if downsample else width
                layers.append(ResidualBlock(width, outputs, 2 if downsample else 1, norm))
                width = outputs
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of (N, 1, 16, 16) images."""
        return self.net(x)


class ImagesWorkload(Workload):
    """Small residual CNN on generated 16×16 pattern images, 10 classes."""

    name = "images"
    hparams = (
        HParam("channels", 16, "int", help="channels of the first stage (doubled per stage)"),
        HParam("stages", 2, "int", help="resolution stages; each after the first halves it"),
        HParam("blocks_per_stage", 1, "int", help="residual blocks per stage"),
        HParam("norm", "batch", "categorical", NORMS, "normalization in each block"),
        VIRTUAL_BATCH_SIZE,
        HParam("augment", False, "bool", help="random shifts of up to 2 pixels in training"),
    )

    def splits(self, data_seed: int) -> Splits:
        """6,000 training, 1,000 validation and 1,000 test images, fixed."""
        return _splits()

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """A residual CNN with the requested widths, depth and normalization."""
        if hparams["stages"] < 1 or hparams["blocks_per_stage"] < 1 or hparams["channels"] < 1:
            raise ValueError("channels, stages and blocks_per_stage must be at least 1")
        return SmallResNet(hparams, len(CLASSES))
