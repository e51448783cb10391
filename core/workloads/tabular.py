"""The ``tabular`` built-in: an MLP on a CSV file or on a generated classification problem.

The generated data is the product's default workload (``tunebook demo``): 12 standard
normal features labelled by a fixed random teacher (a two-layer tanh network plus
multiplicative feature interactions) with Gumbel label noise, 5 classes. A student MLP
gets from chance (~76% error) to ~25% validation error in 200-500 Adam steps, and the
noise keeps the error well above 0, so tuning has something to find.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tunebook.core.workloads.base import (
    REGRESSION_HINT,
    TASKS,
    HParam,
    Splits,
    Workload,
    WorkloadError,
    split_tensors,
)
from tunebook.core.workloads.layers import VIRTUAL_BATCH_SIZE, make_norm
from tunebook.sessions.text import plural

DATASET_SEED = 20240517
GENERATED_EXAMPLES = (4000, 1000, 1000)  # train, validation, test
GENERATED_FEATURES = 12
GENERATED_CLASSES = 5
SPLIT_FRACTIONS = (0.7, 0.15)  # CSV rows: train, validation; the rest is test

Arrays = tuple[np.ndarray, np.ndarray]
Labels = tuple[str, ...]

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


@functools.lru_cache(maxsize=2)
def generated_dataset() -> Arrays:
    """Features and labels of the generated problem, the same on every machine and call."""
    rng = np.random.default_rng(DATASET_SEED)
    n, d, k, hidden = sum(GENERATED_EXAMPLES), GENERATED_FEATURES, GENERATED_CLASSES, 48
    x = rng.standard_normal((n, d))
    w1 = rng.standard_normal((d, hidden)) * 2.0 / np.sqrt(d)
    b1 = rng.standard_normal(hidden) * 0.5
    w2 = rng.standard_normal((hidden, hidden)) * 2.0 / np.sqrt(hidden)
    w3 = rng.standard_normal((hidden, k)) * 3.0 / np.sqrt(hidden)
    a = x @ rng.standard_normal((d, k)) / np.sqrt(d)
    b = x @ rng.standard_normal((d, k)) / np.sqrt(d)
    logits = np.tanh(np.tanh(x @ w1 + b1) @ w2) @ w3 + 3.0 * a * b
    logits -= logits.mean(0)
    labels = (logits + 0.25 * rng.gumbel(size=logits.shape)).argmax(1)
    return x.astype(np.float32), labels.astype(np.int64)


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise WorkloadError(f"{where}: {text!r} is not a number") from None


def read_csv(path: str, target: str, task: str) -> tuple[np.ndarray, np.ndarray, Labels]:
    """Parse a CSV with a header row into float features, a target column, and the class
    labels as written (empty for regression).

    Classification labels (any text) map to integers in sorted order (numerically when
    they are all numbers); regression targets and every feature must be numbers.
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
    except OSError as exc:
        raise WorkloadError(f"CSV {path!r}: cannot be read ({exc.strerror})") from exc
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise WorkloadError(f"CSV {path!r}: is empty, expected a header row")
        header = [name.strip() for name in header]
        if target not in header:
            raise WorkloadError(
                f"CSV {path!r}: no column {target!r} (columns: {', '.join(header)})"
            )
        target_index = header.index(target)
        features, targets = [], []
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            where = f"CSV {path!r} line {reader.line_num}"
            if len(row) != len(header):
                raise WorkloadError(
                    f"{where}: has {plural(len(row), 'cell')}, the header has "
                    f"{plural(len(header), 'column')}"
                )
            values = [
                _number(cell, f"{where}, column {header[i]!r}")
                for i, cell in enumerate(row)
                if i != target_index
            ]
            label = row[target_index].strip()
            if task == "regression":
                targets.append(_number(label, f"{where}, column {target!r}"))
            else:
                targets.append(label)
            features.append(values)
    if len(features) < 10:
        rows = plural(len(features), "data row")
        raise WorkloadError(f"CSV {path!r}: has {rows}, at least 10 needed")
    x = np.asarray(features, dtype=np.float32).reshape(len(features), len(header) - 1)
    if task == "regression":
        return x, np.asarray(targets, dtype=np.float32), ()
    if all(_is_number(label) for label in targets):
        classes = sorted(set(targets), key=float)
    else:
        classes = sorted(set(targets))
    index = {label: i for i, label in enumerate(classes)}
    return x, np.asarray([index[label] for label in targets], dtype=np.int64), tuple(classes)


def _is_integer(text: str) -> bool:
    return float(text).is_integer()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def _csv_splits(path: str, target: str, task: str, stamp: tuple[int, int]) -> tuple[Splits, Labels]:
    """Shuffle CSV rows with the fixed dataset seed, split 70/15/15, standardize; also the
    class labels as written.

    ``stamp`` (mtime, size) makes an edited file a new cache entry.
    """
    del stamp
    x, y, labels = read_csv(path, target, task)
    n = len(x)
    order = np.random.default_rng(DATASET_SEED).permutation(n)
    n_train = int(n * SPLIT_FRACTIONS[0])
    n_val = int(n * SPLIT_FRACTIONS[1])
    parts = np.split(order, [n_train, n_train + n_val])
    return _to_splits(x, y, task, parts), labels


