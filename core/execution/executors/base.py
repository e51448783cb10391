"""The executor contract: what the runner needs from whatever runs its trials.

The runner is the session file's only writer (PB-26); an executor only trains. It takes
self-contained `TrialTask`s, runs them somewhere (a thread, a worker process, a Ray task on
another host), and hands back what each trial reports as `Event`s, in the order the trial
reported them. Everything it says about a trial ends with exactly one `Finished` or `Lost`,
unless the runner `cancel`s the trial first.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from tunebook.core.execution.trial_task import TrialOutcome, TrialTask

#: A batch of `TrialReporter` calls made by a running trial: (method name, arguments).
Calls = list[tuple[str, tuple[Any, ...]]]
#: The kinds of worker message that end what is heard of a trial.
LAST_MESSAGES = ("outcome", "died")


@dataclass(frozen=True)
class Started:
    """A worker took the trial and is building it (the no-progress clock starts now; a
    task still waiting for a free worker or for cluster resources has not started)."""

    trial_id: int
    where: str = ""  # the worker (a pid, or a Ray node and pid) and device: the event log's


@dataclass(frozen=True)
class Reported:
    """What the trial reported since its last `Reported`: replay into a `SessionReporter`."""

    trial_id: int
    calls: Calls


@dataclass(frozen=True)
class Finished:
    """The trial ended by itself: completed, infeasible or failed, or stopped on request
    (`outcome.status` None: it goes back to pending and resumes from its last checkpoint)."""

    outcome: TrialOutcome

    @property
    def trial_id(self) -> int:
        """The trial that ended."""
        return self.outcome.trial_id


@dataclass(frozen=True)
class Lost:
    """The trial ended without an outcome. `requeue` False: its worker died (a crash, the
    OS's out-of-memory killer), which the trial itself may well have caused, so it ends
    `failed` with `reason`. `requeue` True: the machine it ran on left the cluster, which
    says nothing about the trial, so it goes back to pending and resumes from its last
    checkpoint elsewhere."""

    trial_id: int
    reason: str
    requeue: bool = False


Event = Started | Reported | Finished | Lost


class Executor(abc.ABC):
    """Runs trial tasks and streams back what they report. Use it as a context manager, or
    call `close`: nothing it started may train on after it is closed."""

    #: Torch threads each trial should use (the runner puts it in every task).
    threads: int = 1

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials may be submitted now (0 while every worker is busy)."""

    @abc.abstractmethod
    def submit(self, task: TrialTask) -> None:
        """Start `task` on a free worker (only after `free_slots` said there is one)."""

    @abc.abstractmethod
    def events(self, timeout: float) -> list[Event]:
        """Wait up to `timeout` seconds for an event, then return it with every other one
        already there. Each trial's events come in the order it reported them."""

    @abc.abstractmethod
    def request_stop(self) -> None:
        """Ask every running trial to save its resume state and stop: each then ends with
        `Finished` (status None) at its next step, or `Lost` if its worker dies first."""

    @abc.abstractmethod
    def cancel(self, trial_id: int) -> None:
        """End a running trial now (it stalled, or did not stop in time): its worker is
        killed where that is possible, and nothing more is heard of the trial."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop running trials and release every worker; wait briefly, then kill."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def event_of(message: tuple[str, int, Any]) -> Event:
    """The event a worker's message stands for: ("started", id, where), ("calls", id,
    calls), ("outcome", id, outcome) or ("died", id, reason), as `worker_main` and
    `trial_thread` send them."""
    kind, trial_id, payload = message
    if kind == "started":
        return Started(trial_id, str(payload or ""))
    if kind == "calls":
        return Reported(trial_id, payload)
    if kind == "outcome":
        return Finished(payload)
    if kind == "died":
        return Lost(trial_id, payload)
    raise ValueError(f"unknown worker message {kind!r}")
