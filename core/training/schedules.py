"""Learning-rate schedules (PB-27) and the rules for extending them to longer runs (PB-20).

Steps are 1-based: step t is the t-th optimizer update, t = 1 … max_steps, and
``lr_at(t, …)`` is the learning rate that update uses. With ``warmup_steps`` = W the rate
rises linearly, η·t/W, reaching η at step W. A decaying schedule then holds η until
``decay_start`` (never before W) and decays from there so that the last step uses
η·``final_lr_factor``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tunebook.core.workloads.base import HParam
from tunebook.sessions.errors import BadInput

SCHEDULES: tuple[str, ...] = ("constant", "linear", "cosine")

SCHEDULE_HPARAMS: tuple[HParam, ...] = (
    HParam("schedule", "constant", "categorical", SCHEDULES, "learning-rate decay shape"),
    HParam("warmup_steps", 0, "int", help="steps of linear warmup from 0 to the base rate"),
    HParam(
        "decay_start", 0, "int", help="step after which the decay begins (at least warmup_steps)"
    ),
    HParam("final_lr_factor", 0.0, "float", help="last step's rate as a fraction of the base"),
)


def lr_at(
    step: int,
    base_lr: float,
    max_steps: int,
    schedule: str = "constant",
    warmup_steps: int = 0,
    decay_start: int = 0,
    final_lr_factor: float = 0.0,
) -> float:
    """The learning rate of 1-based ``step`` under the described schedule (pure function)."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * step / warmup_steps
    start = max(decay_start, warmup_steps)
    if schedule == "constant" or step <= start:
        return base_lr
    progress = min(1.0, (step - start) / max(1, max_steps - start))
    if schedule == "linear":
        factor = 1.0 - progress
    elif schedule == "cosine":
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise BadInput(f"schedule {schedule!r} is not known (choices: {', '.join(SCHEDULES)})")
    return base_lr * (final_lr_factor + (1.0 - final_lr_factor) * factor)


@dataclass(frozen=True)
class Schedule:
    """A schedule's shape over ``max_steps``, independent of the base learning rate."""

    kind: str = "constant"
    max_steps: int = 1
    warmup_steps: int = 0
    decay_start: int = 0
    final_lr_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise BadInput(f"schedule {self.kind!r} is not known (choices: {', '.join(SCHEDULES)})")
        if self.max_steps < 1:
            raise BadInput(f"max_train_steps must be at least 1, got {self.max_steps}")
        if not 0 <= self.warmup_steps <= self.max_steps:
            raise BadInput(
                f"warmup_steps must be between 0 and max_train_steps ({self.max_steps}), "
                f"got {self.warmup_steps}"
            )
        if not 0 <= self.decay_start < self.max_steps and self.kind != "constant":
            raise BadInput(
                f"decay_start must be between 0 and max_train_steps − 1 ({self.max_steps - 1}), "
                f"got {self.decay_start}"
            )
        if not 0.0 <= self.final_lr_factor <= 1.0:
            raise BadInput(f"final_lr_factor must be in [0, 1], got {self.final_lr_factor}")

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any], max_steps: int) -> Schedule:
        """Build from the schedule hyperparameters (``SCHEDULE_HPARAMS``) of a trial."""
        declared = {h.name: h for h in SCHEDULE_HPARAMS}
        values = {
            name: h.coerce(hparams[name]) if name in hparams else h.default
            for name, h in declared.items()
        }
        return cls(
            kind=values["schedule"],
            max_steps=max_steps,
            warmup_steps=values["warmup_steps"],
            decay_start=values["decay_start"],
            final_lr_factor=values["final_lr_factor"],
        )

    def lr(self, step: int, base_lr: float) -> float:
        """The learning rate of 1-based ``step`` for base rate ``base_lr``."""
        return lr_at(
            step,
            base_lr,
            self.max_steps,
            self.kind,
            self.warmup_steps,
            self.decay_start,
            self.final_lr_factor,
        )


def _check_longer(schedule: Schedule, new_max_steps: int) -> None:
    if new_max_steps < schedule.max_steps:
        raise BadInput(
            f"a schedule can only be extended: {new_max_steps} steps < {schedule.max_steps}"
        )


def extend_linear(schedule: Schedule, new_max_steps: int) -> Schedule:
    """PB-20 for linear decay: lengthen the constant part, keep the decay's length and shape.

    The decay starts later by the added steps, so its last steps match the original's.
    """
    _check_longer(schedule, new_max_steps)
    start = max(schedule.decay_start, schedule.warmup_steps)
    return replace(
        schedule,
        max_steps=new_max_steps,
        decay_start=start + new_max_steps - schedule.max_steps,
    )


def extend_cosine(schedule: Schedule, new_max_steps: int) -> Schedule:
    """PB-20 for cosine decay: keep the base rate and warmup, stretch the decay to the new end."""
    _check_longer(schedule, new_max_steps)
    return replace(schedule, max_steps=new_max_steps)
