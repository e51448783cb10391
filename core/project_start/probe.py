"""What a probe is: a plan of measuring units, adaptive to what was measured so far.

A probe's `next_units(config, points)` says which units to measure next given the points
already stored (empty when the probe is complete), and `summarize(config, points)` turns
the points into a recommendation with its evidence. Both are pure functions of the stored
data, so a probe that was stopped or whose runner was killed resumes exactly where it was:
the runner measures only the units not stored yet.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tunebook.sessions import BadInput, DecisionKind, ProbeKind, Session

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload

UNITS = "tunebook.core.project_start.units"
TRAIN_UNIT = f"{UNITS}:train_unit"
THROUGHPUT_UNIT = f"{UNITS}:throughput_unit"
CHANCE_UNIT = f"{UNITS}:chance_unit"
FINAL_TEST_UNIT = f"{UNITS}:final_test_unit"

Points = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Unit:
    """One measurement: a key unique in its probe, the worker function and its payload."""

    key: str
    function: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommendation:
    """What a completed probe proposes to decide, and why."""

    kind: DecisionKind
    value: Any
    rationale: str


class ProbePlan(abc.ABC):
    """One project-start probe. Subclasses say what to measure and what it means."""

    kind: ClassVar[ProbeKind]
    name: ClassVar[str]  # the command-line name: `tunebook probe NAME PATH`
    title: ClassVar[str]
    playbook: ClassVar[tuple[str, ...]]
    #: The decision a completed probe proposes; None for a probe that informs something
    #: else (the seed-variance probe's evidence goes into a launch, PB-17).
    decision: ClassVar[DecisionKind | None]
    #: Whether the units may run in parallel workers (the batch-size probe measures sizes
    #: one after another in one process: its memory reading depends on that).
    parallel: ClassVar[bool] = True

    @abc.abstractmethod
    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The probe's settings (stored with it): options given, defaults and the project's
        values filled in. Raises BadInput for an option out of range."""

    @abc.abstractmethod
    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        """The units to measure next; units already in `points` are skipped; [] = done."""

    @abc.abstractmethod
    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        """The probe's findings: `recommendation` ({value, rationale} or None), `warnings`
        (sentences), and whatever numbers the screen and the command show."""

    def recommendation(self, summary: Mapping[str, Any]) -> Recommendation | None:
        """The decision a completed probe's summary proposes, or None."""
        found = summary.get("recommendation")
        if not found or self.decision is None:
            return None
        return Recommendation(self.decision, found["value"], found["rationale"])


def train_payload(config: Mapping[str, Any], hparams: Mapping[str, Any], **extra: Any) -> dict:
    """A training unit's payload: the workload, its hyperparameters and run settings."""
    return {
        "workload": config["workload"],
        "workload_config": config["workload_config"],
        "device": config.get("device", "cpu"),
        "hparams": dict(hparams),
        **extra,
    }


def steps_option(options: Mapping[str, Any], default: int, minimum: int) -> int:
    """The `--steps` option (else `default`); BadInput below `minimum`."""
    steps = int(options.get("steps") or default)
    if steps < minimum:
        raise BadInput(f"--steps must be at least {minimum}, got {steps}")
    return steps


def lr_key(learning_rate: float) -> str:
    """The key of a unit at one learning rate (stable across runs: 4 significant digits)."""
    return f"lr={learning_rate:.4g}"


def feasible_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The training runs that completed with an objective value."""
    return [r for r in runs if r.get("status") == "completed" and r.get("best_value") is not None]


def best_run(runs: list[dict[str, Any]], mode: str) -> dict[str, Any] | None:
    """The feasible run with the best objective (`mode` min or max), or None."""
    feasible = feasible_runs(runs)
    if not feasible:
        return None
    return (min if mode == "min" else max)(feasible, key=lambda r: r["best_value"])


def run_problem(run: Mapping[str, Any]) -> str:
    """Why a run did not complete, in a few words."""
    return str(run.get("reason") or run.get("error") or run.get("status", ""))
