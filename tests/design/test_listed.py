"""Listed points (`[search] algorithm = "listed"`, PB-20): the spec's rules, each mistake
one sentence with its key path, and a study re-created from its stored plan running the
same configurations."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tunebook.core.design import SpecError, StudyPlan, design_from_dict, plan_studies
from tunebook.core.search import ListedSampler, SearchSpace, make_sampler
from tunebook.core.search.space import Float
from tunebook.sessions import BadInput

SPEC: dict[str, Any] = {
    "name": "long",
    "goal": "Do the best configurations hold up over more steps?",
    "max_train_steps": 200,
    "fixed": {"optimizer": "adam"},
    "scientific": {"depth": [1, 2]},
    "nuisance": {"learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"}},
    "search": {
        "algorithm": "listed",
        "points": [
            {"depth": 2, "learning_rate": 0.003},
            {"depth": 1, "learning_rate": 0.01},
            {"depth": 2, "learning_rate": 0.02},
        ],
    },
}


def _with_search(**search: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["search"].update(search)
    return {**spec, "search": {k: v for k, v in spec["search"].items() if v is not None}}


def test_a_listed_design_runs_its_points_in_order_after_a_round_trip() -> None:
    design = design_from_dict(SPEC)
    assert design.search.trials == 3 and design.search.layout == "combined"
    assert design_from_dict(design.to_dict()) == design
    (plan,) = plan_studies(design)
    stored = StudyPlan.from_json(plan.to_json())
    assert [stored.trial_hparams(i) for i in range(stored.trials)] == [
        {"optimizer": "adam", **point} for point in SPEC["search"]["points"]
    ]


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"points": None}, "[search] points is missing"),
        ({"points": []}, "[search] points must be a non-empty array of tables"),
        ({"points": [3]}, "[search] points[0] must be a table"),
        ({"trials": 5}, "[search] trials (5) differs from the number of listed points (3)"),
        ({"layout": "per-value"}, '[search] layout must be "combined" for algorithm = "listed"'),
        (
            {"algorithm": "random", "trials": 3},
            '[search] points applies only to algorithm = "listed"',
        ),
        ({"points": [{"depth": 2}]}, "[search] points[0] has no value for learning_rate"),
        (
            {"points": [{"depth": 2, "learning_rate": 0.01, "width": 8}]},
            "[search] points[0] names 'width', which is neither scientific nor nuisance",
        ),
        (
            {"points": [{"depth": 4, "learning_rate": 0.01}]},
            "[search] points[0] depth = 4 is not one of the values of [scientific.depth] (1, 2)",
        ),
        (
            {"points": [{"depth": 1, "learning_rate": 0.5}]},
            "[search] points[0] learning_rate = 0.5 is outside [nuisance.learning_rate]",
        ),
        (
            {"points": [{"depth": 1, "learning_rate": 0.01}, {"depth": 1, "learning_rate": 0.01}]},
            "[search] points[1] repeats points[0]",
        ),
    ],
)
def test_each_mistake_is_one_sentence_with_its_key_path(
    search: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError) as info:
        design_from_dict(_with_search(**search))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_conditional_nuisance_sets_are_refused_with_listed_points() -> None:
    spec = copy.deepcopy(SPEC)
    spec["nuisance"]["when"] = {"depth": {"2": {"weight_decay": {"low": 0.0, "high": 0.1}}}}
    with pytest.raises(SpecError, match=r"\[nuisance.when\] does not apply"):
        design_from_dict(spec)


def test_the_listed_sampler_keeps_the_space_names_and_ends_with_its_points() -> None:
    space = SearchSpace({"lr": Float(1e-4, 1e-1, "log")})
    sampler = make_sampler("listed", points=[{"lr": 0.01, "other": 1}, {"lr": 0.02}])
    assert isinstance(sampler, ListedSampler) and not sampler.adaptive
    assert sampler.budget(space) == 2
    assert sampler.sample(space, 0, 0) == {"lr": 0.01}
    assert sampler.sample(space, 7, 1) == {"lr": 0.02}  # the seed plays no part
    with pytest.raises(BadInput, match="lists 2 points; trial index 2 is past its end"):
        sampler.sample(space, 0, 2)
    with pytest.raises(BadInput, match="outside its dimension"):
        ListedSampler([{"lr": 5.0}]).sample(space, 0, 0)
