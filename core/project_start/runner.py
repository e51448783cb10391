"""The probe runner: measures a probe's units in worker processes and stores each point.

Like the trial runner it is the session file's only writer while it runs: it claims the
runner row (a second runner is refused), beats a heartbeat (so the app and `status` see it
alive), and stops gracefully on SIGINT/SIGTERM or its `stop` event. Units run in worker
processes (`process`, the default; never in the app's process) or in this process (`inline`,
for tests). Each finished unit is one stored point, committed at once, so the app draws it
while the others run; a killed runner loses only the units in flight, and the next run of
the same probe resumes it: the plan skips the points already stored.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tunebook.core.execution.lifecycle import Heartbeat, signals_stop
from tunebook.core.execution.pool import WorkerPool, check_main_script
from tunebook.core.execution.trial_task import UnitTask
from tunebook.core.experiments import session_workload
from tunebook.core.project_start.probe import ProbePlan, Unit
from tunebook.core.project_start.project import project_of
from tunebook.core.project_start.registry import probe_plan
from tunebook.core.workload_source import announce_foreign_code, session_workload_source
from tunebook.sessions import BadInput, Probe, Session
from tunebook.sessions.report import RUNNER_STALE_AFTER

EXECUTORS = ("inline", "process")
POLL_EVERY = 0.2  # seconds


@dataclass(frozen=True)
class ProbeProgress:
    """Sent to the progress callback once the probe starts (or resumes), then after each
    stored point (`last`, its key)."""

    probe_id: int
    measured: int
    running: tuple[str, ...]
    last: str | None = None


ProbeCallback = Callable[[ProbeProgress], None]


class ProbeRunner:
    """Runs (or resumes) one project-start probe of a session.

    Args:
        path: the session file.
        name: the probe's command-line name (`batch-size`, `initial-config`, …).
        options: the probe's settings (see each plan's `plan_config`).
        workers: worker processes for units that may run in parallel.
        executor: `process` (default) or `inline`.
        restart: start a new probe even when an unfinished one with the same settings
            could be resumed.
        stop: set it to stop after the units in flight (they are measured again later).
    """

    def __init__(
        self,
        path: os.PathLike[str] | str,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        workers: int = 1,
        executor: str = "process",
        restart: bool = False,
        stop: threading.Event | None = None,
        progress: ProbeCallback | None = None,
        notice: Callable[[str], None] | None = None,
        detached: bool = False,
    ) -> None:
        if executor not in EXECUTORS:
            raise BadInput(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if workers < 1:
            raise BadInput(f"--workers must be at least 1, got {workers}")
        self.path = path
        self.plan: ProbePlan = probe_plan(name)
        self.options = dict(options or {})
        self.workers = workers if self.plan.parallel else 1
        self.executor = executor
        self.restart = restart
        self.stop = stop or threading.Event()
        self.progress = progress
        self.notice = notice
        self.detached = detached

    def run(self) -> Probe:
        """Measure until the plan is complete (or a stop); returns the stored probe."""
        with Session.open(self.path) as session:
            workload = session_workload(session)
            source = session_workload_source(session)
            config = self.plan.plan_config(
                session, workload, project_of(session, workload), self.options
            )
            config = {**config, "workload": source.ref, "workload_config": source.config}
            if self.executor != "inline":
                check_main_script()  # before registering, as a run does
            session.claim_runner(
                RUNNER_STALE_AFTER, self.detached, command=f"probe {self.plan.name}"
            )
            heartbeat = Heartbeat(self.path)
            heartbeat.start()
            signals = signals_stop(self.stop)
            try:
                announce_foreign_code(session, self.notice)
                probe = self._resume_or_create(session, config)
                if self.progress is not None:
                    self.progress(ProbeProgress(probe.id, len(probe.points), ()))
                with signals:
                    probe = self._measure(session, probe)
                if self.stop.is_set():
                    return session.update_probe(probe.id, status="stopped")
                summary = self.plan.summarize(probe.config, probe.points)
                session.log_event("runner", "probe.completed", f"probe {self.plan.name} done")
                return session.update_probe(probe.id, status="completed", summary=summary)
            finally:
                heartbeat.done.set()
                heartbeat.join()
                with contextlib.suppress(sqlite3.OperationalError):
                    session.release_runner()

    def _resume_or_create(self, session: Session, config: dict[str, Any]) -> Probe:
        """The latest unfinished probe with the same settings, else a new one."""
        latest = session.latest_probe(self.plan.kind)
        comparable = {k: v for k, v in config.items() if k != "workers"}
        if (
            not self.restart
            and latest is not None
            and latest.status in ("running", "stopped")
            and {k: v for k, v in latest.config.items() if k != "workers"} == comparable
        ):
            session.log_event("runner", "probe.resumed", f"probe {self.plan.name} resumed")
            return session.update_probe(latest.id, status="running")
        probe = session.add_probe(self.plan.kind, config, {"status": "running", "points": {}})
        session.log_event("runner", "probe.started", f"probe {self.plan.name} started")
        return probe

    def _pending(self, probe: Probe) -> list[Unit]:
        points = probe.points
        return [u for u in self.plan.next_units(probe.config, points) if u.key not in points]

    def _measure(self, session: Session, probe: Probe) -> Probe:
        if self.executor == "inline":
            return self._measure_inline(session, probe)
        return self._measure_processes(session, probe)

    def _record(
        self,
        session: Session,
        probe: Probe,
        key: str,
        point: Mapping[str, Any],
        running: tuple[str, ...],
    ) -> Probe:
        probe = session.add_probe_point(probe.id, key, point)
        if self.progress is not None:
            self.progress(ProbeProgress(probe.id, len(probe.points), running, key))
        return probe

    def _measure_inline(self, session: Session, probe: Probe) -> Probe:
        threads = max(1, os.cpu_count() or 1)
        while not self.stop.is_set():
            units = self._pending(probe)
            if not units:
                return probe
            unit = units[0]
            result = UnitTask(unit.key, unit.function, unit.payload, threads).run(self.stop)
            if result.get("stopped"):
                return probe
            probe = self._record(session, probe, unit.key, result, ())
        return probe

    def _measure_processes(self, session: Session, probe: Probe) -> Probe:
        if not self._pending(probe):
            return probe
        pool = WorkerPool(self.workers, None)
        running: dict[str, Unit] = {}
        try:
            while True:
                if self.stop.is_set():
                    # A unit is measured whole or not at all: its worker has nothing to
                    # save, so the probe stops now rather than after the unit.
                    pool.stop.set()
                    for worker in list(pool.workers):
                        pool.kill(worker)
                    return probe
                else:
                    for worker in pool.idle():
                        unit = next((u for u in self._pending(probe) if u.key not in running), None)
                        if unit is None:
                            break
                        running[unit.key] = unit
                        pool.submit(
                            worker, UnitTask(unit.key, unit.function, unit.payload, pool.threads)
                        )
                if not running:
                    return probe
                for worker, message in pool.messages(POLL_EVERY):
                    if message is None:
                        probe = self._worker_died(session, probe, pool, worker, running)
                        continue
                    kind, key, result = message
                    if kind != "outcome":
                        continue
                    worker.task_id = None
                    running.pop(key, None)
                    if not result.get("stopped"):
                        probe = self._record(session, probe, key, result, tuple(running))
                for worker in pool.dead_without_eof():
                    probe = self._worker_died(session, probe, pool, worker, running)
        finally:
            pool.close()

    def _worker_died(
        self,
        session: Session,
        probe: Probe,
        pool: WorkerPool,
        worker: Any,
        running: dict[str, Unit],
    ) -> Probe:
        """A worker that died mid-unit (the OS killed it for memory, or it crashed): the
        unit is stored as such, and the plan decides what follows (a batch size's ceiling)."""
        key = worker.task_id
        code = pool.kill(worker)
        if key is None or key not in running:
            return probe
        del running[key]
        if self.stop.is_set():
            return probe  # stopped: measured again on the next run
        killed = code == -9
        point = {
            "status": "out_of_memory" if killed else "failed",
            "error": f"the worker process died (exit code {code}"
            + (", killed: possibly out of memory)" if killed else ")"),
        }
        return self._record(session, probe, key, point, tuple(running))
