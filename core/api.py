"""The headless Python API: everything the CLI does, for scripts, notebooks and CI jobs.

    from tunebook.core import api
    api.create_session("mlp.tunebook", "tabular")
    api.add_experiment("mlp.tunebook", "lr.toml")
    result = api.run("mlp.tunebook", workers=2, progress=print)
    best = api.results("mlp.tunebook")

Every function takes the session file's path and opens and closes it itself, so calls are
independent and safe to make from another process while a runner works.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunebook.core.execution.runner import ProgressCallback, Runner, RunProgress, RunResult
from tunebook.core.experiments import (
    AddedExperiment,
    add_experiment_from_dict,
    add_experiment_from_spec,
    check_workload,
)
from tunebook.core.workloads import load_workload
from tunebook.sessions import Series, Session, SessionInfo, StudySummary, Trial

PathLike = str | os.PathLike[str]


def create_session(
    path: PathLike, workload: str, config: Mapping[str, Any] | None = None
) -> SessionInfo:
    """Create a session file for `workload` (a built-in name, `file.py:Class` or
    `package.module:Class`), checking first that the workload loads and trains one step;
    records its split sizes and notes (likely mistakes), readable as `info.workload_facts`."""
    Session.check_new_path(path)
    loaded = load_workload(workload, dict(config or {}))
    facts = check_workload(loaded)
    with Session.create(path, workload, loaded.config()) as session:
        session.record_workload_facts(facts)
        return session.info()


def add_experiment(path: PathLike, spec: PathLike | Mapping[str, Any]) -> AddedExperiment:
    """Add an experiment from a TOML spec file or from a dict of the same shape."""
    with Session.open(path) as session:
        if isinstance(spec, Mapping):
            return add_experiment_from_dict(session, spec, "<dict spec>")
        return add_experiment_from_spec(session, Path(spec))


def run(
    path: PathLike,
    *,
    experiment: str | None = None,
    workers: int = 1,
    executor: str = "process",
    retry_failed: bool = False,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Run the session's pending and remaining trials; blocks until done or `stop` is set
    (running trials then checkpoint and go back to pending)."""
    return Runner(
        path,
        experiment=experiment,
        workers=workers,
        executor=executor,
        retry_failed=retry_failed,
        progress=progress,
        stop=stop,
    ).run()


def results(path: PathLike, experiment: str | None = None) -> list[StudySummary]:
    """Per-study counts and best trial, for one experiment or all."""
    with Session.open(path, read_only=True) as session:
        experiment_id = None if experiment is None else session.experiment(experiment).id
        return session.study_summaries(experiment_id)


def trials(path: PathLike, experiment: str | None = None) -> list[Trial]:
    """Every trial record (hyperparameters, seeds, status, best value and step)."""
    with Session.open(path, read_only=True) as session:
        experiment_id = None if experiment is None else session.experiment(experiment).id
        return session.trials(experiment_id=experiment_id)


def curves(path: PathLike, trial_id: int) -> dict[str, Series]:
    """All metric series of one trial (train loss, learning rate, gradient norm, eval …)."""
    with Session.open(path, read_only=True) as session:
        return session.trial_series(trial_id)


__all__ = [
    "AddedExperiment",
    "RunProgress",
    "RunResult",
    "add_experiment",
    "create_session",
    "curves",
    "results",
    "run",
    "trials",
]
