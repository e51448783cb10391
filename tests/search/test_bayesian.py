"""Bayesian exploitation through Optuna's GPSampler: startup, determinism, infeasible trials."""

from __future__ import annotations

import sys

import pytest

from tunebook.core.search import (
    BayesianSampler,
    Categorical,
    Discrete,
    Float,
    Int,
    QuasiRandomSampler,
    SearchSpace,
)
from tunebook.sessions.errors import BadInput

LINE = SearchSpace({"x": Float(0.0, 1.0)})


def bowl(x: float) -> float:
    return (x - 0.3) ** 2


def explored(n: int, space: SearchSpace = LINE, seed: int = 0) -> list[dict]:
    return [QuasiRandomSampler().sample(space, seed, i) for i in range(n)]


def test_explores_quasi_randomly_until_enough_trials_finish() -> None:
    sampler = BayesianSampler(n_startup=4)
    history = [(p, bowl(p["x"])) for p in explored(3)]
    assert sampler.sample(LINE, 0, 3, history) == QuasiRandomSampler().sample(LINE, 0, 3)
    all_diverged = [(p, None) for p in explored(6)]
    assert sampler.sample(LINE, 0, 6, all_diverged) == QuasiRandomSampler().sample(LINE, 0, 6)
    outside = [({"x": 5.0}, 1.0)] * 6
    assert sampler.sample(LINE, 0, 6, outside) == QuasiRandomSampler().sample(LINE, 0, 6)


@pytest.mark.parametrize(("mode", "sign"), [("min", 1.0), ("max", -1.0)])
def test_exploits_toward_the_optimum_deterministically(mode: str, sign: float) -> None:
    sampler = BayesianSampler(mode, n_startup=6)
    history = [(p, sign * bowl(p["x"])) for p in explored(8)]
    first = sampler.sample(LINE, 0, 8, history)
    assert abs(first["x"] - 0.3) < 0.08
    assert BayesianSampler(mode, n_startup=6).sample(LINE, 0, 8, history) == first


def test_infeasible_trials_enter_with_the_worst_value_and_a_constraint(monkeypatch) -> None:
    import optuna

    created = []
    real = optuna.trial.create_trial

    def spy(**kwargs):
        created.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(optuna.trial, "create_trial", spy)
    history = [(p, None if p["x"] > 0.6 else bowl(p["x"])) for p in explored(8)]
    point = BayesianSampler(n_startup=6).sample(LINE, 1, 8, history)
    worst = max(v for _, v in history if v is not None)
    finished = [c for c in created if "value" in c]
    assert [c["value"] for c in finished] == [worst if v is None else v for _, v in history]
    assert [c["constraints"]["diverged"] for c in finished] == [
        1.0 if v is None else 0.0 for _, v in history
    ]
    assert point["x"] <= 0.6


def test_pending_trials_steer_parallel_workers_apart() -> None:
    sampler = BayesianSampler(n_startup=6)
    history = [(p, bowl(p["x"])) for p in explored(8)]
    first = sampler.sample(LINE, 0, 8, history)
    unaware = sampler.sample(LINE, 0, 9, history)
    aware = sampler.sample(LINE, 0, 9, history, pending=[first])
    assert abs(unaware["x"] - first["x"]) < 1e-4
    assert abs(aware["x"] - first["x"]) > 5e-3


def test_mixed_spaces_come_back_in_their_own_types() -> None:
    space = SearchSpace(
        {
            "lr": Float(1e-4, 1e-1, "log"),
            "warmup": Int(1, 1000, "log"),
            "width": Discrete((64, 128, 256)),
            "act": Categorical(("relu", "gelu")),
        }
    )
    history = [
        (p, abs(p["width"] - 128) + (p["act"] == "gelu") + p["lr"]) for p in explored(6, space)
    ]
    point = BayesianSampler(n_startup=6).sample(space, 0, 6, history)
    assert space.contains(point)
    assert isinstance(point["lr"], float) and isinstance(point["warmup"], int)
    assert point["width"] in (64, 128, 256) and point["act"] in ("relu", "gelu")


def test_missing_optuna_is_bad_input_with_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    history = [(p, bowl(p["x"])) for p in explored(3)]
    with pytest.raises(
        BadInput, match=r"bayesian search needs optuna: pip install 'tunebook\[bayes\]'"
    ):
        BayesianSampler(n_startup=2).sample(LINE, 0, 3, history)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"mode": "minimize"}, "mode"), ({"n_startup": 0}, "n_startup")]
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        BayesianSampler(**kwargs)
