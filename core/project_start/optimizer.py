"""The optimizer step (PB-2): the seven optimizers, a suggestion by task, early freezing.

The playbook: use the most popular optimizer for the kind of problem, be ready to tune all
of its hyperparameters, and early in a project a simpler variant with its extra
hyperparameters frozen at defaults is fine (PB-28 says which of Adam's to tune by budget).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.decisions import decide
from tunebook.sessions import BadInput, Decision, DecisionKind, Session

if TYPE_CHECKING:
    from tunebook.core.workloads import Workload


@dataclass(frozen=True)
class OptimizerHParam:
    """One optimizer hyperparameter with its default and what it does."""

    name: str
    default: Any
    help: str


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer: its update rule, how it relates to the playbook's, its hyperparameters."""

    name: str
    rule: str
    playbook: str
    hparams: tuple[OptimizerHParam, ...]


@dataclass(frozen=True)
class Suggestion:
    """The optimizer the playbook would start with for this workload, and why."""

    name: str
    reason: str
    frozen: tuple[str, ...]


def optimizer_catalogue() -> tuple[OptimizerInfo, ...]:
    """Every optimizer tunebook trains with, in the playbook's order."""
    from tunebook.core.training import OPTIMIZERS

    return tuple(
        OptimizerInfo(
            spec.name,
            spec.help,
            spec.playbook,
            tuple(OptimizerHParam(h.name, h.default, h.help) for h in spec.hparams),
        )
        for spec in OPTIMIZERS.values()
    )


#: Hyperparameters that are fine to freeze at their defaults early on (PB-2, PB-28: with
#: fewer than 25 trials Adam tunes the learning rate and β1, not ε or β2).
EARLY_FROZEN = {
    "sgd": ("weight_decay",),
    "momentum": ("weight_decay",),
    "nesterov": ("weight_decay",),
    "adam": ("beta2", "epsilon", "weight_decay"),
    "nadam": ("beta2", "epsilon", "weight_decay", "momentum_decay"),
    "adamw": ("beta2", "epsilon"),
    "rmsprop": ("rho", "momentum", "epsilon", "centered", "weight_decay"),
}


def suggest_optimizer(workload: Workload) -> Suggestion:
    """The most popular optimizer for this kind of problem (PB-2), with the reason."""
    convolutional = workload.task == "classification" and workload.name == "images"
    if convolutional:
        name = "nesterov"
        reason = (
            "image classification with convolutional networks: SGD with Nesterov momentum is "
            "the most common choice in the literature, and the playbook's preferred momentum"
        )
    elif workload.task == "language_model":
        name = "adamw"
        reason = (
            "language models (Transformers) are trained with Adam-family optimizers almost "
            "always, with decoupled weight decay (AdamW)"
        )
    else:
        name = "adam"
        reason = (
            f"{workload.task} with an MLP: Adam is the most popular choice and forgiving of "
            "its learning rate"
        )
    return Suggestion(name, reason, EARLY_FROZEN[name])


def decide_optimizer(
    session: Session,
    workload: Workload,
    name: str,
    hparams: Mapping[str, Any] | None = None,
    frozen: Iterable[str] = (),
    rationale: str = "",
) -> Decision:
    """Record the optimizer, its hyperparameter values (defaults filled in) and the ones
    frozen for now; the learning rate is decided with the initial configuration."""
    from tunebook.core.training import optimizer_spec

    spec = optimizer_spec(name)
    values = spec.resolve(dict(hparams or {}))
    frozen = tuple(dict.fromkeys(frozen))
    unknown = [f for f in frozen if f not in values]
    if unknown:
        raise BadInput(f"cannot freeze {unknown[0]!r}: optimizer {name!r} has {', '.join(values)}")
    if "learning_rate" in frozen:
        raise BadInput("the learning rate cannot be frozen: it is always tuned (PB-2)")
    suggestion = suggest_optimizer(workload)
    why = rationale or (
        f"the suggestion for this workload: {suggestion.reason}"
        if name == suggestion.name
        else f"chosen over the suggested {suggestion.name}"
    )
    value = {"name": name, "hparams": values, "frozen": list(frozen)}
    return decide(session, workload, DecisionKind.OPTIMIZER, value, why)
