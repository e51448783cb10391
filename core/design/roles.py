"""PB-8's rules of thumb for roles, and PB-28's Adam nuisance set by trial budget.

For one experiment's goal every hyperparameter is scientific (its effect is measured),
nuisance (optimized away so the comparison is fair) or fixed (held, a caveat of the
conclusion). The designer pre-fills roles with `propose_roles`; the user decides.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable


class Role(str, enum.Enum):
    """A hyperparameter's role for one experiment's goal (PB-8)."""

    SCIENTIFIC = "scientific"
    NUISANCE = "nuisance"
    FIXED = "fixed"


#: Hyperparameters of the optimizer update (PB-2): usually nuisance.
OPTIMIZER_HPARAMS = frozenset(
    {
        "learning_rate",
        "beta1",
        "one_minus_beta1",
        "beta2",
        "one_minus_beta2",
        "epsilon",
        "momentum",
        "one_minus_momentum",
        "warmup_steps",
        "grad_clip",
    }
)
#: Which optimizer to use: scientific when the goal compares optimizers, else fixed.
OPTIMIZER_CHOICE = frozenset({"optimizer", "schedule"})
#: Regularization strengths: nuisance (whether to regularize at all is the scientific one).
REGULARIZER_STRENGTHS = frozenset({"dropout", "dropout_rate", "weight_decay", "label_smoothing"})
#: Hyperparameters owned by the training loop, not the workload: the set callers usually
#: add to a workload's own names when validating a spec (`known_hparams`).
TRAINING_HPARAMS = frozenset(
    OPTIMIZER_HPARAMS
    | OPTIMIZER_CHOICE
    | {"weight_decay", "label_smoothing", "batch_size", "max_train_steps"}
)
#: Adam's hyperparameters in the order PB-28 adds them to the nuisance set, with the
#: names each may go by (β1 is best searched as 1 − β1 on a log scale).
ADAM_ORDER: tuple[tuple[str, ...], ...] = (
    ("learning_rate",),
    ("one_minus_beta1", "beta1"),
    ("epsilon",),
    ("beta2", "one_minus_beta2"),
)
#: Optimizer names in the Adam family, to which PB-28 applies.
ADAM_FAMILY = frozenset({"adam", "adamw", "nadam"})
#: PB-28's budget thresholds: < 10 trials tune LR; 10–24 add β1; 25+ add ε; and
#: "substantially more" than 25 adds β2, which tunebook reads as 50 or more (twice 25).
ADAM_THRESHOLDS = (10, 25, 50)


def adam_nuisance_set(trial_budget: int) -> tuple[str, ...]:
    """Adam hyperparameters worth tuning with `trial_budget` trials per study (PB-28)."""
    size = 1 + sum(trial_budget >= threshold for threshold in ADAM_THRESHOLDS)
    return tuple(names[0] for names in ADAM_ORDER[:size])


def _role_and_reason(name: str, scientific: Collection[str]) -> tuple[Role, str]:
    if name in scientific:
        return Role.SCIENTIFIC, "the goal measures its effect"
    if name == "batch_size":
        return Role.FIXED, "batch size sets training speed, not validation performance (PB-3)"
    if name == "max_train_steps":
        return Role.FIXED, "one step budget for every trial of an experiment (PB-19)"
    if name in OPTIMIZER_HPARAMS:
        return Role.NUISANCE, "optimizer hyperparameters are usually nuisance (PB-8)"
    if name in REGULARIZER_STRENGTHS:
        return Role.NUISANCE, "regularization strengths are usually nuisance (PB-8)"
    if name in OPTIMIZER_CHOICE:
        return Role.FIXED, (
            "the choice of optimizer or schedule is scientific or fixed; here not the goal (PB-8)"
        )
    return Role.FIXED, (
        "architecture choices and regularizer switches are scientific or fixed; "
        "here not the goal (PB-8)"
    )


def propose_roles(all_hparams: Iterable[str], scientific: Collection[str] = ()) -> dict[str, Role]:
    """Pre-fill every hyperparameter's role by PB-8's rules of thumb for this goal.

    Names in `scientific` are scientific; optimizer hyperparameters and regularization
    strengths are nuisance; everything else (optimizer choice, architecture, regularizer
    on/off switches, batch size, max_train_steps) is fixed.
    """
    return {name: _role_and_reason(name, scientific)[0] for name in all_hparams}


def explain_role(name: str, scientific: Collection[str] = ()) -> str:
    """The one-line reason `propose_roles` gives `name` its role, for the designer's help text."""
    role, reason = _role_and_reason(name, scientific)
    return f"{name}: {role.value} — {reason}"
