"""The sampler contract, run against every non-adaptive sampler, plus each one's specifics."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import qmc

from tunebook.core.search import (
    ALGORITHMS,
    BayesianSampler,
    Categorical,
    Discrete,
    Float,
    GridSampler,
    Int,
    ListedSampler,
    QuasiRandomSampler,
    RandomSampler,
    Sampler,
    SearchSpace,
    make_sampler,
)
from tunebook.core.search.quasi_random import BLOCK, halton_point
from tunebook.sessions.errors import BadInput

SPACE = SearchSpace(
    {
        "learning_rate": Float(1e-4, 1e-1, "log"),
        "width": Discrete((64, 128, 256)),
        "activation": Categorical(("relu", "gelu")),
    }
)
GRID_SPACE = SearchSpace({"learning_rate": Float(1e-4, 1e-1, "log"), "width": Int(1, 8)})

NON_ADAPTIVE = [
    pytest.param(QuasiRandomSampler, SPACE, id="quasi-random"),
    pytest.param(RandomSampler, SPACE, id="random"),
    pytest.param(lambda: GridSampler(5), GRID_SPACE, id="grid"),
]


@pytest.mark.parametrize(("make", "space"), NON_ADAPTIVE)
def test_points_lie_inside_every_dimension(make, space: SearchSpace) -> None:
    sampler = make()
    for index in range(16):
        point = sampler.sample(space, 7, index)
        assert list(point) == list(space.names)
        assert space.contains(point)


@pytest.mark.parametrize(("make", "space"), NON_ADAPTIVE)
def test_same_points_whatever_the_workers_and_their_order(make, space: SearchSpace) -> None:
    serial = [make().sample(space, 3, i) for i in range(16)]
    # Workers each holding their own sampler, asking in a shuffled order; then the study
    # grows from 16 to 24 trials and continues the same sequence.
    order = list(range(24))
    random.Random(0).shuffle(order)
    workers = [make() for _ in range(4)]
    parallel = {i: workers[i % 4].sample(space, 3, i) for i in order}
    assert [parallel[i] for i in range(16)] == serial


@pytest.mark.parametrize(("make", "space"), NON_ADAPTIVE)
def test_history_is_ignored_and_seeds_differ(make, space: SearchSpace) -> None:
    sampler = make()
    point = sampler.sample(space, 1, 5)
    assert sampler.sample(space, 1, 5, history=[(point, 0.3)], pending=[point]) == point
    if not isinstance(sampler, GridSampler):
        assert [sampler.sample(space, 1, i) for i in range(4)] != [
            sampler.sample(space, 2, i) for i in range(4)
        ]


@pytest.mark.parametrize("sampler", [QuasiRandomSampler(), RandomSampler(), GridSampler(3)])
@pytest.mark.parametrize(("seed", "index"), [(-1, 0), (0, -1), (1.5, 0), (True, 0), (0, "3")])
def test_bad_seed_or_index_is_refused(sampler: Sampler, seed: object, index: object) -> None:
    with pytest.raises(BadInput, match="must be a non-negative integer"):
        sampler.sample(GRID_SPACE, seed, index)  # type: ignore[arg-type]


@pytest.mark.parametrize("sampler", [QuasiRandomSampler(), RandomSampler(), GridSampler(3)])
def test_empty_space_gives_empty_points(sampler: Sampler) -> None:
    assert sampler.sample(SearchSpace({}), 0, 0) == {}


def test_quasi_random_is_scipy_scrambled_halton_point_by_point() -> None:
    n = 2 * BLOCK + 5  # crosses two cache-block boundaries
    expected = qmc.Halton(3, scramble=True, rng=11).random(n)
    got = np.array([halton_point(3, 11, i) for i in range(n)])
    np.testing.assert_array_equal(got, expected)
    unit = SearchSpace({name: Float(0.0, 1.0) for name in "abc"})
    assert list(QuasiRandomSampler().sample(unit, 11, n - 1).values()) == pytest.approx(
        expected[-1]
    )


@given(st.integers(0, 2**32), st.integers(0, 500))
@settings(max_examples=25, deadline=None)
def test_quasi_random_point_does_not_depend_on_what_was_drawn_before(seed: int, index: int) -> None:
    fresh = qmc.Halton(2, scramble=True, rng=seed)
    fresh.fast_forward(index)
    np.testing.assert_array_equal(halton_point(2, seed, index), fresh.random(1)[0])


def test_quasi_random_covers_categorical_values_evenly() -> None:
    space = SearchSpace({"optimizer": Categorical(("adam", "nesterov", "sgd"))})
    drawn = [QuasiRandomSampler().sample(space, 5, i)["optimizer"] for i in range(32)]
    # 32 base-2 Halton points fall one per 1/32 interval: each third gets 10 or 11.
    assert {drawn.count(v) for v in ("adam", "nesterov", "sgd")} <= {10, 11}


@given(st.integers(0, 2**32), st.integers(0, 10_000))
@settings(max_examples=25)
def test_random_point_is_its_own_stream(seed: int, index: int) -> None:
    space = SearchSpace({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    u = np.random.default_rng([seed, index]).random(2)
    assert list(RandomSampler().sample(space, seed, index).values()) == pytest.approx(u)


def test_grid_enumerates_cells_last_dimension_fastest() -> None:
    space = SearchSpace({"lr": Float(1e-3, 1e-1, "log"), "act": Categorical(("relu", "gelu"))})
    sampler = GridSampler(3)
    points = [sampler.sample(space, 0, i) for i in range(sampler.budget(space))]
    assert [p["act"] for p in points] == ["relu", "gelu"] * 3
    assert [p["lr"] for p in points[::2]] == pytest.approx([1e-3, 1e-2, 1e-1])
    with pytest.raises(BadInput, match="the grid has 6 points; trial index 6 is past its end"):
        sampler.sample(space, 0, 6)


def test_grid_counts_per_dimension_and_int_ranges() -> None:
    space = SearchSpace({"lr": Float(0.0, 1.0), "width": Int(1, 1000, "log")})
    sampler = GridSampler({"lr": 2, "width": 4})
    assert sampler.axes(space) == [[0.0, 1.0], [1, 10, 100, 1000]]
    assert sampler.budget(space) == 8


@pytest.mark.parametrize(
    ("points", "space", "message"),
    [
        (3, SearchSpace({n: Float(0, 1) for n in "abc"}), "at most 2 hyperparameters, got 3"),
        (None, GRID_SPACE, "needs a number of grid_points for the range 'learning_rate'"),
        ({"nope": 3}, GRID_SPACE, "grid_points names 'nope', which is not searched"),
        (9, SearchSpace({"width": Int(1, 4)}), "grid_points for 'width' (9) exceeds"),
        (
            {"act": 2},
            SearchSpace({"act": Categorical(("a", "b"))}),
            "cannot set 'act': the grid uses all of its values",
        ),
    ],
)
def test_grid_refusals(points: object, space: SearchSpace, message: str) -> None:
    with pytest.raises(BadInput) as info:
        GridSampler(points).budget(space)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize("points", [1, 0, True, {"lr": 1}, 2.5])
def test_grid_point_counts_must_be_at_least_two(points: object) -> None:
    with pytest.raises(BadInput, match="grid_points must be integers of at least 2"):
        GridSampler(points)  # type: ignore[arg-type]


def test_make_sampler_knows_every_algorithm() -> None:
    kinds = {name: type(make_sampler(name, grid_points=2)) for name in ALGORITHMS}
    assert kinds == {
        "quasi-random": QuasiRandomSampler,
        "random": RandomSampler,
        "grid": GridSampler,
        "bayesian": BayesianSampler,
        "listed": ListedSampler,
    }
    assert all(make_sampler(name, grid_points=2).name == name for name in ALGORITHMS)
    assert [name for name in ALGORITHMS if make_sampler(name, grid_points=2).adaptive] == [
        "bayesian"
    ]
    with pytest.raises(BadInput, match="unknown search algorithm 'sobol'"):
        make_sampler("sobol")
