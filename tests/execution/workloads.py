"""Tiny workloads for the execution tests, loaded by the runner as ``workloads.py:Tiny``.

``Tiny`` is a small MLP on generated 4-class data that trains in milliseconds per step.
Its ``fault`` hyperparameter makes a trial misbehave at training step ``fault_step``:
``raise`` (the forward pass raises), ``oom`` (the forward pass allocates ``hog_mb`` MB, to
be run under ``--memory-limit``), ``nan`` (the outputs become NaN: the trial diverges),
``crash`` (the process SIGKILLs itself, as the kernel's OOM killer would; not for the
inline executor, whose process is the runner's), ``exit`` (``SystemExit`` escapes the trial:
its worker ends without an outcome, whatever kind of worker it is) or ``hang`` (the step
sleeps for an hour: a trial that never reports again).
``sleep_ms`` slows every training step down, so that a test can interrupt trials mid-way;
``ballast_mb`` gives the model a buffer of that many MB of zeros, so its checkpoints (and
the messages carrying them from a worker) are big.
The workload's config ``fail_if_exists`` (a path) makes every forward pass raise while that
file exists: a transient failure, for retrying failed trials; ``splits_sleep`` (seconds)
makes ``splits()`` sleep that long first: a workload stuck loading its data.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tunebook.core.workloads.base import HParam, Splits, Workload

#: The reference a session uses to load `Tiny` (an absolute path works from any cwd).
TINY_REF = f"{Path(__file__).resolve()}:Tiny"
FAULTS = ("none", "raise", "oom", "nan", "crash", "exit", "hang")
FEATURES, CLASSES = 8, 4


class FaultyMLP(nn.Module):
    """An MLP that misbehaves as its ``fault`` says at its ``fault_step``-th training call."""

    def __init__(
        self,
        width: int,
        fault: str,
        fault_step: int,
        hog_mb: int,
        sleep_ms: float,
        ballast_mb: int = 0,
        fail_if_exists: str = "",
    ) -> None:
        super().__init__()
        self.fail_if_exists = fail_if_exists
        self.body = nn.Sequential(nn.Linear(FEATURES, width), nn.ReLU(), nn.Linear(width, CLASSES))
        self.register_buffer("ballast", torch.zeros(ballast_mb * 1024 * 1024 // 4))
        self.fault, self.fault_step = fault, fault_step
        self.hog_mb, self.sleep_ms = hog_mb, sleep_ms
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        """The logits, unless this is the step where the fault strikes."""
        if self.fail_if_exists and os.path.exists(self.fail_if_exists):
            raise RuntimeError(f"transient failure: {self.fail_if_exists} exists")
        if self.training:
            self.calls += 1
            if self.sleep_ms:
                time.sleep(self.sleep_ms / 1000)
            if self.calls == self.fault_step:
                if self.fault == "raise":
                    raise RuntimeError(f"injected failure at call {self.calls}")
                if self.fault == "crash":
                    os.kill(os.getpid(), signal.SIGKILL)
                if self.fault == "exit":
                    raise SystemExit(3)
                if self.fault == "hang":
                    time.sleep(3600)
                if self.fault == "oom":
                    hog = torch.ones(self.hog_mb * 1024 * 1024 // 4)  # touches every page
                    return self.body(x) + hog[:1]
        out = self.body(x)
        if self.training and self.fault == "nan" and self.calls >= self.fault_step:
            out = out * float("nan")
        return out


class Tiny(Workload):
    """A small MLP on generated 4-class data, with injectable faults."""

    hparams = (
        HParam("width", 16, "int", help="hidden units"),
        HParam("fault", "none", "categorical", FAULTS, "how the trial misbehaves"),
        HParam("fault_step", 5, "int", help="the training step the fault strikes at"),
        HParam("hog_mb", 8192, "int", help="MB the 'oom' fault allocates"),
        HParam("sleep_ms", 0.0, "float", help="extra milliseconds per training step"),
        HParam("ballast_mb", 0, "int", help="MB of zeros carried in the model's state"),
    )
    task = "classification"

    def __init__(self, fail_if_exists: str = "", splits_sleep: float = 0.0, say: str = "") -> None:
        self.fail_if_exists = fail_if_exists
        self.splits_sleep = splits_sleep
        self.say = say
        self._splits: Splits | None = None

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this workload (those not at their default)."""
        config = {
            "fail_if_exists": self.fail_if_exists,
            "splits_sleep": self.splits_sleep,
            "say": self.say,
        }
        return {key: value for key, value in config.items() if value}

    def splits(self, data_seed: int) -> Splits:
        """256 training and 64 validation examples, the same on every call; `say` is
        printed to stderr first."""
        if self.say:
            print(self.say, file=sys.stderr, flush=True)
        time.sleep(self.splits_sleep)
        if self._splits is None:
            generator = torch.Generator().manual_seed(1234)
            x = torch.randn(320, FEATURES, generator=generator)
            w = torch.randn(FEATURES, CLASSES, generator=generator)
            y = (x @ w + 0.5 * torch.randn(320, CLASSES, generator=generator)).argmax(1)
            self._splits = Splits(train=(x[:256], y[:256]), validation=(x[256:], y[256:]))
        return self._splits

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """A fresh `FaultyMLP`."""
        return FaultyMLP(
            hparams["width"],
            hparams["fault"],
            hparams["fault_step"],
            hparams["hog_mb"],
            hparams["sleep_ms"],
            hparams["ballast_mb"],
            self.fail_if_exists,
        )
