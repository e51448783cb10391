"""The metrics hot path: buffered rows, one transaction per flush.

A trial logs many values per step (train loss, LR, gradient norm, timings); writing each
as its own transaction would cost ~1.5k rows/s. The writer buffers `(trial, series, step,
value)` tuples and commits them with one `executemany` per flush, optionally together
with the trial's resume checkpoint so that metrics and training state never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tunebook.sessions.records import CheckpointKind, now

if TYPE_CHECKING:
    from tunebook.sessions.store import Session

INSERT_METRIC = "INSERT OR REPLACE INTO metrics (trial_id, series, step, value) VALUES (?, ?, ?, ?)"


def storable(value: float) -> float | None:
    """SQLite turns NaN into NULL anyway; make that explicit (read back as NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


class MetricsWriter:
    """Buffers one trial's metric values and commits them in batches.

    `flush()` returns only after the rows are committed; the count it returns is the
    number of values that are now durable (they survive a SIGKILL of this process).
    """

    def __init__(self, session: Session, trial_id: int, flush_every: int = 4096) -> None:
        self.session = session
        self.trial_id = trial_id
        self.flush_every = flush_every
        self._rows: list[tuple[int, str, int, float | None]] = []
        self.committed = 0

    def add(self, step: int, values: Mapping[str, float]) -> None:
        """Queue the values logged at `step`; flushes by itself when the buffer is full."""
        trial_id = self.trial_id
        self._rows.extend((trial_id, name, step, storable(v)) for name, v in values.items())
        if len(self._rows) >= self.flush_every:
            self.flush()

    @property
    def pending(self) -> int:
        """Values queued but not yet committed."""
        return len(self._rows)

    def drain(self) -> list[tuple[int, str, int, float | None]]:
        """Take the queued rows out, for a caller that commits them in its own transaction
        (and counts them in `committed` once that commit succeeded)."""
        rows, self._rows = self._rows, []
        return rows

    def restore(self, rows: list[tuple[int, str, int, float | None]]) -> None:
        """Put drained rows back after their transaction failed."""
        self._rows[:0] = rows

    def flush(self, resume_state: tuple[int, bytes] | None = None) -> int:
        """Commit queued values (and, if given, the resume checkpoint `(step, bytes)`).

        Returns the number of values committed by this call.
        """
        rows = self.drain()
        if not rows and resume_state is None:
            return 0
        try:
            self._commit(rows, resume_state)
        except BaseException:
            self.restore(rows)  # nothing was committed: keep them for the next flush
            raise
        self.committed += len(rows)
        return len(rows)

    def _commit(
        self, rows: list[tuple[int, str, int, float | None]], resume_state: tuple[int, bytes] | None
    ) -> None:
        with self.session.transaction() as conn:
            conn.executemany(INSERT_METRIC, rows)
            if resume_state is not None:
                step, data = resume_state
                conn.execute(
                    "DELETE FROM checkpoints WHERE trial_id = ? AND kind = ?",
                    (self.trial_id, CheckpointKind.RESUME.value),
                )
                conn.execute(
                    "INSERT INTO checkpoints (trial_id, kind, step, value, data, created_at) "
                    "VALUES (?, ?, ?, NULL, ?, ?)",
                    (self.trial_id, CheckpointKind.RESUME.value, step, data, now()),
                )
                conn.execute(
                    "UPDATE trials SET resume_step = ? WHERE id = ?", (step, self.trial_id)
                )
