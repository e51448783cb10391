"""The model step (PB-1, PB-4): the workload's architecture hyperparameters as a family.

A workload's architecture hyperparameters define a *family* of models (depth, width,
normalization …); the project starts from the smallest sensible member, because a small
model is fast and cheap to tune and the playbook adds capacity only when an experiment
shows it helps. The built-ins declare such a member as their defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.decisions import decide
from tunebook.sessions import BadInput, Decision, DecisionKind, Session

if TYPE_CHECKING:
    from tunebook.core.workloads import Workload


FAMILY_ADVICE = (
    "These hyperparameters define a family of models, not one model. Start from the "
    "smallest sensible member (the defaults below are one): it trains fast, so every later "
    "experiment is cheap, and a later round can ask whether more capacity helps (PB-1, PB-4)."
)


@dataclass(frozen=True)
class ModelHParam:
    """One architecture hyperparameter: its kind, default, choices, help and current value."""

    name: str
    kind: str
    default: Any
    choices: tuple[Any, ...] | None
    help: str
    value: Any


@dataclass(frozen=True)
class ModelFamily:
    """The model step's view: the workload, its hyperparameters, whether one is decided."""

    workload: str
    description: str
    task: str
    hparams: tuple[ModelHParam, ...]
    decided: bool
    advice: str = FAMILY_ADVICE

    @property
    def values(self) -> dict[str, Any]:
        """The current values by name (the decision's, else the defaults)."""
        return {h.name: h.value for h in self.hparams}


def model_family(session: Session, workload: Workload) -> ModelFamily:
    """The workload's model family with the session's model decision applied."""
    decision = session.decision(DecisionKind.MODEL)
    current = workload.resolve_hparams(decision.value if decision else {})
    return ModelFamily(
        workload=workload.ref,
        description=workload.description,
        task=workload.task,
        hparams=tuple(
            ModelHParam(h.name, h.kind, h.default, h.choices, h.help, current[h.name])
            for h in workload.hparams
        ),
        decided=decision is not None,
    )


def parse_values(workload: Workload, assignments: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` words (from a command line) as typed values, checked against the
    workload's declarations; BadInput names the word at fault."""
    declared = {h.name: h for h in workload.hparams}
    values: dict[str, Any] = {}
    for word in assignments:
        name, sep, text = word.partition("=")
        if not sep or name not in declared:
            known = ", ".join(declared) or "none"
            raise BadInput(
                f"'{word}' is not NAME=VALUE for one of the model's hyperparameters ({known})"
            )
        values[name] = declared[name].coerce(parse_scalar(text))
    return values


def parse_scalar(text: str) -> Any:
    """A command-line value as a number, a boolean or a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def decide_model(
    session: Session, workload: Workload, values: Mapping[str, Any], rationale: str = ""
) -> Decision:
    """Record the model: every architecture value (defaults filled in), checked."""
    resolved = workload.resolve_hparams(values)
    changed = {k: v for k, v in resolved.items() if workload_default(workload, k) != v}
    why = rationale or (
        "the workload's defaults, its smallest sensible member (PB-4)"
        if not changed
        else "chosen: " + ", ".join(f"{k}={v}" for k, v in changed.items())
    )
    return decide(session, workload, DecisionKind.MODEL, resolved, why)


def workload_default(workload: Workload, name: str) -> Any:
    """The declared default of one architecture hyperparameter."""
    return next(h.default for h in workload.hparams if h.name == name)
