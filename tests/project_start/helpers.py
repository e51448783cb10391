"""Shared helpers of the project-start tests: sessions on the test workloads, and probes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunebook.core.experiments import session_workload
from tunebook.core.project_start.optimizer import decide_optimizer
from tunebook.core.project_start.probe import ProbePlan, Unit
from tunebook.core.project_start.runner import ProbeRunner
from tunebook.sessions import Probe, Session


def new_session(
    folder: Path, ref: str, config: Mapping[str, Any] | None = None, optimizer: str = ""
) -> Path:
    """A session file on workload `ref` in `folder`, with `optimizer` decided if given."""
    path = folder / "probe.tunebook"
    with Session.create(path, ref, dict(config or {})) as session:
        if optimizer:
            decide_optimizer(session, session_workload(session), optimizer)
    return path


def run_inline(path: Path, name: str, options: Mapping[str, Any], **kwargs: Any) -> Probe:
    """Run probe `name` to the end in this process; it must complete."""
    probe = ProbeRunner(path, name, options, executor="inline", **kwargs).run()
    assert probe.status == "completed", probe.results
    return probe


def planned_keys(plan: ProbePlan, config: Mapping[str, Any], points: Mapping[str, Any]) -> list:
    """Replay the plan on the stored points: the keys it asks for, in order, until it asks
    for nothing new. Every one must be stored (so the result is the plan's units)."""
    replayed: dict[str, Any] = {}
    while True:
        new: list[Unit] = [u for u in plan.next_units(config, replayed) if u.key not in replayed]
        if not new:
            return list(replayed)
        for unit in new:
            assert unit.key in points, f"the plan asks for {unit.key}, which was not measured"
            replayed[unit.key] = points[unit.key]
