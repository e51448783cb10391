"""Study layouts (PB-9): one study per scientific value, or one combined study with coverage."""

from __future__ import annotations

import math

import pytest

from tunebook.core.design import (
    ExperimentDesign,
    StudyPlan,
    coverage,
    design_from_dict,
    plan_studies,
)
from tunebook.core.search import Categorical, Float, SearchSpace
from tunebook.sessions.errors import BadInput

OPTIMIZERS = {
    "name": "opt",
    "goal": "Nesterov or Adam?",
    "fixed": {"batch_size": 128},
    "scientific": {"optimizer": ["adam", "nesterov"]},
    "nuisance": {
        "weight_decay": {"low": 1e-6, "high": 1e-3, "scale": "log"},
        "when": {
            "optimizer": {
                "adam": {"learning_rate": {"low": 1e-4, "high": 1e-2, "scale": "log"}},
                "nesterov": {
                    "learning_rate": {"low": 1e-2, "high": 1.0, "scale": "log"},
                    "one_minus_momentum": {"low": 1e-3, "high": 0.5, "scale": "log"},
                },
            }
        },
    },
    "search": {"trials": 12},
}


def design(**search) -> ExperimentDesign:
    return design_from_dict({**OPTIMIZERS, "search": {**OPTIMIZERS["search"], **search}})


def test_per_value_studies_search_their_own_conditional_space() -> None:
    adam, nesterov = plan_studies(design())
    assert (adam.name, nesterov.name) == ("optimizer=adam", "optimizer=nesterov")
    assert adam.space.names == ("weight_decay", "learning_rate")
    assert nesterov.space.names == ("weight_decay", "learning_rate", "one_minus_momentum")
    assert adam.trials == nesterov.trials == 12
    trial = nesterov.trial_hparams(0)
    assert trial["optimizer"] == "nesterov" and trial["batch_size"] == 128
    assert 1e-2 <= trial["learning_rate"] <= 1.0
    # Same seed: both studies try the same weight decays (a paired comparison).
    assert [adam.trial_hparams(i)["weight_decay"] for i in range(4)] == [
        nesterov.trial_hparams(i)["weight_decay"] for i in range(4)
    ]


def test_a_design_without_scientific_hparams_is_one_study() -> None:
    (plan,) = plan_studies(design_from_dict({**OPTIMIZERS, "scientific": {}, "nuisance": {}}))
    assert (plan.name, plan.scientific, len(plan.space)) == ("opt", {}, 0)


def test_combined_study_gives_conditional_hparams_their_own_coordinates() -> None:
    (plan,) = plan_studies(design(layout="combined", trials=16))
    assert plan.space.names == (
        "optimizer",
        "weight_decay",
        "learning_rate[optimizer=adam]",
        "learning_rate[optimizer=nesterov]",
        "one_minus_momentum[optimizer=nesterov]",
    )
    assert plan.space["optimizer"] == Categorical(("adam", "nesterov"))
    trials = [plan.trial_hparams(i) for i in range(16)]
    for trial in trials:
        if trial["optimizer"] == "adam":
            assert set(trial) == {"batch_size", "optimizer", "weight_decay", "learning_rate"}
            assert 1e-4 <= trial["learning_rate"] <= 1e-2
        else:
            assert "one_minus_momentum" in trial and 1e-2 <= trial["learning_rate"] <= 1.0
    counts = coverage(trials, design().scientific)["optimizer"]
    assert dict(counts.counts) == {"adam": 8, "nesterov": 8}
    assert counts.ratio == 1.0 and counts.p_value == pytest.approx(1.0)


def test_hparams_resolves_a_point_by_its_scientific_value() -> None:
    (plan,) = plan_studies(design(layout="combined"))
    point = {
        "optimizer": "adam",
        "weight_decay": 1e-5,
        "learning_rate[optimizer=adam]": 1e-3,
        "learning_rate[optimizer=nesterov]": 0.1,
        "one_minus_momentum[optimizer=nesterov]": 0.01,
    }
    assert plan.hparams(point) == {
        "batch_size": 128,
        "optimizer": "adam",
        "weight_decay": 1e-5,
        "learning_rate": 1e-3,
    }


def test_coverage_reports_uneven_and_missing_values() -> None:
    rows = [{"depth": 2}] * 6 + [{"depth": 3}] * 2
    result = coverage(rows, {"depth": (2, 3, 4)})["depth"]
    assert dict(result.counts) == {2: 6, 3: 2, 4: 0}
    assert result.ratio == math.inf and result.p_value < 0.05
    assert math.isnan(coverage([], {"depth": (2, 3)})["depth"].p_value)
    assert coverage([{"depth": 2}] * 3 + [{"depth": 3}], {"depth": (2, 3)})["depth"].ratio == 3.0


def test_grid_studies_take_the_grid_size_as_trials() -> None:
    data = {
        **OPTIMIZERS,
        "scientific": {},
        "nuisance": {"learning_rate": {"low": 1e-3, "high": 1e-1, "scale": "log"}},
        "search": {"algorithm": "grid", "grid_points": 3},
    }
    (plan,) = plan_studies(design_from_dict(data))
    assert plan.trials == 3
    assert [plan.trial_hparams(i)["learning_rate"] for i in range(3)] == pytest.approx(
        [1e-3, 1e-2, 1e-1]
    )


def test_a_spec_less_design_without_trials_is_refused() -> None:
    broken = ExperimentDesign(
        name="x",
        goal="y",
        max_train_steps=None,
        fixed={},
        scientific={},
        nuisance=SearchSpace({"lr": Float(0.1, 1.0)}),
    )
    with pytest.raises(BadInput, match=r"x: \[search\] trials is missing"):
        plan_studies(broken)


@pytest.mark.parametrize("layout", ["per-value", "combined"])
def test_plans_round_trip_through_json(layout: str) -> None:
    for plan in plan_studies(design(layout=layout, algorithm="random")):
        again = StudyPlan.from_json(plan.to_json())
        assert again == plan
        assert [again.trial_hparams(i) for i in range(5)] == [
            plan.trial_hparams(i) for i in range(5)
        ]


def test_malformed_stored_plans_are_bad_input() -> None:
    with pytest.raises(BadInput, match="the stored study plan is malformed"):
        StudyPlan.from_json('{"name": "x"}')
