"""The probes' rules on hand-made points: each number chosen to sit on one side of a rule."""

from __future__ import annotations

from typing import Any

from tunebook.core.project_start.batch_size import BatchSizeProbe, analyse_batch_sizes
from tunebook.core.project_start.probe import lr_key
from tunebook.core.project_start.stability import analyse_stability, instability
from tunebook.core.project_start.training_length import (
    TrainingLengthProbe,
    analyse_sweep,
    fit_step,
)


def size(batch: int, per_second: float, status: str = "ok", **extra: Any) -> dict[str, Any]:
    """One batch-size point."""
    return {
        "batch_size": batch,
        "status": status,
        "examples_per_second": per_second,
        "seconds_per_step": batch / per_second,
        "spread": 0.05,
        "data_share": 0.0,
        **extra,
    }


def test_batch_size_rule_gains_saturation_and_ceiling() -> None:
    """×2.0 and ×1.5 gains count (1.5 is below nearly doubling), ×1.05 does not: the
    recommendation is 64, saturation starts at 64, the out-of-memory point is the ceiling."""
    measured = [
        size(16, 100.0),
        size(32, 200.0),
        size(64, 300.0),
        size(128, 315.0),
        {"batch_size": 256, "status": "out_of_memory", "error": "peak memory too high"},
    ]
    summary = analyse_batch_sizes(measured, {"device": "cpu"})
    assert summary["recommendation"]["value"] == 64
    assert summary["saturates_at"] == 64
    assert summary["ceiling"] == {
        "batch_size": 256,
        "status": "out_of_memory",
        "reason": "peak memory too high",
    }
    assert [round(r["gain"], 2) if r["gain"] else None for r in summary["rows"]] == [
        None,
        2.0,
        1.5,
        1.05,
    ]


def test_batch_size_plan_stops_after_two_doublings_without_gain() -> None:
    """Sizes follow one another until two doublings in a row gain less than ×1.1."""
    config = {"start": 16, "max_size": 1024, "hparams": {}, "memory_budget_mb": None}
    config |= {"min_steps": 1, "min_seconds": 0.0, "max_steps": 1}
    config |= {"workload": "w.py:W", "workload_config": {}}
    plan = BatchSizeProbe()
    points = {"b16": size(16, 100.0), "b32": size(32, 190.0), "b64": size(64, 200.0)}
    assert [u.key for u in plan.next_units(config, points)] == ["b128"]
    points["b128"] = size(128, 205.0)
    assert plan.next_units(config, points) == []


def sweep_run(curve: list[float], best: float) -> dict[str, Any]:
    """One completed sweep run: its training error at steps 10, 20, … and its best value."""
    return {
        "status": "completed",
        "best_value": best,
        "train": [[10 * (i + 1), v] for i, v in enumerate(curve)],
    }


def sweep_config(rates: list[float]) -> dict[str, Any]:
    """A training-length probe's settings around `rates` (chance 0.5 error)."""
    return {
        "steps": 100,
        "eval_every": 10,
        "learning_rates": rates,
        "hparams": {},
        "mode": "min",
        "objective": "error",
        "chance": 0.5,
        "workload": "w.py:W",
        "workload_config": {},
    }


def test_fit_step_is_the_first_evaluation_past_the_threshold() -> None:
    """The first step whose value is on the good side of the threshold, by mode."""
    curve = [[10, 0.4], [20, None], [30, 0.1], [40, 0.05]]
    assert fit_step(curve, 0.1, "min") == 30
    assert fit_step(curve, 0.01, "min") is None
    assert fit_step([[10, 0.2], [20, 0.9]], 0.8, "max") == 20


