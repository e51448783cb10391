"""How a Ray task streams a trial's messages (`merged_calls`): each yield through Ray costs
CPU on both sides, so reporter-call batches are merged, in order, with nothing held back
past the trial's end. Plain queues; no Ray needed."""

from __future__ import annotations

import queue
import time
from typing import Any

from tunebook.core.execution.executors.ray_cluster import merged_calls


def calls(*steps: int) -> tuple[str, int, list[tuple[str, tuple[Any, ...]]]]:
    """A batch of `log_step` calls, as a `BatchReporter` sends it for trial 7."""
    return ("calls", 7, [("log_step", (step, {"loss": 1.0})) for step in steps])


def test_batches_ready_at_once_are_merged_and_the_outcome_follows_them() -> None:
    messages: queue.Queue[Any] = queue.Queue()
    for message in (calls(1, 2), calls(3), calls(4, 5), ("outcome", 7, "done")):
        messages.put(message)
    streamed = list(merged_calls(messages, 7, every=0.5))
    assert streamed == [calls(1, 2, 3, 4, 5), ("outcome", 7, "done")]


def test_a_batch_waits_for_more_at_most_every_seconds() -> None:
    """A slow trial's calls still reach the runner within `every` (its stall watchdog and
    the monitor see progress), and the stream ends at the trial's last message."""
    messages: queue.Queue[Any] = queue.Queue()
    messages.put(calls(1))
    stream = merged_calls(messages, 7, every=0.2)
    started = time.monotonic()
    assert next(stream) == calls(1)
    assert 0.19 <= time.monotonic() - started < 5  # held for `every`, not until the end
    messages.put(calls(2))
    messages.put(("died", 7, "the trial's worker ended"))
    assert list(stream) == [calls(2), ("died", 7, "the trial's worker ended")]
