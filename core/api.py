"""The headless Python API: everything the CLI does, for scripts, notebooks and CI jobs.

    from tunebook.core import api
    api.create_session("mlp.tunebook", "tabular")
    api.add_experiment("mlp.tunebook", "lr.toml")
    result = api.run("mlp.tunebook", workers=2, progress=print)
    best = api.results("mlp.tunebook")

Every function takes the session file's path and opens and closes it itself, so calls are
independent and safe to make from another process while a runner works. Reading results
(`results`, `trials`, `curves`) never imports torch: a script that only reads starts in a
fraction of a second; the functions that load a workload import it when called.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunebook.core.execution.devices import AUTO
from tunebook.core.execution.executors import RayOptions
from tunebook.core.execution.runner import (
    STALL_TIMEOUT,
    ProgressCallback,
    Runner,
    RunProgress,
    RunResult,
)
from tunebook.core.workload_source import (
    PATH_OPTIONS,
    portable_source,
    session_workload_source,
    split_ref,
)
from tunebook.sessions import BadInput, Series, Session, SessionInfo, StudySummary, Trial
from tunebook.sessions.report import RUNNER_STALE_AFTER

if TYPE_CHECKING:
    from tunebook.core.experiments import AddedExperiment

PathLike = str | os.PathLike[str]


def create_session(
    path: PathLike, workload: str, config: Mapping[str, Any] | None = None
) -> SessionInfo:
    """Create a session file for `workload` (a built-in name, `file.py:Class` or
    `package.module:Class`), checking first that the workload loads and trains one step;
    records its split sizes and notes (likely mistakes), readable as `info.workload_facts`.
    Files are stored relative to the session file's folder when near it (`workload_source`)."""
    from tunebook.core.execution.warm_call import call_warm
    from tunebook.core.experiments import check_new_workload

    Session.check_new_path(path)
    checked = call_warm(check_new_workload, workload, dict(config or {}))
    facts, path_options = checked.facts, checked.path_options
    ref, stored_config = portable_source(path, workload, checked.config, path_options)
    meta = {PATH_OPTIONS: json.dumps(list(path_options))}
    with Session.create(path, ref, stored_config, meta=meta) as session:
        session.record_workload_facts(facts)
        return session.info()


def relocate(
    path: PathLike, workload: str | None = None, options: Mapping[str, Any] | None = None
) -> SessionInfo:
    """Point a session at its workload's files where they are now: a new `file.py:Class`
    for the same class, and/or new values of file options such as the tabular `csv`.

    Refused while a runner is alive; the new files must load; the change is logged."""
    from tunebook.core.workloads.loading import load_workload, workload_class

    options = dict(options or {})
    if workload is None and not options:
        raise BadInput("relocate needs --workload NEWREF or -o OPTION=NEWPATH (or both)")
    with Session.open(path) as session:
        source = session_workload_source(session)
        if workload is not None:
            _check_same_class(source.stored_ref, workload)
        load_ref = workload or source.ref
        path_options = workload_class(load_ref).path_options
        not_paths = sorted(set(options) - set(path_options))
        if not_paths:
            listed = ", ".join(path_options) or "none"
            raise BadInput(
                f"option {not_paths[0]!r} of workload {source.stored_ref!r} is not a file "
                f"path (its file options: {listed}); relocate only says where files are"
            )
        loaded = load_workload(load_ref, {**source.config, **options})
        ref, config = portable_source(path, loaded.ref, loaded.config(), path_options)
        session.claim_runner(RUNNER_STALE_AFTER, command="relocate")
        try:
            with session.transaction():
                session.set_workload(ref, config)
                session.set_meta(PATH_OPTIONS, json.dumps(list(path_options)))
                before = {"ref": source.stored_ref, **source.stored_config}
                after = {"ref": ref, **config}
                changes = [
                    f"{key} {before.get(key)} -> {value}"
                    for key, value in after.items()
                    if before.get(key) != value
                ]
                session.log_event(
                    "user",
                    "workload.relocated",
                    "workload " + ("; ".join(changes) or "unchanged"),
                    {"from": before, "to": after},
                )
        finally:
            session.release_runner()
        return session.info()


def _check_same_class(stored_ref: str, new_ref: str) -> None:
    """Relocating moves files; it never swaps the workload for another class."""
    stored_target, stored_class = split_ref(stored_ref)
    if not stored_target:
        raise BadInput(
            f"the session's workload is the built-in {stored_ref!r}, which has no file to "
            "relocate; use -o OPTION=NEWPATH for its data files"
        )
    new_class = split_ref(new_ref)[1]
    if new_class != stored_class:
        raise BadInput(
            f"--workload {new_ref!r} names class {new_class!r}, but the session's workload is "
            f"class {stored_class!r} ({stored_ref!r}); relocate only says where files are"
        )


def add_experiment(path: PathLike, spec: PathLike | Mapping[str, Any]) -> AddedExperiment:
    """Add an experiment from a TOML spec file or from a dict of the same shape."""
    from tunebook.core.experiments import add_experiment_from_dict, add_experiment_from_spec

    with Session.open(path) as session:
        if isinstance(spec, Mapping):
            return add_experiment_from_dict(session, spec, "<dict spec>")
        return add_experiment_from_spec(session, Path(spec))


def run(
    path: PathLike,
    *,
    experiment: str | None = None,
    workers: int | None = None,
    executor: str = "process",
    ray: RayOptions | None = None,
    device: str = AUTO,
    retry_failed: bool = False,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    stall_timeout: float = STALL_TIMEOUT,
) -> RunResult:
    """Run the session's pending and remaining trials; blocks until done or `stop` is set
    (running trials then checkpoint and go back to pending). `progress` is called once per
    change of the counts; a trial that reports nothing for `stall_timeout` seconds fails.
    `executor="ray"` runs trials as Ray tasks; `ray=RayOptions(address=…,
    cpus_per_trial=…, gpus_per_trial=…)` joins a cluster and sizes each trial. Trials train
    on a GPU where their worker sees one (`device="auto"`), or on `device` ("cpu", "cuda",
    "cuda:N")."""
    return Runner(
        path,
        experiment=experiment,
        workers=workers,
        executor=executor,
        ray=ray,
        device=device,
        retry_failed=retry_failed,
        progress=progress,
        stop=stop,
        stall_timeout=stall_timeout,
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




def __getattr__(name: str) -> Any:
    """`api.AddedExperiment`, imported on first use (its module loads torch)."""
    if name == "AddedExperiment":
        from tunebook.core.experiments import AddedExperiment

        return AddedExperiment
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AddedExperiment",
    "RayOptions",
    "RunProgress",
    "RunResult",
    "add_experiment",
    "create_session",
    "curves",
    "relocate",
    "results",
    "run",
    "trials",
]
