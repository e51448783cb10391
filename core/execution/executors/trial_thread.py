"""A trial trained in a thread, its messages put on a queue: how the inline executor runs
trials in the runner's own process, and how a Ray task streams a trial's reports while it
trains (the training loop calls its reporter; a generator can only yield between calls)."""

from __future__ import annotations

import queue
import threading
from typing import Any

from tunebook.core.execution.reporting import BatchReporter
from tunebook.core.execution.trial_task import TrialTask, describe_error, run_trial_task


class QueueConnection:
    """A `BatchReporter` connection that puts each message on a queue."""

    def __init__(self, messages: queue.Queue[Any]) -> None:
        self.messages = messages

    def send(self, message: Any) -> None:
        """Queue one message for whoever streams them on."""
        self.messages.put(message)


class TrialThread(threading.Thread):
    """Trains `task` and puts its messages on `messages`: ("calls", id, calls) batches, then
    ("outcome", id, outcome); or ("died", id, reason) when something escapes the trial's
    own error handling (`SystemExit` from a workload, say), which a worker process would
    not have survived either. `stop` (anything with `is_set()`) asks the trial to stop, and
    so does the death of the process `parent`, when given (see `BatchReporter`)."""

    def __init__(
        self, task: TrialTask, messages: queue.Queue[Any], stop: Any, parent: int | None = None
    ) -> None:
        super().__init__(name=f"tunebook-trial-{task.trial_id}", daemon=True)
        self.task = task
        self.messages = messages
        self.stop = stop
        self.parent = parent

    def run(self) -> None:
        """Train, then send the outcome (or what ended the thread)."""
        trial_id = self.task.trial_id
        reporter = BatchReporter(trial_id, QueueConnection(self.messages), self.stop, self.parent)
        try:
            outcome = run_trial_task(self.task, reporter)
            reporter.send()
        except BaseException as exc:  # the thread's end must reach the runner, whatever it was
            reason = f"the trial's worker ended: {describe_error(exc)}"
            self.messages.put(("died", trial_id, reason))
            return
        self.messages.put(("outcome", trial_id, outcome))
