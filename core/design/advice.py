"""Warnings about an experiment design, each with the playbook's reason.

The designer shows them where the user decides (PB-3, PB-7, PB-8, PB-9, PB-10, PB-18,
PB-28); they never block. What the playbook forbids outright (tuning max_train_steps, a
grid over three or more dimensions) is refused by the spec parser as a `SpecError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunebook.core.design.layouts import plan_studies
from tunebook.core.design.roles import (
    ADAM_FAMILY,
    ADAM_ORDER,
    OPTIMIZER_HPARAMS,
    adam_nuisance_set,
)
from tunebook.core.design.spec import ExperimentDesign, value_key
from tunebook.core.search import SearchSpace
from tunebook.sessions.text import plural

#: tunebook's reading of PB-10 and PB-28 (10 trials for two hyperparameters, 25 for three):
#: fewer than this many trials per nuisance dimension leaves the space sparsely sampled.
TRIALS_PER_DIMENSION = 5


@dataclass(frozen=True)
class Advice:
    """One warning: a stable code, the playbook item it rests on, and a one-sentence reason."""

    code: str
    playbook_id: str
    message: str


def _batch_size(design: ExperimentDesign) -> list[Advice]:
    roles = []
    if "batch_size" in design.scientific:
        roles.append("scientific")
    if any("batch_size" in design.nuisance_space(p) for p in design.scientific_points()):
        roles.append("nuisance")
    return [
        Advice(
            "batch-size-varied",
            "PB-3",
            f"batch_size is {role}: batch size sets training speed, not validation "
            "performance, and changing it means re-tuning most other hyperparameters; "
            "pick one (the largest that fits in memory and still speeds up training) and "
            "set batch_size under [fixed]",
        )
        for role in roles
    ]


def _several_goals(design: ExperimentDesign) -> list[Advice]:
    if len(design.scientific) <= 1:
        return []
    names = ", ".join(design.scientific)
    return [
        Advice(
            "several-scientific",
            "PB-7",
            f"{len(design.scientific)} scientific hyperparameters ({names}) multiply the "
            "studies and blur the conclusion; one narrow goal per experiment makes progress "
            "faster",
        )
    ]


def _budgets(design: ExperimentDesign) -> list[tuple[dict[str, Any], SearchSpace, int]]:
    """(scientific values, nuisance space, trials tuning it) for each scientific combination."""
    plans = plan_studies(design)
    if design.search.layout == "combined":
        points = design.scientific_points()
        share = max(1, plans[0].trials // len(points))
        return [(point, design.nuisance_space(point), share) for point in points]
    return [(dict(plan.scientific), plan.space, plan.trials) for plan in plans]


def _label(point: dict[str, Any]) -> str:
    return f" for {', '.join(f'{k}={value_key(v)}' for k, v in point.items())}" if point else ""


def _adam_budget(design: ExperimentDesign, optimizer: str | None) -> list[Advice]:
    advice = []
    for point, space, trials in _budgets(design):
        chosen = point.get("optimizer", design.fixed.get("optimizer", optimizer))
        if not isinstance(chosen, str) or chosen.lower() not in ADAM_FAMILY:
            continue
        tuned = [names for names in ADAM_ORDER if any(name in space for name in names)]
        supported = adam_nuisance_set(trials)
        if len(tuned) > len(supported):
            extra = [next(n for n in names if n in space) for names in tuned[len(supported) :]]
            advice.append(
                Advice(
                    "adam-budget",
                    "PB-28",
                    f"{plural(trials, 'trial')}{_label(point)} "
                    f"{'supports' if trials == 1 else 'support'} tuning Adam's "
                    f"{', '.join(supported)} only; fix {', '.join(extra)} or raise the trials",
                )
            )
    return advice


def _wide_space(design: ExperimentDesign) -> list[Advice]:
    advice = []
    for point, space, trials in _budgets(design):
        if len(space) and trials < TRIALS_PER_DIMENSION * len(space):
            advice.append(
                Advice(
                    "wide-space",
                    "PB-10",
                    f"{plural(len(space), 'nuisance hyperparameter')} "
                    f"{'gets' if len(space) == 1 else 'get'} {plural(trials, 'trial')}"
                    f"{_label(point)}; "
                    f"aim for at least {TRIALS_PER_DIMENSION * len(space)} trials or narrow "
                    "the space",
                )
            )
    return advice


def _shared_optimizer_hparams(design: ExperimentDesign) -> list[Advice]:
    optimizers = design.scientific.get("optimizer")
    if optimizers is None:
        return []
    shared = []
    for name in design.nuisance.names:
        if name not in OPTIMIZER_HPARAMS:
            continue
        overridden = {
            cond.value
            for cond in design.conditional
            if cond.scientific == "optimizer" and name in cond.space
        }
        if len(optimizers) - len(overridden) >= 2:  # the base range serves two or more
            shared.append(name)
    if not shared:
        return []
    return [
        Advice(
            "shared-optimizer-hparam",
            "PB-8",
            f"{', '.join(shared)} share one range across optimizers, but each optimizer's "
            "are different hyperparameters with different good ranges; give each its own "
            "under [nuisance.when.optimizer.NAME]",
        )
    ]


def _algorithm(design: ExperimentDesign) -> list[Advice]:
    if design.search.algorithm == "bayesian" and design.scientific:
        return [
            Advice(
                "bayesian-exploration",
                "PB-18",
                "Bayesian optimization is for exploitation once the space is refined; to "
                "compare scientific values, quasi-random search samples evenly and lets the "
                "review re-rank trials by any metric (PB-6, PB-29)",
            )
        ]
    if design.search.algorithm == "random" and design.search.layout == "combined":
        return [
            Advice(
                "combined-random",
                "PB-9",
                "a combined study must cover the scientific values evenly; quasi-random "
                "search does so more reliably than random search",
            )
        ]
    return []


def advise(design: ExperimentDesign, optimizer: str | None = None) -> list[Advice]:
    """All warnings for `design`; `optimizer` is the session's choice when the design has none."""
    return [
        *_batch_size(design),
        *_several_goals(design),
        *_shared_optimizer_hparams(design),
        *_adam_budget(design, optimizer),
        *_wide_space(design),
        *_algorithm(design),
    ]
