"""Where a running trial's numbers go: straight into the session, or to the runner.

`SessionReporter` writes through `tunebook.sessions` (the runner, `trial rerun`).
`BatchReporter` runs where the trial trains (a worker process, a thread, a Ray task) and
ships batches of the same calls over a connection (the worker's own pipe, a queue) to the
runner, which replays them into a `SessionReporter`: the runner stays the file's only writer
(DESIGN.md, "Execution"). Both satisfy `tunebook.core.training.TrialReporter`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from tunebook.sessions import Session

#: Worker → runner batches are sent at least this often (in logged steps, or seconds when
#: steps are slow, so the runner's stall watchdog sees a slow trial progress), and always at
#: an evaluation, a checkpoint and the end of the trial.
STEPS_PER_MESSAGE = 50
SECONDS_PER_MESSAGE = 1.0


class SessionReporter:
    """Writes one trial's metrics and checkpoints into an open session."""

    def __init__(
        self,
        session: Session,
        trial_id: int,
        mode: str,
        stop: threading.Event | None = None,
    ) -> None:
        self.session = session
        self.trial_id = trial_id
        self.mode = mode
        self.stop = stop or threading.Event()
        self.writer = session.metrics_writer(trial_id)

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        """Queue a training step's values (committed at the next flush)."""
        self.writer.add(step, values)

    def log_eval(self, step: int, values: Mapping[str, float]) -> None:
        """Queue an evaluation's values."""
        self.writer.add(step, values)

    def save_best(self, step: int, value: float, model_state: bytes, keep: int) -> None:
        """Store a retrospective best checkpoint, keeping the best `keep` (PB-23)."""
        self.writer.flush()
        self.session.save_best_checkpoint(self.trial_id, step, value, model_state, keep, self.mode)

    def save_state(self, step: int, state: bytes) -> None:
        """Commit every metric logged so far together with the resume state."""
        self.writer.flush(resume_state=(step, state))

    def should_stop(self) -> bool:
        """True once the runner asked running trials to stop (Ctrl-C, SIGTERM)."""
        return self.stop.is_set()

    def replay(self, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Apply a batch of calls recorded by a `BatchReporter` where the trial trains."""
        for name, args in calls:
            getattr(self, name)(*args)


class BatchReporter:
    """Records reporter calls where the trial trains and sends them to the runner in
    batches through `connection` (anything with `send(message)`: a worker's own pipe, which
    a worker killed mid-send breaks for itself only, or a queue).

    The trial stops by itself when asked (`stop`: anything with `is_set()`) or, given
    `parent` (the pid of the process's parent: the runner of a worker process, the raylet of
    a Ray worker), when that parent died (its parent pid changed): a SIGKILLed runner or
    raylet does not leave orphans training. A trial in a thread of the runner itself dies
    with the runner, and watches nothing.
    """

    def __init__(
        self, trial_id: int, connection: Any, stop: Any, parent: int | None = None
    ) -> None:
        self.trial_id = trial_id
        self.connection = connection
        self.stop = stop
        self.parent = parent
        self._calls: list[tuple[str, tuple[Any, ...]]] = []
        self._steps = 0
        self._sent_at = time.monotonic()

    def _record(self, name: str, args: tuple[Any, ...], send: bool) -> None:
        self._calls.append((name, args))
        if send:
            self.send()

    def send(self) -> None:
        """Ship the recorded calls to the runner."""
        if self._calls:
            self.connection.send(("calls", self.trial_id, self._calls))
            self._calls = []
            self._steps = 0
            self._sent_at = time.monotonic()

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        """Record a step; send every `STEPS_PER_MESSAGE` steps or `SECONDS_PER_MESSAGE`."""
        self._steps += 1
        due = (
            self._steps >= STEPS_PER_MESSAGE
            or time.monotonic() - self._sent_at >= SECONDS_PER_MESSAGE
        )
        self._record("log_step", (step, dict(values)), due)

    def log_eval(self, step: int, values: Mapping[str, float]) -> None:
        """Record an evaluation and send (the monitor wants to see it now)."""
        self._record("log_eval", (step, dict(values)), True)

    def save_best(self, step: int, value: float, model_state: bytes, keep: int) -> None:
        """Record a best checkpoint and send."""
        self._record("save_best", (step, value, model_state, keep), True)

    def save_state(self, step: int, state: bytes) -> None:
        """Record the resume state and send; the runner commits it with the metrics."""
        self._record("save_state", (step, state), True)

    def should_stop(self) -> bool:
        """Stop when the runner asks, or when the watched parent is gone."""
        return self.stop.is_set() or (self.parent is not None and os.getppid() != self.parent)