def _to_splits(x: np.ndarray, y: np.ndarray, task: str, parts: list[np.ndarray]) -> Splits:
    train = parts[0]
    mean, std = x[train].mean(0), x[train].std(0)
    std[std == 0] = 1.0
    x = (x - mean) / std
    if task == "regression":
        y_mean, y_std = y[train].mean(), y[train].std() or 1.0
        y = (y - y_mean) / y_std
    tensors = [
        (torch.from_numpy(np.ascontiguousarray(x[p], dtype=np.float32)), torch.from_numpy(y[p]))
        for p in parts
    ]
    test = tensors[2] if len(parts) > 2 and len(parts[2]) else None
    return Splits(train=tensors[0], validation=tensors[1], test=test)


@functools.lru_cache(maxsize=2)
def _generated_splits() -> Splits:
    x, y = generated_dataset()
    n_train, n_val, _ = GENERATED_EXAMPLES
    parts = np.split(np.arange(len(x)), [n_train, n_train + n_val])
    return _to_splits(x, y, "classification", parts)


class MLP(nn.Module):
    """Linear → norm → activation → dropout blocks, then a linear head."""

    def __init__(self, inputs: int, outputs: int, hp: Mapping[str, Any]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for _ in range(hp["depth"]):
            layers.append(nn.Linear(width, hp["width"]))
            if hp["norm"] != "none":
                layers.append(make_norm(hp["norm"], hp["width"], False, hp["virtual_batch_size"]))
            layers.append(ACTIVATIONS[hp["activation"]]())
            if hp["dropout"] > 0:
                layers.append(nn.Dropout(hp["dropout"]))
            width = hp["width"]
        layers.append(nn.Linear(width, outputs))
        self.net = nn.Sequential(*layers)
        self.squeeze = outputs == 1

    def forward(self, x: Tensor) -> Tensor:
        """Logits (classification) or the prediction (regression, one value per row)."""
        out = self.net(x)
        return out.squeeze(-1) if self.squeeze else out


class TabularWorkload(Workload):
    """MLP on a CSV file (csv=, target=, task=) or on a generated 5-class problem."""

    name = "tabular"
    hparams = (
        HParam("width", 64, "int", help="units per hidden layer"),
        HParam("depth", 2, "int", help="number of hidden layers"),
        HParam("activation", "relu", "categorical", ("relu", "gelu", "tanh"), "nonlinearity"),
        HParam("dropout", 0.0, "float", help="dropout rate after each hidden layer"),
        HParam("norm", "none", "categorical", ("none", "layer", "batch"), "normalization"),
        VIRTUAL_BATCH_SIZE,
    )
    path_options = ("csv",)

    def __init__(
        self, csv: str | None = None, target: str | None = None, task: str | None = None
    ) -> None:
        """Use the generated data, or ``csv`` with its ``target`` column and ``task``."""
        if csv is None:
            if target is not None or task not in (None, "classification"):
                raise WorkloadError(
                    f"workload {self.ref!r}: target and task apply only with a csv file"
                )
            self._csv: tuple[str, str, str] | None = None
            return
        task = task or "classification"
        if task not in TASKS[:2]:
            raise WorkloadError(
                f"workload {self.ref!r}: task must be classification or regression, got {task!r}"
            )
        if not target:
            raise WorkloadError(f"workload {self.ref!r}: a csv file needs a target column")
        self._csv = (os.path.expanduser(os.fspath(csv)), target, task)
        self.task = task  # type: ignore[misc]  # this instance's task comes from its config
        self._data()  # report a bad file now rather than at the first trial

    def config(self) -> dict[str, Any]:
        """The CSV path, target and task, or nothing for the generated data."""
        if self._csv is None:
            return {}
        path, target, task = self._csv
        return {"csv": path, "target": target, "task": task}

    def _data(self) -> Splits:
        return self._data_and_labels()[0]

    def _data_and_labels(self) -> tuple[Splits, Labels]:
        if self._csv is None:
            return _generated_splits(), ()
        path, target, task = self._csv
        try:
            info = Path(path).stat()
        except OSError as exc:
            raise WorkloadError(f"CSV {path!r}: cannot be read ({exc.strerror})") from exc
        return _csv_splits(path, target, task, (info.st_mtime_ns, info.st_size))

    def splits(self, data_seed: int) -> Splits:
        """Fixed splits (generated, or the CSV rows shuffled with a fixed seed, 70/15/15)."""
        return self._data()

    def data_notes(self) -> list[str]:
        """The generic notes, plus: class labels that are fractional numbers suggest a
        regression target, and a regression target's loss is on the standardized target."""
        notes = super().data_notes()
        if self._csv is None:
            return notes
        _, target, task = self._csv
        if task == "regression":
            notes.append(
                f"the loss and mse are on the standardized target (column {target!r} minus "
                "its training mean, divided by its training standard deviation), not in the "
                "column's own units"
            )
            return notes
        labels = self._data_and_labels()[1]
        fractional = [label for label in labels if _is_number(label) and not _is_integer(label)]
        if fractional and not any(REGRESSION_HINT in note for note in notes):
            notes.append(
                f"column {target!r} holds fractional numbers such as {fractional[0]!r}, each "
                f"treated as a class; if it is a quantity, {REGRESSION_HINT}"
            )
        return notes

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """An MLP sized for the data: one input per feature, one output per class."""
        data = self._data()
        parts = [p for p in (data.train, data.validation, data.test) if p is not None]
        tensors = [split_tensors(p) for p in parts]
        classes = max(int(t[-1].max()) for t in tensors) + 1
        return MLP(tensors[0][0].shape[1], 1 if self.task == "regression" else classes, hparams)
