"""Workloads that load but cannot train, as users write them by mistake (issue #8 item 2).

``Classifier`` is a healthy 4-class MLP on 8 features whose ``outputs`` and ``inputs``
hyperparameters can be set wrong in a spec; the others are wrong by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from tunebook.core.workloads.base import HParam, Splits, Workload

FEATURES, CLASSES = 8, 4


def _data(regression: bool = False) -> Splits:
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(120, FEATURES, generator=generator)
    y = x.sum(1) if regression else (x[:, :CLASSES]).argmax(1)
    return Splits(train=(x[:100], y[:100]), validation=(x[100:], y[100:]))


class Classifier(Workload):
    """A 4-class MLP; `outputs` below 4 gives too few logits, `inputs` other than 8 a first
    layer of the wrong size."""

    hparams = (
        HParam("outputs", CLASSES, "int", help="logits"),
        HParam("inputs", FEATURES, "int", help="first layer's inputs"),
    )

    def splits(self, data_seed: int) -> Splits:
        """Fixed generated data."""
        return _data()

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """An MLP sized by the hyperparameters."""
        return nn.Sequential(
            nn.Linear(hparams["inputs"], 16), nn.ReLU(), nn.Linear(16, hparams["outputs"])
        )


class TooFewLogits(Classifier):
    """Two logits for four classes."""

    hparams = (HParam("outputs", 2, "int"), HParam("inputs", FEATURES, "int"))


class WrongFirstLayer(Classifier):
    """A first layer for 5 features on data with 8."""

    hparams = (HParam("outputs", CLASSES, "int"), HParam("inputs", 5, "int"))


class WrongShape(Workload):
    """Regression whose model predicts 3 values per example."""

    task = "regression"

    def splits(self, data_seed: int) -> Splits:
        """Fixed generated data with a real-valued target."""
        return _data(regression=True)

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """Three outputs where one is needed."""
        return nn.Linear(FEATURES, 3)
