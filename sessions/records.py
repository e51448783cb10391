"""Immutable records that cross the session-file boundary.

Everything `Session` returns is one of these frozen dataclasses; nothing outside
`tunebook.sessions` sees a row or writes SQL. JSON-valued fields are plain dicts/lists.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tunebook.sessions.facts import WorkloadFacts


class TrialStatus(str, Enum):
    """A trial's life: pending → running → completed | infeasible | failed."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    INFEASIBLE = "infeasible"  # diverged: a result, kept and plotted (DESIGN.md)
    FAILED = "failed"  # the program broke: retried with --retry-failed

    def is_finished(self) -> bool:
        """True for the states that count towards a study's budget."""
        return self in (TrialStatus.COMPLETED, TrialStatus.INFEASIBLE, TrialStatus.FAILED)


class ExperimentStatus(str, Enum):
    """Where an experiment (a round, PB-5) stands."""

    DESIGNED = "designed"
    RUNNING = "running"
    FINISHED = "finished"
    CONCLUDED = "concluded"


class DecisionKind(str, Enum):
    """The project-start decisions of PB-1 … PB-4, PB-19 and PB-30, in the playbook's order."""

    MODEL = "model"
    OPTIMIZER = "optimizer"
    BATCH_SIZE = "batch_size"
    INITIAL_CONFIG = "initial_config"
    MAX_TRAIN_STEPS = "max_train_steps"
    STABILITY = "stability"


class ProbeKind(str, Enum):
    """Measuring runs that inform a decision."""

    BATCH_SIZE = "batch_size"
    INITIAL_CONFIG = "initial_config"
    LEARNING_RATE = "lr"  # the training-length sweep (PB-19)
    STABILITY = "stability"
    WARMUP = "warmup"
    SEED_VARIANCE = "seed_variance"
    FINAL_TEST = "final_test"  # the one test-set evaluation (PB-18)


class CheckpointKind(str, Enum):
    """`best` are the retrospective best-N (PB-23); `resume` is the full training state."""

    BEST = "best"
    RESUME = "resume"


def now() -> float:
    """Wall-clock time as stored in the file: Unix seconds."""
    return time.time()


@dataclass(frozen=True)
class SessionInfo:
    """The session row: which workload this file tunes and who wrote it."""

    path: str
    name: str
    workload: str
    workload_config: dict[str, Any]
    created_at: float
    schema_version: int
    writer_version: str
    read_only: bool = False
    #: The data's split sizes and the notes shown at `new`; None when unknown (a session
    #: created before schema v2).
    workload_facts: WorkloadFacts | None = None


@dataclass(frozen=True)
class Decision:
    """A project-start decision with its rationale and evidence; stale once its inputs change."""

    id: int
    kind: DecisionKind
    value: Any
    rationale: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    stale: bool = False
    stale_reason: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class Probe:
    """A measuring run (batch-size probe, LR sweep, …) with its raw results.

    `results` holds `status` (running, stopped, completed, failed), `points` (one measured
    unit per key, e.g. one batch size: written once each, so a resumed probe never repeats
    one), and once completed the `summary` with the recommendation and its evidence.
    """

    id: int
    kind: ProbeKind
    config: dict[str, Any]
    results: dict[str, Any]
    created_at: float = 0.0

    @property
    def status(self) -> str:
        """running, stopped, completed or failed ("running" may belong to a dead runner)."""
        return str(self.results.get("status", "completed"))

    @property
    def points(self) -> dict[str, Any]:
        """The measured units by key, in the order they were first measured."""
        points = self.results.get("points", {})
        return dict(sorted(points.items(), key=lambda item: item[1].get("index", 0)))

    @property
    def summary(self) -> dict[str, Any]:
        """The recommendation and its evidence; empty until the probe completed."""
        return dict(self.results.get("summary", {}))


@dataclass(frozen=True)
class Experiment:
    """One round of tuning: a goal, a design, a step budget, studies, a conclusion (PB-5)."""

    id: int
    name: str
    goal: str
    design: dict[str, Any]
    max_train_steps: int
    status: ExperimentStatus = ExperimentStatus.DESIGNED
    conclusion: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class Study:
    """A search space, an algorithm, a trial budget and a seed (PB-9)."""

    id: int
    experiment_id: int
    name: str
    search_space: dict[str, Any]
    algorithm: str
    budget: int
    seed: int
    objective_metric: str
    objective_mode: str
    fixed: dict[str, Any] = field(default_factory=dict)
    next_index: int = 0  # the next quasi-random sequence index to hand out
    created_at: float = 0.0


@dataclass(frozen=True)
class Trial:
    """One training run and its outcome."""

    id: int
    study_id: int
    number: int
    params: dict[str, Any]
    init_seed: int
    data_seed: int
    sequence_index: int = 0
    status: TrialStatus = TrialStatus.PENDING
    #: The algorithm that chose the trial's point (``quasi-random`` for a bayesian study's
    #: start-up trials); None when unknown.
    sampler: str | None = None
    best_step: int | None = None
    best_value: float | None = None
    final_value: float | None = None
    error: str = ""
    reproduce: str = ""
    attempts: int = 0
    resume_step: int | None = None
    compute_seconds: float = 0.0
    data_seconds: float = 0.0
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None


@dataclass(frozen=True)
class Checkpoint:
    """Metadata of a stored checkpoint; its bytes are read with `Session.checkpoint_data`."""

    id: int
    trial_id: int
    kind: CheckpointKind
    step: int
    value: float | None
    size: int
    created_at: float = 0.0


@dataclass(frozen=True)
class Launch:
    """A configuration adopted as the new baseline, with its evidence (PB-5, PB-17)."""

    id: int
    trial_id: int | None
    experiment_id: int | None
    config: dict[str, Any]
    evidence: dict[str, Any]
    note: str = ""
    created_at: float = 0.0


def current_baseline(launches: Sequence[Launch]) -> Launch | None:
    """The baseline now: the latest of `launches` (oldest first) that names its trial."""
    return next((launch for launch in reversed(launches) if launch.trial_id is not None), None)


@dataclass(frozen=True)
class RunnerInfo:
    """The process currently writing trials into the file, and when it last said so."""

    pid: int
    host: str
    started_at: float
    heartbeat: float
    detached: bool = False
    command: str = ""

    def is_alive(self, stale_after: float, at: float | None = None) -> bool:
        """Alive while its heartbeat is younger than `stale_after` seconds and, when it ran
        on this host, while its process still exists (a SIGKILLed runner is dead at once)."""
        if (at if at is not None else now()) - self.heartbeat >= stale_after:
            return False
        return self.host != socket.gethostname() or process_exists(self.pid)


def process_exists(pid: int) -> bool:
    """True while a process with this pid exists on this host (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


@dataclass(frozen=True)
class Event:
    """One line of the session's log: who did what, when."""

    id: int
    at: float
    actor: str
    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """A user's note attached to the session, an experiment, a study or a trial."""

    id: int
    at: float
    target: str
    text: str


@dataclass(frozen=True)
class StudySummary:
    """A study's counts per status and its best finished trial so far."""

    study: Study
    counts: dict[str, int]
    best_trial_id: int | None
    best_value: float | None

    @property
    def finished(self) -> int:
        """Trials that count towards the budget."""
        return sum(self.counts.get(s.value, 0) for s in TrialStatus if s.is_finished())


@dataclass(frozen=True)
class Series:
    """One metric series of one trial: parallel lists of steps and values."""

    name: str
    steps: list[int]
    values: list[float]

    def last(self) -> float:
        """The most recent value, or NaN for an empty series."""
        return self.values[-1] if self.values else math.nan
