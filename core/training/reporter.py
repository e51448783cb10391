"""Where a running trial sends its metrics, checkpoints and resume state.

The training loop only talks to a ``TrialReporter``; the session-backed reporter writes
to the session file, ``MemoryReporter`` keeps everything in memory (tests, benchmarks,
scripts). Steps are 1-based (see ``tunebook.core.training.loop``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class TrialReporter(Protocol):
    """The sink of one trial's results; called from the thread that runs the trial.

    Series names: per step ``train/loss``, ``train/lr``, ``train/grad_norm`` (unclipped
    global L2 norm), ``train/clipped`` (0/1), ``time/data``, ``time/compute`` (seconds);
    per evaluation ``validation/<metric>`` and ``validation/count`` (and ``train/<metric>``,
    ``train/count`` when a training subset is evaluated).
    """

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        """Record the per-step series of ``step``; ``values`` is fresh and may be kept.

        After a resume, steps after the resumed checkpoint are logged again with the same
        values; the reporter replaces what it had for them.
        """

    def log_eval(self, step: int, values: Mapping[str, float]) -> None:
        """Record one evaluation made after ``step``; same replacement rule as ``log_step``."""

    def save_best(self, step: int, value: float, model_state: bytes, keep: int) -> None:
        """Store a model checkpoint that entered the ``keep`` best by the objective (PB-23).

        ``model_state`` is a ``torch.save``d state dict (load it with ``weights_only=True``).
        The reporter ranks by the objective's direction, which it knows from the study, and
        drops whatever falls out of the best ``keep``.
        """

    def save_state(self, step: int, state: bytes) -> None:
        """Store the resume state after ``step``, replacing the previous one.

        The reporter must make every metric logged up to ``step`` durable together with
        it, so a resumed trial never misses or duplicates a recorded step.
        """

    def should_stop(self) -> bool:
        """True to end the trial cooperatively; checked between steps (cheap, non-blocking)."""


class MemoryReporter:
    """A real in-memory ``TrialReporter``: metrics in dicts keyed by step, best-N in a list.

    Args:
        mode: the objective's direction (``min`` or ``max``) for ranking best checkpoints.
        stop_after: if set, ``should_stop`` turns true once this step has been logged.
        stop_event: if set, ``should_stop`` turns true when the event is set (cancellation
            from another thread).
    """

    def __init__(
        self,
        mode: str = "min",
        stop_after: int | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.mode = mode
        self.stop_after = stop_after
        self.stop_event = stop_event
        self.steps: dict[int, Mapping[str, float]] = {}
        self.evals: dict[int, Mapping[str, float]] = {}
        self.best: list[tuple[float, int, bytes]] = []
        self.states: dict[int, bytes] = {}
        self.last_step = 0

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        """Keep ``values`` under ``step``."""
        self.steps[step] = values
        self.last_step = step

    def log_eval(self, step: int, values: Mapping[str, float]) -> None:
        """Keep the evaluation under ``step``."""
        self.evals[step] = values

    def save_best(self, step: int, value: float, model_state: bytes, keep: int) -> None:
        """Insert the checkpoint and keep the best ``keep``, best first."""
        kept = [entry for entry in self.best if entry[1] != step]
        kept.append((value, step, model_state))
        kept.sort(key=lambda entry: (entry[0] if self.mode == "min" else -entry[0], entry[1]))
        self.best = kept[:keep]

    def save_state(self, step: int, state: bytes) -> None:
        """Keep every resume state by step (the newest is ``latest_state``)."""
        self.states[step] = state

    def should_stop(self) -> bool:
        """True once ``stop_after`` is reached or ``stop_event`` is set."""
        if self.stop_event is not None and self.stop_event.is_set():
            return True
        return self.stop_after is not None and self.last_step >= self.stop_after

    @property
    def latest_state(self) -> tuple[int, bytes] | None:
        """The newest resume state and its step, or None."""
        if not self.states:
            return None
        step = max(self.states)
        return step, self.states[step]

    def step_series(self, name: str) -> list[tuple[int, float]]:
        """One per-step metric as ``(step, value)`` pairs in step order."""
        return [(step, self.steps[step][name]) for step in sorted(self.steps)]

    def eval_series(self, name: str) -> list[tuple[int, float]]:
        """One evaluation metric as ``(step, value)`` pairs in step order."""
        return [(step, self.evals[step][name]) for step in sorted(self.evals)]
