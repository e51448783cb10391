"""Synthetic workloads with known answers for the project-start probe tests.

Each is referenced as ``workloads.py:Name`` through the ``*_REF`` constants (absolute paths,
so a probe's worker process finds them from any folder):

- ``Saturating``: the forward pass sleeps 40 ms for a batch of up to 64 examples and
  proportionally longer above, so throughput grows until 64 and is flat from there.
- ``MemoryHog``: the forward pass allocates and writes a buffer of 2 MB per example, so a
  batch of b examples needs about 2·b MB more memory than the model.
- ``DeviceFull``: batches above 64 examples raise torch's CUDA out-of-memory error, as a
  full GPU does (on any machine: the error is raised, not provoked).
- ``Blobs``: two-class data, either two far-apart Gaussian blobs (fit in a few steps) or,
  with ``hard=True``, random labels that a small MLP memorises only slowly.
- ``Curvy``: regression whose curvature is high for the first training steps and drops
  after a few: plain SGD at a rate well above ``1/HIGH_GAIN**2`` is unstable early on,
  and a linear warmup of 10 steps makes the same rate stable. SGD at 0.25 is stable
  without warmup, at 0.5 it is not (the loss spikes ~40× in the first steps).
- ``Slow``: a small classifier whose every training step sleeps ``sleep_ms``, so that a test
  can kill a probe mid-way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tunebook.core.workloads.base import Splits, Workload

HERE = Path(__file__).resolve()
SATURATING_REF = f"{HERE}:Saturating"
MEMORY_HOG_REF = f"{HERE}:MemoryHog"
DEVICE_FULL_REF = f"{HERE}:DeviceFull"
CUBLAS_FULL_REF = f"{HERE}:CublasFull"
BLOBS_REF = f"{HERE}:Blobs"
CURVY_REF = f"{HERE}:Curvy"
SLOW_REF = f"{HERE}:Slow"

#: The batch size at which `Saturating` stops getting faster.
SATURATES_AT = 64
#: The seconds `Saturating` sleeps per step up to `SATURATES_AT` examples.
STEP_SECONDS = 0.04  # large against scheduling noise when tests run in parallel
#: The largest batch `DeviceFull` fits; larger ones raise torch's CUDA out-of-memory error.
DEVICE_FITS = 64
#: The MB `MemoryHog` allocates per example of a training batch.
MB_PER_EXAMPLE = 2
#: `Curvy`'s output gain at its first training step, and the steps it takes to decay to 1.
HIGH_GAIN, GAIN_STEPS = 3**0.5, 5
FEATURES = 8


def one_thread() -> None:
    """Run torch on one thread for the trial being built (the loop restores the count after
    it): on a small machine, waking a second thread after every sleep adds milliseconds of
    jitter, which would blur the known answers and slow these tiny models down."""
    torch.set_num_threads(1)


def _classes(examples: int, seed: int, separation: float) -> tuple[Tensor, Tensor]:
    """`examples` points of two Gaussian blobs `separation` apart, and their labels."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (examples,), generator=generator)
    x = torch.randn(examples, FEATURES, generator=generator)
    x[:, 0] += separation * (y.float() - 0.5)
    return x, y


class SleepyLinear(nn.Module):
    """A linear classifier whose training forward pass sleeps as `delay(batch)` says."""

    def __init__(self, delay: Any) -> None:
        super().__init__()
        self.body = nn.Linear(FEATURES, 2)
        self.delay = delay

    def forward(self, x: Tensor) -> Tensor:
        """The logits, after the batch's delay (training only)."""
        if self.training:
            time.sleep(self.delay(x.shape[0]))
        return self.body(x)


class Saturating(Workload):
    """Throughput grows with the batch size up to 64 examples, then stays flat."""

    def splits(self, data_seed: int) -> Splits:
        """1024 training examples (four steps per epoch at batch 256) and 64 validation."""
        x, y = _classes(1088, 0, 4.0)
        return Splits(train=(x[:1024], y[:1024]), validation=(x[1024:], y[1024:]))

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """A linear classifier with a fixed cost per step up to `SATURATES_AT` examples."""
        one_thread()
        return SleepyLinear(lambda b: STEP_SECONDS * max(1.0, b / SATURATES_AT))


