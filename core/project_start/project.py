"""The project as decided so far: what every probe trains with.

Each probe trains the configuration the earlier decisions define (PB-1 … PB-4, PB-19):
the model's architecture values, the optimizer and its hyperparameters, the batch size, the
initial learning rate, the step budget. Where a decision is not made yet, the workload's and
the optimizer's defaults stand in, and the probe records which values it used, so that a
later change of decision shows the probe is out of date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunebook.sessions import DecisionKind, Session

if TYPE_CHECKING:
    from tunebook.core.workloads import Workload

#: The optimizer a project starts with until one is decided (PB-2 suggests per task).
DEFAULT_OPTIMIZER = "adam"


@dataclass(frozen=True)
class Project:
    """The effective project-start values: decided ones, else defaults."""

    architecture: dict[str, Any]
    optimizer: str
    optimizer_hparams: dict[str, Any]
    batch_size: int
    max_train_steps: int | None = None
    warmup_steps: int = 0
    grad_clip: float | None = None
    decided: frozenset[str] = field(default_factory=frozenset)

    @property
    def learning_rate(self) -> float:
        """The base learning rate (the initial-configuration decision, else the default)."""
        return float(self.optimizer_hparams["learning_rate"])

    def hparams(self, **overrides: Any) -> dict[str, Any]:
        """Flat trial hyperparameters at a constant learning rate (PB-4), with overrides."""
        values: dict[str, Any] = {
            **self.architecture,
            "optimizer": self.optimizer,
            **self.optimizer_hparams,
            "batch_size": self.batch_size,
            "schedule": "constant",
        }
        values.update(overrides)
        return values

    def inputs(self) -> dict[str, Any]:
        """The values a probe or decision depends on, by decision kind, as stored with it."""
        return {
            DecisionKind.MODEL.value: self.architecture,
            DecisionKind.OPTIMIZER.value: {
                "name": self.optimizer,
                "hparams": {
                    k: v for k, v in self.optimizer_hparams.items() if k != "learning_rate"
                },
            },
            DecisionKind.BATCH_SIZE.value: self.batch_size,
            DecisionKind.INITIAL_CONFIG.value: {"learning_rate": self.learning_rate},
            DecisionKind.MAX_TRAIN_STEPS.value: self.max_train_steps,
        }


def project_of(session: Session, workload: Workload) -> Project:
    """The session's effective project-start values for `workload`."""
    from tunebook.core.training import TrialConfig, optimizer_spec

    decided: dict[DecisionKind, Any] = {}
    for kind in DecisionKind:
        decision = session.decision(kind)
        if decision is not None:
            decided[kind] = decision.value
    architecture = workload.resolve_hparams(decided.get(DecisionKind.MODEL, {}))
    optimizer = decided.get(DecisionKind.OPTIMIZER, {"name": DEFAULT_OPTIMIZER})
    name = str(optimizer.get("name", DEFAULT_OPTIMIZER))
    hparams = optimizer_spec(name).resolve(optimizer.get("hparams", {}))
    initial = decided.get(DecisionKind.INITIAL_CONFIG, {})
    if "learning_rate" in initial:
        hparams["learning_rate"] = float(initial["learning_rate"])
    stability = decided.get(DecisionKind.STABILITY, {})
    steps = decided.get(DecisionKind.MAX_TRAIN_STEPS)
    return Project(
        architecture=architecture,
        optimizer=name,
        optimizer_hparams=hparams,
        batch_size=int(decided.get(DecisionKind.BATCH_SIZE, TrialConfig.batch_size)),
        max_train_steps=None if steps is None else int(steps),
        warmup_steps=int(stability.get("warmup_steps", 0) or 0),
        grad_clip=stability.get("grad_clip"),
        decided=frozenset(kind.value for kind in decided),
    )


def changed_inputs(recorded: Mapping[str, Any], project: Project) -> list[str]:
    """The decisions whose values differ now from those `recorded` with a probe."""
    now = project.inputs()
    return [kind for kind, value in recorded.items() if kind in now and now[kind] != value]
