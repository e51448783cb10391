"""Promote to a longer round (PB-20): the best configurations again, with more steps.

Compute-bound tuning runs in rounds of growing step limits: many short trials first, then
a few long ones. `plan_promotion` takes the `top` best feasible trials of each study of a
finished experiment, scales the step budget (and the evaluation and checkpoint cadence
with it, so a trial is evaluated about as often as before) and extends each trial's
learning-rate schedule by PB-20's rule, which keeps the decay's shape:

- **linear**: the constant part grows; the decay starts later by the added steps and keeps
  its length (`extend_linear`);
- **cosine**: the base rate and warmup stay, the decay stretches to the new end
  (`extend_cosine`);
- **constant**: unchanged. Warmup is kept in steps in every case.

`promotion_spec` writes the plan as an experiment spec with a ``listed`` search (the
configurations, not a search over a space), which `add_experiment_from_dict` stores like
any other. Importing this module needs no torch; planning loads the schedule rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tunebook.core.analysis.study import load_experiment
from tunebook.core.search.space import (
    Categorical,
    Discrete,
    Float,
    Int,
    dimension_from_dict,
    is_number,
    same_value,
)
from tunebook.sessions import BadInput, Session
from tunebook.sessions.report import trained_hparams
from tunebook.sessions.text import plural

if TYPE_CHECKING:
    from tunebook.core.training.schedules import Schedule

#: How many times longer the next round's trials are unless told otherwise.
DEFAULT_FACTOR = 2.0
#: Best trials per study promoted unless told otherwise.
DEFAULT_TOP = 3
#: The cadences scaled with the step budget (when the experiment sets them).
CADENCES = ("eval_every", "checkpoint_every")
#: The schedule hyperparameter an extension changes (a linear decay's start).
DECAY_START = "decay_start"


@dataclass(frozen=True)
class PromotedTrial:
    """One configuration of the longer round: where it comes from and what changes."""

    study: str
    #: Its place in its study (1 is best) and its objective at the old step budget.
    rank: int
    trial: int
    value: float
    #: Every hyperparameter the trial set (its study's fixed values and its own point),
    #: with the extended schedule's `decay_start` where the extension moves it.
    hparams: Mapping[str, Any]
    #: Every hyperparameter it trained with (defaults included when the session recorded
    #: them), with the extended schedule.
    trained: Mapping[str, Any]
    #: The values of the experiment's scientific and nuisance hyperparameters, to show.
    scientific: Mapping[str, Any]
    nuisance: Mapping[str, Any]
    schedule_before: Schedule
    schedule_after: Schedule


@dataclass(frozen=True)
class Promotion:
    """The longer round `plan_promotion` proposes for a finished experiment (PB-20)."""

    source: str
    steps_before: int
    steps_after: int
    #: eval_every / checkpoint_every before and after, for those the experiment sets.
    cadence_before: Mapping[str, int]
    cadence_after: Mapping[str, int]
    #: The metric and direction the experiment's studies ranked by.
    objective: tuple[str, str]
    top: int
    trials: tuple[PromotedTrial, ...]
    #: The experiment's design as stored (its fixed, scientific and nuisance tables).
    design: Mapping[str, Any]

    @property
    def factor(self) -> float:
        """How many times longer the promoted trials run."""
        return self.steps_after / self.steps_before


def promoted_steps(steps_before: int, factor: float | None = None, steps: int | None = None) -> int:
    """The new step budget: `steps` when given, else `steps_before` × `factor` rounded;
    BadInput when it does not grow."""
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps <= steps_before:
            raise BadInput(
                f"--steps must be more than the experiment's {steps_before} steps, got {steps}"
            )
        return steps
    factor = DEFAULT_FACTOR if factor is None else factor
    if not (isinstance(factor, (int, float)) and math.isfinite(factor)) or factor <= 1:
        raise BadInput(f"the factor must be a number above 1 (a longer round), got {factor}")
    new = round(steps_before * factor)
    if new <= steps_before:
        raise BadInput(
            f"a factor of {factor:g} gives {new} steps, no more than the experiment's "
            f"{steps_before}; use a larger factor"
        )
    return new


def extended(schedule: Schedule, new_max_steps: int) -> Schedule:
    """PB-20's extension of `schedule` to `new_max_steps`, by its kind."""
    from tunebook.core.training.schedules import extend_cosine, extend_linear

    if schedule.kind == "linear":
        return extend_linear(schedule, new_max_steps)
    if schedule.kind == "cosine":
        return extend_cosine(schedule, new_max_steps)
    return replace(schedule, max_steps=new_max_steps)