def test_sweep_proposes_the_fastest_fit_and_brackets_the_best_rate() -> None:
    """Threshold = best 0 + 5% of (chance 0.5 − 0) = 0.025: the middle rate reaches it at
    step 20, before the others; its validation objective is the best, inside the sweep."""
    rates = [0.01, 0.1, 1.0]
    points = {
        lr_key(0.01): sweep_run([0.4, 0.3, 0.2, 0.1, 0.02], 0.2),
        lr_key(0.1): sweep_run([0.1, 0.0, 0.0], 0.05),
        lr_key(1.0): sweep_run([0.3, 0.1, 0.02], 0.1),
    }
    summary = analyse_sweep(sweep_config(rates), points)
    assert summary["fit_threshold"] == 0.025
    assert {r["learning_rate"]: r["fit_step"] for r in summary["rows"]} == {
        0.01: 50,
        0.1: 20,
        1.0: 30,
    }
    assert summary["recommendation"]["value"] == 20
    assert summary["best_learning_rate"] == 0.1 and summary["edge"] is None
    assert TrainingLengthProbe().next_units(sweep_config(rates), points)[-1].key == lr_key(1.0)


def test_sweep_widens_past_an_edge_at_most_twice() -> None:
    """The best rate on the high edge adds √10× the highest rate, then again, then stops
    (the summary still warns); a tie with a rate inside the sweep is no edge at all."""
    rates = [0.01, 0.1, 1.0]
    config, plan = sweep_config(rates), TrainingLengthProbe()
    points = {lr_key(r): sweep_run([0.1], v) for r, v in zip(rates, [0.3, 0.2, 0.1])}
    keys = [u.key for u in plan.next_units(config, points)]
    assert keys[3:] == [lr_key(10**0.5)]
    points[lr_key(10**0.5)] = sweep_run([0.1], 0.05)
    widened = [u.key for u in plan.next_units(config, points)][3:]
    assert widened[0] == lr_key(10**0.5) and widened[1].startswith("lr=9.99")  # ≈ 10
    points[widened[1]] = sweep_run([0.1], 0.01)
    assert [u.key for u in plan.next_units(config, points)][3:] == widened
    summary = analyse_sweep(config, points)
    assert summary["edge"] == "high"
    assert any("widened" in w for w in summary["warnings"])
    assert any("still the sweep's highest" in w for w in summary["warnings"])

    tied = {lr_key(r): sweep_run([0.1], v) for r, v in zip(rates, [0.0, 0.0, 0.0])}
    assert [u.key for u in plan.next_units(config, tied)] == [lr_key(r) for r in rates]
    assert analyse_sweep(config, tied)["edge"] is None


def test_instability_rule() -> None:
    """Above 1.5× the first loss, a non-finite loss, or a failed run is unstable; a loss
    that stays at or under 1.5× its first value is stable."""
    assert instability({"status": "completed", "loss": [1.0, 1.5, 0.5]}) is None
    assert instability({"status": "completed", "loss": [1.0, 0.9, 1.6]})["step"] == 3
    assert instability({"status": "infeasible", "loss": [1.0, None]})["step"] == 2
    assert instability({"status": "failed", "error": "boom"}) == {"step": None, "why": "boom"}


def test_stability_proposes_the_shortest_stable_warmup() -> None:
    """The 2× run spikes at step 2 of 100 (early); warmup 10 is still unstable, 100 is not."""
    config = {
        "best_learning_rate": 0.1,
        "rate": 0.2,
        "steps": 100,
        "max_train_steps": 1000,
        "warmups": [10, 100],
        "sweep_grad_norms": [float(n) for n in range(1, 11)],
    }
    points = {
        "2x": {"status": "completed", "loss": [1.0, 2.0, 0.5], "grad_norm": [1.0, 20.0, 30.0]},
        "warmup=10": {"status": "completed", "loss": [1.0, 1.2, 1.6]},
        "warmup=100": {"status": "completed", "loss": [1.0, 0.9, 0.8]},
    }
    summary = analyse_stability(config, points)
    assert summary["unstable_at"] == 2 and summary["phase"] == "early"
    assert summary["stable_warmup"] == 100
    assert summary["recommendation"]["value"] == {"warmup_steps": 100, "grad_clip": None}
    assert round(summary["clip_threshold"], 2) == 9.1  # 90th percentile of 1 … 10
    assert summary["clipped_share"] == 2 / 3
    assert any("clip" in w for w in summary["warnings"])
