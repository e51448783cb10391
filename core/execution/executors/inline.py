"""The inline executor: one trial at a time in a thread of the runner's own process.

Nothing is spawned, so it starts at once and a debugger's breakpoint in a workload works:
for tests, debugging and the app's quick measurements. A thread cannot be killed, so a
cancelled trial is asked to stop, and whatever it still sends is dropped.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

from tunebook.core.execution.devices import device_named
from tunebook.core.execution.executors.base import LAST_MESSAGES, Event, Executor, event_of
from tunebook.core.execution.executors.trial_thread import TrialThread
from tunebook.core.execution.pool import take_waiting
from tunebook.core.execution.trial_task import TrialTask

CLOSE_WAIT = 10.0  # seconds `close` waits for a stopping trial's thread


class StopFlag:
    """The stop a trial's reporter polls: every trial on request, or one cancelled trial."""

    def __init__(self, everyone: threading.Event) -> None:
        self.everyone = everyone
        self.this_one = threading.Event()

    def is_set(self) -> bool:
        """True once the trial should stop."""
        return self.everyone.is_set() or self.this_one.is_set()


class InlineExecutor(Executor):
    """Trials in a thread of this process, one at a time, on all of its cores."""

    def __init__(self) -> None:
        self.threads = max(1, os.cpu_count() or 1)
        self.messages: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.thread: TrialThread | None = None
        self.cancelled: set[int] = set()

    def free_slots(self) -> int:
        """One once the last trial's end was handed over (a cancelled trial's, once its
        thread has ended)."""
        thread = self.thread
        if thread is None:
            return 1
        if thread.task.trial_id in self.cancelled and not thread.is_alive():
            self.thread = None
            return 1
        return 0

    def submit(self, task: TrialTask) -> None:
        """Start the trial's thread."""
        where = f"pid {os.getpid()} (inline), {device_named(task.device)}"
        self.messages.put(("started", task.trial_id, where))
        self.thread = TrialThread(task, self.messages, StopFlag(self.stop))
        self.thread.start()

    def events(self, timeout: float) -> list[Event]:
        """The messages of the trial's thread, those of a cancelled trial dropped."""
        messages = [m for m in take_waiting(self.messages, timeout) if m[1] not in self.cancelled]
        if any(m[0] in LAST_MESSAGES for m in messages):
            self.thread = None  # its end is handed over: the next trial may start
        return [event_of(m) for m in messages]

    def request_stop(self) -> None:
        """The running trial stops at its next step, saving its resume state."""
        self.stop.set()

    def cancel(self, trial_id: int) -> None:
        """Ask the trial to stop and forget it (a thread cannot be killed)."""
        self.cancelled.add(trial_id)
        if self.thread is not None and self.thread.task.trial_id == trial_id:
            self.thread.stop.this_one.set()

    def close(self) -> None:
        """Stop the running trial, if any, and wait for its thread a little."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(CLOSE_WAIT)
