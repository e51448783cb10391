"""Promotion to a longer round (PB-20) on constructed experiments with known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.analysis.sessions import LR, finished, per_value_experiment
from tunebook.core.design import design_from_dict
from tunebook.core.design.promotion import (
    Promotion,
    plan_promotion,
    plan_rows,
    promotion_spec,
    schedule_change,
)
from tunebook.sessions import BadInput, Session, TrialStatus

TRAINING = {"eval_every": 10, "checkpoint_every": 50}


def _experiment(
    path: Path, fixed: dict[str, Any], points: list[tuple[dict[str, Any], float]]
) -> None:
    """One study of 100 steps over `points` ((params, objective)); `fixed` holds the rest."""
    space = {"learning_rate": LR, "schedule": {"values": ["linear", "cosine"]}}
    design = {
        "fixed": fixed,
        "scientific": {},
        "nuisance": space,
        "training": TRAINING,
    }
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("short", "Which learning rate?", design, 100)
        study = session.add_study(
            experiment.id, "short", {"space": space}, "quasi-random", 8, 0, "error", "min", fixed
        )
        for params, value in points:
            finished(session, study.id, params, best=value)


def _plan(path: Path, **options: Any) -> Promotion:
    with Session.open(path, read_only=True) as session:
        return plan_promotion(session, "short", **options)


def test_a_linear_decay_starts_later_by_exactly_the_added_steps(tmp_path: Path) -> None:
    path = tmp_path / "s.tunebook"
    fixed = {"schedule": "linear", "warmup_steps": 5, "decay_start": 60, "depth": 2}
    _experiment(
        path,
        fixed,
        [({"learning_rate": lr}, v) for lr, v in ((1e-3, 0.3), (3e-3, 0.1), (1e-2, 0.2))],
    )
    plan = _plan(path, top=2)
    assert (plan.steps_before, plan.steps_after, plan.factor) == (100, 200, 2.0)
    assert plan.cadence_after == {"eval_every": 20, "checkpoint_every": 100}
    assert [(t.rank, t.value) for t in plan.trials] == [(1, 0.1), (2, 0.2)]
    for trial in plan.trials:
        before, after = trial.schedule_before, trial.schedule_after
        assert after.decay_start - before.decay_start == 100
        assert (after.warmup_steps, after.max_steps) == (5, 200)
        # The decay keeps its length: the last 40 steps decay in both rounds.
        assert before.lr(100, 1.0) == after.lr(200, 1.0)
        assert before.lr(80, 1.0) == pytest.approx(after.lr(180, 1.0))
    first = plan.trials[0]
    assert schedule_change(first.schedule_before, first.schedule_after) == (
        "linear, warmup 5, decay 60–100 → 160–200"
    )
    assert plan_rows(plan)[0] == (
        "1",
        str(first.trial),
        "—",
        "learning_rate=0.003, schedule=linear",
        "0.1",
        "linear, warmup 5, decay 60–100 → 160–200",
    )
    spec = promotion_spec(plan)
    assert spec["name"] == "short-long" and spec["max_train_steps"] == 200
    assert spec["eval_every"] == 20 and spec["checkpoint_every"] == 100
    # Everything but the learning rate is the same in both points: fixed, decay moved.
    assert spec["fixed"] == {**fixed, "decay_start": 160}
    assert spec["scientific"] == {}
    assert spec["nuisance"] == {"learning_rate": LR}
    assert spec["search"]["points"] == [{"learning_rate": 3e-3}, {"learning_rate": 1e-2}]
    design = design_from_dict(spec)
    assert design.search.algorithm == "listed" and design.search.trials == 2


def test_a_cosine_schedule_changes_only_its_length(tmp_path: Path) -> None:
    path = tmp_path / "s.tunebook"
    fixed = {"schedule": "cosine", "warmup_steps": 10, "decay_start": 0}
    _experiment(path, fixed, [({"learning_rate": 1e-3}, 0.3), ({"learning_rate": 3e-3}, 0.1)])
    plan = _plan(path, steps=350)
    for trial in plan.trials:
        before, after = trial.schedule_before, trial.schedule_after
        assert (after.kind, after.warmup_steps, after.decay_start) == ("cosine", 10, 0)
        assert (before.max_steps, after.max_steps) == (100, 350)
        assert "decay_start" not in trial.hparams or trial.hparams["decay_start"] == 0
    spec = promotion_spec(plan, name="long")
    assert spec["name"] == "long" and spec["fixed"] == fixed
    assert spec["eval_every"] == 35 and spec["max_train_steps"] == 350


def test_mixed_schedules_move_only_the_linear_decay(tmp_path: Path) -> None:
    path = tmp_path / "s.tunebook"
    points = [
        ({"learning_rate": 1e-3, "schedule": "linear"}, 0.1),
        ({"learning_rate": 2e-3, "schedule": "cosine"}, 0.2),
        ({"learning_rate": 3e-3, "schedule": "linear"}, 0.9),
    ]
    _experiment(path, {"decay_start": 50}, points)
    plan = _plan(path, factor=3)
    assert [t.schedule_after.decay_start for t in plan.trials] == [250, 50, 250]
    spec = promotion_spec(plan)
    assert "decay_start" not in spec["fixed"]
    assert spec["nuisance"]["decay_start"] == {
        "low": 50,
        "high": 250,
        "scale": "linear",
        "type": "int",
    }
    assert [p["decay_start"] for p in spec["search"]["points"]] == [250, 50, 250]
    assert design_from_dict(spec).search.trials == 3


def test_the_top_trials_of_each_study_are_promoted(tmp_path: Path) -> None:
    path, bests = per_value_experiment(tmp_path / "s.tunebook")
    with Session.open(path, read_only=True) as session:
        plan = plan_promotion(session, "depth", top=2)
    expected = []
    for depth, pairs in bests.items():
        ranked = sorted((v, t) for t, v in pairs if v is not None)[:2]
        expected += [(f"depth={depth}", rank, t) for rank, (_, t) in enumerate(ranked, 1)]
    assert [(t.study, t.rank, t.trial) for t in plan.trials] == expected
    assert [t.scientific["depth"] for t in plan.trials] == [1, 1, 2, 2, 3, 3]
    spec = promotion_spec(plan)
    assert spec["scientific"] == {"depth": [1, 2, 3]}
    assert [(p["depth"], p["learning_rate"]) for p in spec["search"]["points"]] == [
        (1, 2e-3),
        (1, 1e-3),
        (2, 1e-3),
        (2, 3e-3),
        (3, 1e-3),
        (3, 3e-3),
    ]
    design_from_dict(spec)


def test_refusals_are_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "s.tunebook"
    _experiment(path, {}, [({"learning_rate": 1e-3}, 0.3)])
    with pytest.raises(BadInput, match="factor must be a number above 1"):
        _plan(path, factor=1.0)
    with pytest.raises(BadInput, match=r"a factor of 1\.001 gives 100 steps"):
        _plan(path, factor=1.001)
    with pytest.raises(BadInput, match="--steps must be more than the experiment's 100 steps"):
        _plan(path, steps=100)
    with (
        pytest.raises(BadInput, match="no experiment 'nope'"),
        Session.open(path, read_only=True) as session,
    ):
        plan_promotion(session, "nope")
    with Session.open(path) as session:
        study = session.studies()[0]
        finished(session, study.id, {"learning_rate": 1e-2}, TrialStatus.INFEASIBLE)
        session.add_trial(study.id, {"learning_rate": 2e-3}, 1, 2)
        with pytest.raises(BadInput, match="has 1 unfinished trial; promote it once"):
            plan_promotion(session, "short")
    other = tmp_path / "t.tunebook"
    _experiment(other, {}, [])
    with pytest.raises(BadInput, match="has no feasible trial"):
        _plan(other)