def schedule_change(before: Schedule, after: Schedule) -> str:
    """A schedule and its extension in a few words, e.g.
    ``linear, warmup 5, decay 60–100 → 160–200`` or ``constant``."""
    parts = [before.kind]
    if before.warmup_steps:
        parts.append(f"warmup {before.warmup_steps}")
    if before.kind != "constant":
        old = f"{max(before.decay_start, before.warmup_steps)}–{before.max_steps}"
        new = f"{max(after.decay_start, after.warmup_steps)}–{after.max_steps}"
        parts.append(f"decay {old} → {new}")
    return ", ".join(parts)


def values_text(values: Mapping[str, Any]) -> str:
    """``name=value`` pairs, numbers to 3 significant figures (the plan table's cells)."""
    return ", ".join(
        f"{k}={format(v, '.3g') if isinstance(v, float) else v}" for k, v in values.items()
    )


def budget_text(plan: Promotion) -> str:
    """The step budget and the cadences before → after, e.g.
    ``max_train_steps 100 → 200 (×2); eval_every 10 → 20``."""
    parts = [f"max_train_steps {plan.steps_before} → {plan.steps_after} (×{plan.factor:.3g})"]
    parts += [f"{k} {v} → {plan.cadence_after[k]}" for k, v in plan.cadence_before.items()]
    return "; ".join(parts)


def plan_columns(plan: Promotion) -> tuple[str, ...]:
    """The plan table's headers (`tunebook promote` and the app's Promotion screen)."""
    return (
        "rank",
        "trial",
        "scientific",
        "nuisance",
        f"{plan.objective[0]} @ {plan.steps_before}",
        "schedule",
    )


def plan_rows(plan: Promotion) -> list[tuple[str, ...]]:
    """One row of text per promoted trial, in the order of `plan_columns` (the rank is
    within the trial's study; a per-value study's scientific values name it)."""
    return [
        (
            str(t.rank),
            str(t.trial),
            values_text(t.scientific) or "—",
            values_text(t.nuisance) or "—",
            format(t.value, ".4g"),
            schedule_change(t.schedule_before, t.schedule_after),
        )
        for t in plan.trials
    ]


def plan_promotion(
    session: Session,
    experiment: str,
    *,
    factor: float | None = None,
    steps: int | None = None,
    top: int = DEFAULT_TOP,
) -> Promotion:
    """The longer round for experiment `experiment`: its studies' `top` best feasible
    trials with the step budget × `factor` (or `steps`) and their schedules extended.

    BadInput, in one sentence, for an unknown experiment, unfinished trials, no feasible
    trial, `top` below 1, or a step budget that does not grow.
    """
    from tunebook.core.training.schedules import Schedule

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise BadInput(f"--top must be at least 1, got {top}")
    views = load_experiment(session, experiment)
    unfinished = sum(len(v.trials) - len(v.finished) for v in views)
    if unfinished:
        raise BadInput(
            f"experiment '{experiment}' has {plural(unfinished, 'unfinished trial')}; promote "
            "it once every trial has finished"
        )
    if not any(view.feasible for view in views):
        raise BadInput(
            f"experiment '{experiment}' has no feasible trial (completed with a finite "
            "objective) to promote"
        )
    source = views[0].experiment
    design = source.design
    before = source.max_train_steps
    after = promoted_steps(before, factor, steps)
    training = design.get("training", {})
    cadence_before = {k: int(training[k]) for k in CADENCES if training.get(k) is not None}
    cadence_after = {
        k: min(after, max(1, round(v * after / before))) for k, v in cadence_before.items()
    }
    scientific = list(design.get("scientific", {}))
    nuisance = [name for name in _dimension_candidates(design) if name not in scientific]
    promoted: list[PromotedTrial] = []
    for view in views:
        for rank, trial in enumerate(view.ranked()[:top], start=1):
            given = {**view.study.fixed, **trial.params}
            trained, _ = trained_hparams(source, view.study, trial)
            old = Schedule.from_hparams(trained, before)
            new = extended(old, after)
            hparams = dict(given)
            if new.decay_start != old.decay_start:
                hparams[DECAY_START] = trained[DECAY_START] = new.decay_start
            promoted.append(
                PromotedTrial(
                    study=view.study.name,
                    rank=rank,
                    trial=trial.id,
                    value=float(trial.best_value),
                    hparams=hparams,
                    trained=trained,
                    scientific={k: trained.get(k) for k in scientific},
                    nuisance={k: trained.get(k) for k in nuisance},
                    schedule_before=old,
                    schedule_after=new,
                )
            )
    return Promotion(
        source=source.name,
        steps_before=before,
        steps_after=after,
        cadence_before=cadence_before,
        cadence_after=cadence_after,
        objective=(views[0].metric, views[0].mode),
        top=top,
        trials=tuple(promoted),
        design=design,
    )


