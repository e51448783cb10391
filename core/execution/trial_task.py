"""One trial as a self-contained task: everything a worker needs, nothing it must look up.

A `TrialTask` is plain data (strings, numbers, dicts, bytes), built by the runner from the
session and sent to a worker process, which turns it into a training run. The outcome comes
back as a `TrialOutcome`. Errors become text here, with out-of-memory recognised, so that a
broken trial is recorded as `failed` and the study goes on. Torch is imported only where a
trial actually trains (in the worker), so the runner process stays light.
"""

from __future__ import annotations

import functools
import json
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunebook.sessions import TrialStatus

if TYPE_CHECKING:
    from tunebook.core.training import TrialReporter
    from tunebook.core.workloads import Workload


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run (or resume) one trial."""

    trial_id: int
    workload: str
    workload_config: dict[str, Any]
    hparams: dict[str, Any]
    init_seed: int
    data_seed: int
    max_train_steps: int
    objective_metric: str
    objective_mode: str
    settings: dict[str, Any] = field(default_factory=dict)
    resume_state: bytes | None = None
    threads: int = 1
    device: str = "auto"  # as the run asked (`devices.trial_device` resolves it in the worker)

    @property
    def task_id(self) -> int:
        """What the worker pool tracks the task by."""
        return self.trial_id


@dataclass(frozen=True)
class UnitTask:
    """One measurement of a project-start probe (a batch size, a learning rate), run by a
    worker like a trial: `function` names a module-level function `f(payload, stop)` that
    returns a JSON-able dict and never raises for the measurement's own failure."""

    key: str
    function: str  # "package.module:function"
    payload: dict[str, Any]
    threads: int = 1

    @property
    def task_id(self) -> str:
        """What the worker pool tracks the task by."""
        return self.key

    def run(self, stop: Any) -> dict[str, Any]:
        """Import the function and measure; `stop` (an Event) asks it to stop early, when it
        returns `{"stopped": True}` (the unit is measured again on the next run)."""
        import importlib

        module, name = self.function.split(":")
        function = getattr(importlib.import_module(module), name)
        return dict(function({**self.payload, "threads": self.threads}, stop))


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended, in the session's terms."""

    trial_id: int
    status: TrialStatus | None  # None: stopped before the end (it goes back to pending)
    best_step: int | None = None
    best_value: float | None = None
    final_value: float | None = None
    error: str = ""
    compute_seconds: float = 0.0
    data_seconds: float = 0.0
    details: str = ""  # the traceback of a failed trial, kept in the session's event log


#: What out-of-memory errors say, lowercased: torch's and the OS's, and cuBLAS's or cuDNN's
#: when a full GPU leaves them no room (CUBLAS_STATUS_ALLOC_FAILED, seen on an H100).
OOM_MARKERS = (
    "out of memory",
    "can't allocate memory",
    "cannot allocate memory",
    "_status_alloc_failed",
)


def describe_error(exc: BaseException) -> str:
    """One line for the trial's error field; out-of-memory is named as such."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
    if isinstance(exc, MemoryError) or any(m in str(exc).lower() for m in OOM_MARKERS):
        return f"out of memory: {text}"
    return text


@functools.lru_cache(maxsize=4)
def cached_workload(ref: str, config_json: str) -> Workload:
    """The workload `ref` with its JSON config, loaded once per process (a few are kept)."""
    from tunebook.core.workloads import load_workload

    return load_workload(ref, json.loads(config_json))


def workload_for(task: TrialTask) -> Workload:
    """The task's workload, loaded once per process (data generation is not repeated)."""
    return cached_workload(task.workload, json.dumps(task.workload_config, sort_keys=True))


def run_trial_task(task: TrialTask, reporter: TrialReporter, slot: int = 0) -> TrialOutcome:
    """Train the trial, reporting through `reporter`, on the device the task asks for (a
    pool's worker `slot` picks among this process's GPUs); never raises for a trial's own
    error."""
    from tunebook.core.execution.devices import trial_device
    from tunebook.core.execution.trial_config import build_trial_config
    from tunebook.core.training import train_trial

    try:
        workload = workload_for(task)
        config = build_trial_config(workload, task, trial_device(task.device, slot))
        result = train_trial(workload, config, reporter, resume_state=task.resume_state)
    except Exception as exc:
        return TrialOutcome(
            task.trial_id,
            TrialStatus.FAILED,
            error=describe_error(exc),
            details="".join(traceback.format_exception(exc)),
        )
    status = {
        "completed": TrialStatus.COMPLETED,
        "infeasible": TrialStatus.INFEASIBLE,
        "stopped": None,
    }[result.status.value]
    return TrialOutcome(
        trial_id=task.trial_id,
        status=status,
        best_step=result.best_step,
        best_value=result.best_value,
        final_value=result.final_value,
        error=result.reason or "",
        compute_seconds=result.compute_seconds,
        data_seconds=result.data_seconds,
    )