class HogLinear(nn.Module):
    """A linear classifier whose training forward pass writes `MB_PER_EXAMPLE` MB per example."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(FEATURES, 2)

    def forward(self, x: Tensor) -> Tensor:
        """The logits, after filling (so making resident) a buffer sized by the batch."""
        if self.training:
            hog = torch.ones(x.shape[0] * MB_PER_EXAMPLE * 2**20 // 4)
            assert float(hog[-1]) == 1.0
            del hog
        return self.body(x)


class MemoryHog(Workload):
    """Each training step needs `MB_PER_EXAMPLE` MB of memory per example of its batch."""

    def splits(self, data_seed: int) -> Splits:
        """4096 training examples (room for batch 1024) and 64 validation."""
        x, y = _classes(4160, 0, 4.0)
        return Splits(train=(x[:4096], y[:4096]), validation=(x[4096:], y[4096:]))

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """The memory-hungry linear classifier."""
        one_thread()
        return HogLinear()


class DeviceFullLinear(nn.Module):
    """A linear classifier whose training forward pass fails as a full GPU does (torch's
    `OutOfMemoryError`, or with `cublas`, the error cuBLAS gives when it cannot allocate
    its handle, as seen on an H100) for batches larger than `DEVICE_FITS`."""

    def __init__(self, cublas: bool = False) -> None:
        super().__init__()
        self.body = nn.Linear(FEATURES, 2)
        self.cublas = cublas

    def forward(self, x: Tensor) -> Tensor:
        """The logits; CUDA's out-of-memory error above `DEVICE_FITS` examples."""
        if self.training and x.shape[0] > DEVICE_FITS:
            if self.cublas:
                raise RuntimeError(
                    "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"
                )
            raise torch.cuda.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {x.shape[0]} MiB"
            )
        return self.body(x)


class DeviceFull(Workload):
    """Batches above `DEVICE_FITS` examples do not fit the (simulated) device."""

    def splits(self, data_seed: int) -> Splits:
        """4096 training examples and 64 validation."""
        x, y = _classes(4160, 0, 4.0)
        return Splits(train=(x[:4096], y[:4096]), validation=(x[4096:], y[4096:]))

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """The classifier that runs out of device memory above `DEVICE_FITS`."""
        one_thread()
        return DeviceFullLinear()


class CublasFull(DeviceFull):
    """`DeviceFull` whose full device shows as cuBLAS failing to allocate."""

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """The classifier whose cuBLAS cannot allocate above `DEVICE_FITS`."""
        one_thread()
        return DeviceFullLinear(cublas=True)


class Blobs(Workload):
    """Two far-apart blobs (easy), or random labels to memorise (`hard`)."""

    def __init__(self, hard: bool = False) -> None:
        self.hard = hard

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this workload."""
        return {"hard": True} if self.hard else {}

    def splits(self, data_seed: int) -> Splits:
        """256 training and 128 validation examples."""
        x, y = _classes(384, 1, 0.0 if self.hard else 8.0)
        return Splits(train=(x[:256], y[:256]), validation=(x[256:], y[256:]))

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """A small MLP."""
        one_thread()
        return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, 2))


class GainLinear(nn.Module):
    """A linear regressor whose output is scaled by a gain that decays with training steps,
    so the loss's curvature is `HIGH_GAIN`² times higher at the start than from step
    `GAIN_STEPS` on (the curvature of a real network can drop early in training alike)."""

    def __init__(self, sleep_ms: float) -> None:
        super().__init__()
        self.body = nn.Linear(FEATURES, 1, bias=False)
        nn.init.zeros_(self.body.weight)
        self.sleep_ms = sleep_ms
        self.calls = 0

    def gain(self) -> float:
        """The output gain at the current training step (1 once `GAIN_STEPS` are done)."""
        squared = 1 + (HIGH_GAIN**2 - 1) * max(0.0, 1 - (self.calls - 1) / GAIN_STEPS)
        return squared**0.5

    def forward(self, x: Tensor) -> Tensor:
        """The prediction, times the gain of this training step."""
        if not self.training:
            return self.body(x)
        self.calls += 1
        if self.sleep_ms:
            time.sleep(self.sleep_ms / 1000)
        return self.gain() * self.body(x)


class Curvy(Workload):
    """Linear regression with a high early curvature: SGD at rate 0.5 needs a warmup."""

    task = "regression"

    def __init__(self, sleep_ms: float = 0.0) -> None:
        self.sleep_ms = sleep_ms

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this workload."""
        return {"sleep_ms": self.sleep_ms} if self.sleep_ms else {}

    def splits(self, data_seed: int) -> Splits:
        """512 training and 64 validation examples of a noiseless linear target."""
        generator = torch.Generator().manual_seed(2)
        x = torch.randn(576, FEATURES, generator=generator)
        w = torch.randn(FEATURES, 1, generator=generator) / FEATURES**0.5
        y = x @ w
        return Splits(train=(x[:512], y[:512]), validation=(x[512:], y[512:]))

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """The gain-scaled linear regressor."""
        one_thread()
        return GainLinear(self.sleep_ms)


class Slow(Workload):
    """A linear classifier on two blobs whose every training step sleeps `sleep_ms`."""

    def __init__(self, sleep_ms: float = 0.0) -> None:
        self.sleep_ms = sleep_ms

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this workload."""
        return {"sleep_ms": self.sleep_ms} if self.sleep_ms else {}

    def splits(self, data_seed: int) -> Splits:
        """1024 training and 64 validation examples."""
        x, y = _classes(1088, 3, 4.0)
        return Splits(train=(x[:1024], y[:1024]), validation=(x[1024:], y[1024:]))

    def model(self, hparams: Mapping[str, Any]) -> nn.Module:
        """A linear classifier with a fixed sleep per training step."""
        sleep = self.sleep_ms / 1000
        one_thread()
        return SleepyLinear(lambda b: sleep)
