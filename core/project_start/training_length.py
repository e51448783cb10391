"""The training-length probe (PB-19): a constant-learning-rate sweep proposes `max_train_steps`.

Runs at `FACTORS` × the initial learning rate train for `steps` steps each, evaluating the
objective on the validation split and on a fixed subset of the training split. The
documented criterion: a run *fits the training set* at the first evaluation where its
training objective has come `1 − FIT_SHARE` (95%) of the way from chance level (the initial
configuration's baseline; without one, the worst first evaluation of the sweep) to the best
training value any run of the sweep reached. The proposal is the step at which the fastest
run fits. When the best learning rate (by validation objective) sits on the sweep's edge
(and no rate inside the sweep ties with it), the sweep is widened by half a decade on that
side, up to `MAX_WIDENINGS` times, and the summary says so: a sweep whose best is on its
edge does not bracket the best rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.probe import (
    TRAIN_UNIT,
    Points,
    ProbePlan,
    Unit,
    best_run,
    feasible_runs,
    lr_key,
    run_problem,
    steps_option,
    train_payload,
)
from tunebook.sessions import BadInput, DecisionKind, ProbeKind, Session

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload

FACTORS = (0.1, 10**-0.5, 1.0, 10**0.5, 10.0)
WIDEN = 10**0.5
MAX_WIDENINGS = 2
FIT_SHARE = 0.05
DEFAULT_STEPS = 1000
TRAIN_EXAMPLES = 1000  # the fixed training subset evaluated for the fit criterion


class TrainingLengthProbe(ProbePlan):
    """A constant-learning-rate sweep, read for how fast the training set is fit."""

    kind = ProbeKind.LEARNING_RATE
    name = "training-length"
    title = "Training length"
    playbook = ("PB-19",)
    decision = DecisionKind.MAX_TRAIN_STEPS

    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        steps = steps_option(options, DEFAULT_STEPS, 20)
        center = float(options.get("learning_rate") or project.learning_rate)
        if not center > 0:
            raise BadInput(f"--learning-rate must be positive, got {center}")
        chance = None
        initial = session.latest_probe(ProbeKind.INITIAL_CONFIG)
        if initial is not None and initial.status == "completed":
            chance = initial.summary.get("chance")
        return {
            "steps": steps,
            "eval_every": max(1, steps // 20),
            "learning_rates": [center * f for f in FACTORS],
            "hparams": project.hparams(),
            "mode": workload.objective.mode,
            "objective": workload.objective.metric,
            "chance": chance,
            "inputs": project.inputs(),
        }

    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        rates = list(config["learning_rates"])
        if all(lr_key(lr) in points for lr in rates):
            rates += _widened(config, points)
        return [self._unit(config, lr) for lr in rates]

    def _unit(self, config: Mapping[str, Any], lr: float) -> Unit:
        payload = train_payload(
            config,
            {**config["hparams"], "learning_rate": lr},
            max_train_steps=config["steps"],
            eval_every=config["eval_every"],
            eval_train_examples=TRAIN_EXAMPLES,
        )
        return Unit(lr_key(lr), TRAIN_UNIT, payload)

    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        return analyse_sweep(config, points)


def _runs(points: Points) -> list[dict[str, Any]]:
    runs = [{**p, "learning_rate": float(k.removeprefix("lr="))} for k, p in points.items()]
    return sorted(runs, key=lambda r: r["learning_rate"])


def _edge(runs: list[dict[str, Any]], best: Mapping[str, Any] | None) -> str | None:
    """`low` or `high` when the best objective is reached only at the sweep's lowest or
    highest learning rate; a rate inside the sweep that ties with it brackets the best."""
    if best is None or len(runs) < 2:
        return None
    inner = [r for r in feasible_runs(runs[1:-1]) if r["best_value"] == best["best_value"]]
    if inner:
        return None
    if best["learning_rate"] == runs[0]["learning_rate"]:
        return "low"
    if best["learning_rate"] == runs[-1]["learning_rate"]:
        return "high"
    return None


def _widened(config: Mapping[str, Any], points: Points) -> list[float]:
    """The learning rates added beyond an edge so far, plus the next one if still needed."""
    base = {lr_key(lr) for lr in config["learning_rates"]}
    added = [r["learning_rate"] for r in _runs(points) if lr_key(r["learning_rate"]) not in base]
    runs = _runs(points)
    edge = _edge(runs, best_run(runs, config["mode"]))
    if edge is None or len(added) >= MAX_WIDENINGS:
        return added
    nxt = runs[0]["learning_rate"] / WIDEN if edge == "low" else runs[-1]["learning_rate"] * WIDEN
    return [*added, nxt]


def fit_step(train: list[list[float | None]], threshold: float, mode: str) -> int | None:
    """The first evaluation step at which the training objective reaches `threshold`."""
    for step, value in train:
        if value is not None and (value <= threshold if mode == "min" else value >= threshold):
            return int(step)
    return None


def analyse_sweep(config: Mapping[str, Any], points: Points) -> dict[str, Any]:
    """Best learning rate, edge warnings, each run's fit step and the proposed budget."""
    mode, steps = config["mode"], config["steps"]
    runs = _runs(points)
    best = best_run(runs, mode)
    trains = [v for r in runs for _, v in r.get("train", []) if v is not None and math.isfinite(v)]
    warnings: list[str] = []
    threshold = None
    if trains:
        best_train = min(trains) if mode == "min" else max(trains)
        firsts = [r["train"][0][1] for r in runs if r.get("train") and r["train"][0][1] is not None]
        reference = config.get("chance")
        if reference is None and firsts:
            reference = max(firsts) if mode == "min" else min(firsts)
        if reference is not None:
            threshold = best_train + FIT_SHARE * (reference - best_train)
    rows = []
    for run in runs:
        fit = None if threshold is None else fit_step(run.get("train", []), threshold, mode)
        rows.append(
            {
                "learning_rate": run["learning_rate"],
                "status": run.get("status"),
                "best_value": run.get("best_value"),
                "best_step": run.get("best_step"),
                "final_value": run.get("final_value"),
                "fit_step": fit if run.get("status") == "completed" else None,
                "reason": run_problem(run) if run.get("status") != "completed" else "",
            }
        )
    warnings += [
        f"learning rate {r['learning_rate']:.3g} failed: {r['reason']}"
        for r in rows
        if r["status"] == "failed"
    ]
    edge = _edge(runs, best)
    base = {lr_key(lr) for lr in config["learning_rates"]}
    widened = [r["learning_rate"] for r in rows if lr_key(r["learning_rate"]) not in base]
    if widened:
        warnings.append(
            "the best learning rate was on the sweep's edge, so the sweep was widened to "
            + ", ".join(f"{lr:.3g}" for lr in widened)
        )
    if edge is not None:
        warnings.append(
            f"the best learning rate ({best['learning_rate']:.3g}) is still the sweep's "
            f"{'lowest' if edge == 'low' else 'highest'}: the sweep does not bracket the best "
            "rate; widen it with --learning-rate (PB-19)"
        )
    fits = [r for r in rows if r["fit_step"] is not None]
    recommendation = None
    fastest = min(fits, key=lambda r: (r["fit_step"], r["learning_rate"])) if fits else None
    if fastest is None:
        if rows:
            warnings.append(
                f"no run fit the training set within {steps} steps: training may need more "
                "steps than the sweep ran; sweep longer with --steps (PB-19, PB-20)"
            )
    else:
        proposed = fastest["fit_step"]
        why = (
            f"learning rate {fastest['learning_rate']:.3g} fit the training set fastest, at step "
            f"{proposed} of {steps} (training {config['objective']} {1 - FIT_SHARE:.0%} of the "
            "way from chance to the sweep's best fit)"
        )
        if proposed >= steps:
            warnings.append(
                "the fastest run fit the training set only at the sweep's last evaluation: the "
                "proposal may be short; sweep longer with --steps to be sure"
            )
        recommendation = {"value": proposed, "rationale": why}
    return {
        "rows": rows,
        "best_learning_rate": None if best is None else best["learning_rate"],
        "edge": edge,
        "fit_threshold": threshold,
        "fastest_learning_rate": None if fastest is None else fastest["learning_rate"],
        "recommendation": recommendation,
        "warnings": warnings,
        "objective": config["objective"],
        "mode": mode,
        "steps": steps,
    }
