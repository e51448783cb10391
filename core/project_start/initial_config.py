"""The initial configuration (PB-4): simple, fast, and clearly better than chance.

A constant learning rate, no extras (no schedule, warmup, clipping), the model decided in
the model step. The probe computes a chance-level baseline from the data (the majority
class's error, a mean predictor's squared error, a language model's unigram entropy), trains
short runs at the current learning rate and a factor of `SPREAD` either side, and checks
that the best of them clearly beats chance: its objective is at least `CLEAR_MARGIN` (10%)
of the chance value better. It also estimates the time per trial from the batch-size
probe's time per step, which `experiment add` uses for its cost estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.batch_size import seconds_per_step
from tunebook.core.project_start.probe import (
    CHANCE_UNIT,
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
from tunebook.sessions import DecisionKind, ProbeKind, Session

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload

SPREAD = 10.0
CLEAR_MARGIN = 0.1
DEFAULT_STEPS = 200


class InitialConfigProbe(ProbePlan):
    """Short constant-learning-rate runs against a chance-level baseline."""

    kind = ProbeKind.INITIAL_CONFIG
    name = "initial-config"
    title = "Initial configuration"
    playbook = ("PB-4",)
    decision = DecisionKind.INITIAL_CONFIG

    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        steps = steps_option(options, DEFAULT_STEPS, 10)
        probe = session.latest_probe(ProbeKind.BATCH_SIZE)
        step_seconds = None
        if probe is not None and probe.status == "completed":
            step_seconds = seconds_per_step(probe.summary, project.batch_size)
        lr = float(options.get("learning_rate") or project.learning_rate)
        return {
            "steps": steps,
            "eval_every": max(1, steps // 10),
            "learning_rates": [lr / SPREAD, lr, lr * SPREAD],
            "hparams": project.hparams(),
            "objective": workload.objective.metric,
            "mode": workload.objective.mode,
            "max_train_steps": project.max_train_steps,
            "probed_seconds_per_step": step_seconds,
            "inputs": project.inputs(),
        }

    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        units = [Unit("chance", CHANCE_UNIT, train_payload(config, {}))]
        for lr in config["learning_rates"]:
            payload = train_payload(
                config,
                {**config["hparams"], "learning_rate": lr},
                max_train_steps=config["steps"],
                eval_every=config["eval_every"],
            )
            units.append(Unit(lr_key(lr), TRAIN_UNIT, payload))
        return units

    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        chance = points.get("chance", {}).get("chance")
        mode = config["mode"]
        runs = [
            {"learning_rate": lr, **points[lr_key(lr)]}
            for lr in config["learning_rates"]
            if lr_key(lr) in points
        ]
        feasible = feasible_runs(runs)
        warnings = [
            f"learning rate {r['learning_rate']:.3g} {r['status']}: {run_problem(r)}"
            for r in runs
            if r.get("status") != "completed"
        ]
        best = best_run(runs, mode)
        beats = None
        if best is not None and chance is not None:
            target = chance * (1 - CLEAR_MARGIN) if mode == "min" else chance * (1 + CLEAR_MARGIN)
            beats = best["best_value"] <= target if mode == "min" else best["best_value"] >= target
            if not beats:
                warnings.append(
                    f"the best short run ({best['best_value']:.4g}) does not clearly beat chance "
                    f"({chance:.4g}): check the data and the model before tuning (PB-4)"
                )
        elif chance is None:
            warnings.append("no chance level is known for this objective: judge the runs by eye")
        estimate = _trial_seconds(config, best)
        recommendation = None
        if best is not None:
            lr = best["learning_rate"]
            why = f"constant learning rate {lr:.3g}, the best of {len(feasible)} short runs"
            if chance is not None:
                why += (
                    f": {config['objective']} {best['best_value']:.4g} against chance {chance:.4g}"
                )
            recommendation = {
                "value": {"learning_rate": lr, "schedule": "constant"},
                "rationale": why,
            }
        return {
            "chance": chance,
            "objective": config["objective"],
            "mode": mode,
            "runs": [_run_row(r) for r in runs],
            "best_learning_rate": None if best is None else best["learning_rate"],
            "best_value": None if best is None else best["best_value"],
            "beats_chance": beats,
            "seconds_per_step": estimate["seconds_per_step"],
            "seconds_per_trial": estimate["seconds_per_trial"],
            "trial_steps": estimate["steps"],
            "recommendation": recommendation,
            "warnings": warnings,
        }


def _run_row(run: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "learning_rate",
        "status",
        "best_value",
        "best_step",
        "final_value",
        "seconds_per_step",
        "wall_seconds",
        "steps",
        "validation",
        "loss",
    )
    return {k: run.get(k) for k in keep}


def _trial_seconds(config: Mapping[str, Any], best: Mapping[str, Any] | None) -> dict[str, Any]:
    """Seconds per training step (the batch-size probe's at this size, else this probe's)
    plus the evaluation overhead this probe measured, times the step budget."""
    steps = config.get("max_train_steps") or config["steps"]
    if best is None or not best.get("steps"):
        return {
            "seconds_per_step": config.get("probed_seconds_per_step"),
            "seconds_per_trial": None,
            "steps": steps,
        }
    measured = best.get("seconds_per_step") or 0.0
    overhead = max(0.0, best.get("wall_seconds", 0.0) / best["steps"] - measured)
    per_step = (config.get("probed_seconds_per_step") or measured) + overhead
    return {"seconds_per_step": per_step, "seconds_per_trial": per_step * steps, "steps": steps}
