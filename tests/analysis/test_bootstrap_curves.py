"""Known answers for the best-of-k bootstrap (PB-13) and the curve rules (PB-14)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tunebook.core.analysis.bootstrap import MAX_ALL_KS, best_of_k, default_ks
from tunebook.core.analysis.curves import diagnose

STEPS = 1000


def test_best_of_n_is_near_the_best_and_best_of_one_near_the_median() -> None:
    values = list(range(1, 102))  # 1 … 101, median 51
    points = {p.k: p for p in best_of_k(values, "min")}
    assert sorted(points) == list(default_ks(101))
    assert points[101].median <= 2.0 and points[101].low == 1.0
    assert 46 <= points[1].median <= 56
    assert points[1].low < points[1].median < points[1].high
    medians = [p.median for p in best_of_k(values, "min")]
    assert medians == sorted(medians, reverse=True)  # more trials never hurt
    maximised = {p.k: p for p in best_of_k(values, "max")}
    assert maximised[101].median >= 100.0 and maximised[101].high == 101.0


def test_the_index_shortcut_matches_drawing_every_value() -> None:
    values = np.random.default_rng(3).normal(size=50)
    [point] = best_of_k(values, "min", ks=[5], samples=20000)
    brute = values[np.random.default_rng(4).integers(0, 50, size=(20000, 5))].min(axis=1)
    ordered = np.sort(values)
    for ours, theirs in zip(
        (point.low, point.median, point.high), np.percentile(brute, [10, 50, 90])
    ):
        # the same order statistic, give or take one rank
        assert abs(np.searchsorted(ordered, ours) - np.searchsorted(ordered, theirs)) <= 1


def test_ks_default_reproducible_and_fast() -> None:
    assert default_ks(5) == (1, 2, 3, 4, 5)
    assert default_ks(0) == ()
    many = default_ks(1000)
    assert {1, 500, 1000} <= set(many) and len(many) <= 25 and MAX_ALL_KS < 1000
    assert [p.k for p in best_of_k([3.0, 1.0, 2.0], "min", ks=[2, 7])] == [2, 7]
    values = np.random.default_rng(0).random(1000).tolist()
    start = time.perf_counter()
    first = best_of_k(values, "max", seed=7)
    assert time.perf_counter() - start < 0.2
    assert best_of_k(values, "max", seed=7) == first
    assert best_of_k(values, "max", seed=8) != first
    assert best_of_k([], "min") == () and best_of_k([float("nan")], "min") == ()
    with pytest.raises(ValueError):
        best_of_k([1.0], "lowest")
    with pytest.raises(ValueError):
        best_of_k([1.0], "min", ks=[0])


def curve(kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training loss per step and validation error every 50 steps, shaped by `kind`."""
    rng = np.random.default_rng(1)
    steps = np.arange(1, STEPS + 1)
    t = steps / STEPS
    train = 0.1 + 2.0 * np.exp(-5 * t)
    val = 0.2 + 0.8 * np.exp(-5 * t)
    if kind == "overfitting":
        val = 0.2 + 0.8 * np.exp(-8 * t) + 0.3 * np.maximum(0.0, t - 0.4)
    if kind == "late_variance":
        train = train * (1 + 0.4 * rng.standard_normal(STEPS) * (t > 0.7))
    if kind == "still_improving":
        train, val = 2.0 - 1.5 * t, 1.0 - 0.7 * t
    if kind == "saturated_early":
        val = 0.2 + 0.8 * np.exp(-40 * t)
    if kind == "train_loss_rising":
        train = 0.5 + np.abs(t - 0.5)
    train = train * (1 + 0.01 * rng.standard_normal(STEPS))
    every = steps % 50 == 0
    return steps, train, steps[every], val[every]


@pytest.mark.parametrize(
    "kind",
    [
        "clean",
        "overfitting",
        "late_variance",
        "still_improving",
        "saturated_early",
        "train_loss_rising",
    ],
)
def test_each_curve_shape_gives_its_finding_and_only_it(kind: str) -> None:
    findings = diagnose(*curve(kind), "min", STEPS)
    assert [f.key for f in findings] == ([] if kind == "clean" else [kind])
    assert all(f.message for f in findings)


def test_a_maximised_objective_reads_the_other_way() -> None:
    steps, train, val_steps, error = curve("overfitting")
    assert [f.key for f in diagnose(steps, train, val_steps, 1 - error, "max", STEPS)] == [
        "overfitting"
    ]
    steps, train, val_steps, error = curve("still_improving")
    findings = diagnose(steps, train, val_steps, 1 - error, "max", STEPS)
    assert [f.key for f in findings] == ["still_improving"]
    assert "0.7" in findings[0].message  # accuracy shown as logged: 1 - 0.3 at the end


def test_short_or_missing_curves_give_no_finding() -> None:
    assert diagnose([], [], [], [], "min", STEPS) == ()
    assert diagnose([1, 2], [1.0, float("nan")], [1], [0.5], "min", STEPS) == ()