def promotion_spec(plan: Promotion, name: str | None = None) -> dict[str, Any]:
    """The plan as an experiment spec (the TOML spec's shape) with a ``listed`` search,
    ready for `add_experiment_from_dict`; `name` defaults to `<source>-long`.

    Values the same in every point are [fixed]; the experiment's scientific
    hyperparameters that still vary stay scientific (with the values the points use); every
    other varying one is nuisance, declared as in the experiment (widened to hold every
    point, e.g. a linear decay's moved start).
    """
    points = _points(plan)
    names = list(points[0]) if points else []
    varying = [n for n in names if any(not same_value(p[n], points[0][n]) for p in points)]
    original_scientific = plan.design.get("scientific", {})
    fixed = {k: v for k, v in plan.design.get("fixed", {}).items() if k not in varying}
    fixed.update({n: points[0][n] for n in names if n not in varying})
    scientific: dict[str, list[Any]] = {}
    nuisance: dict[str, Any] = {}
    candidates = _dimension_candidates(plan.design)
    for n in varying:
        used = [p[n] for p in points]
        if n in original_scientific:
            scientific[n] = [
                v for v in original_scientific[n] if any(same_value(v, u) for u in used)
            ]
        else:
            nuisance[n] = _dimension(candidates.get(n, []), used)
    spec: dict[str, Any] = {
        "name": name or f"{plan.source}-long",
        "goal": (
            f"Confirm the best {plural(plan.top, 'configuration')} per study of "
            f"'{plan.source}' over {plan.steps_after} steps instead of {plan.steps_before} "
            "(PB-20: a longer round, schedules extended)"
        ),
        "max_train_steps": plan.steps_after,
        **plan.cadence_after,
        "fixed": fixed,
        "scientific": scientific,
        "nuisance": nuisance,
        "search": {
            "algorithm": "listed",
            "layout": "combined",
            "points": [{n: p[n] for n in varying} for p in points],
        },
        "objective": {"metric": plan.objective[0], "mode": plan.objective[1]},
    }
    return spec


def _points(plan: Promotion) -> list[dict[str, Any]]:
    """Each promoted trial's hyperparameters over the union of the names any of them set
    (a name another trial left out takes that trial's default); a repeat is dropped."""
    names: list[str] = []
    for t in plan.trials:
        names.extend(n for n in t.hparams if n not in names)
    points: list[dict[str, Any]] = []
    for t in plan.trials:
        missing = [n for n in names if n not in t.hparams and n not in t.trained]
        if missing:
            raise BadInput(
                f"trial {t.trial} has no recorded value for {missing[0]!r}, which other "
                "promoted trials set (the session predates recorded defaults)"
            )
        point = {n: t.hparams[n] if n in t.hparams else t.trained[n] for n in names}
        if not any(all(same_value(point[n], q[n]) for n in names) for q in points):
            points.append(point)
    return points


def _dimension_candidates(design: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each nuisance name of the design with the dimensions declared for it: the base
    table's first, then those of its [nuisance.when] tables."""
    tables = dict(design.get("nuisance", {}))
    when = tables.pop("when", {})
    found: dict[str, list[Any]] = {n: [dimension_from_dict(t)] for n, t in tables.items()}
    for by_value in when.values():
        for space in by_value.values():
            for n, t in space.items():
                found.setdefault(n, []).append(dimension_from_dict(t))
    return found


def _dimension(candidates: Sequence[Any], values: Sequence[Any]) -> dict[str, Any]:
    """The spec table of a dimension holding every value: the first declared one that
    does, else the smallest range or set that holds them and the declared ones."""
    for dim in candidates:
        if all(dim.contains(v) for v in values):
            return dim.to_dict()
    numbers = [v for v in values if is_number(v)]
    ranges = [d for d in candidates if isinstance(d, (Float, Int))]
    if len(numbers) == len(values) and len(ranges) == len(candidates):
        low = min([*numbers, *(d.low for d in ranges)])
        high = max([*numbers, *(d.high for d in ranges)])
        integral = all(isinstance(d, Int) for d in ranges) and all(
            float(v).is_integer() for v in numbers
        )
        log = bool(ranges) and all(d.scale == "log" for d in ranges) and low > 0
        table: dict[str, Any] = (
            {"low": int(low), "high": int(high)}
            if integral
            else {
                "low": float(low),
                "high": float(high),
            }
        )
        table["scale"] = "log" if log else "linear"
        if integral:
            table["type"] = "int"
        return table
    kept: list[Any] = []
    for v in [
        *(v for d in candidates if isinstance(d, (Discrete, Categorical)) for v in d.values),
        *values,
    ]:
        if not any(same_value(v, k) for k in kept):
            kept.append(v)
    return {"values": kept}
