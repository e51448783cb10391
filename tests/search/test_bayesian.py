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
from tunebook.core.search.bayesian import OutputWarp
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
    sampler = BayesianSampler(n_startup=6)
    point = sampler.sample(LINE, 1, 8, history)
    worst = max(v for _, v in history if v is not None)
    finished = [c for c in created if "value" in c]
    assert sampler.model is not None
    warp = sampler.model.warp
    assert [c["value"] for c in finished] == [warp(worst if v is None else v) for _, v in history]
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


def test_one_sampler_keeps_its_model_and_starts_each_fit_from_the_last(monkeypatch) -> None:
    from optuna.samplers._gp import sampler as gp_sampler

    gp = gp_sampler.gp  # optuna's lazy module: loaded on first use, then patched
    real_fit = gp.fit_kernel_params
    fits = []

    def spy(*args, **kwargs):
        fits.append((kwargs.get("gpr_cache"), real_fit(*args, **kwargs)))
        return fits[-1][1]

    monkeypatch.setattr(gp, "fit_kernel_params", spy)
    sampler = BayesianSampler(n_startup=4)
    history = [(p, bowl(p["x"])) for p in explored(4)]
    first = sampler.sample(LINE, 0, 4, history)
    model = sampler.model
    assert model is not None and len(model.held) == 4
    history.append((first, bowl(first["x"])))
    sampler.sample(LINE, 0, 5, history)
    assert sampler.model is model and model.study.sampler is model.gp
    assert model.held == history  # the fifth trial was added once, the first four kept
    assert [t.state.name for t in model.study.trials].count("COMPLETE") == 5
    assert fits[0][0] is None  # the first fit starts from the default kernel
    assert fits[1][0] is fits[0][1]  # the second from the first's fitted kernel


def test_the_same_calls_give_the_same_proposals() -> None:
    def drive(sampler: BayesianSampler) -> list[dict]:
        history = [(p, bowl(p["x"])) for p in explored(3)]
        for index in range(3, 7):
            point = sampler.sample(LINE, 2, index, history)
            history.append((point, bowl(point["x"])))
        return [p for p, _ in history]

    assert drive(BayesianSampler(n_startup=3)) == drive(BayesianSampler(n_startup=3))


def test_a_history_that_does_not_extend_the_model_rebuilds_it() -> None:
    sampler = BayesianSampler(n_startup=4)
    history = [(p, bowl(p["x"])) for p in explored(5)]
    sampler.sample(LINE, 0, 5, history)
    model = sampler.model
    rerun = [history[0], (history[1][0], 0.5), *history[2:]]
    point = sampler.sample(LINE, 0, 5, rerun)
    assert sampler.model is not model and sampler.model is not None
    assert sampler.model.held == rerun
    assert point == BayesianSampler(n_startup=4).sample(LINE, 0, 5, rerun)  # as a new runner
    model = sampler.model
    sampler.sample(LINE, 0, 4, rerun[1:])  # a trial removed
    assert sampler.model is not model and sampler.model.held == rerun[1:]


def test_an_infeasible_trial_or_a_new_worst_value_retells_every_trial() -> None:
    sampler = BayesianSampler(n_startup=4)
    history = [(p, bowl(p["x"])) for p in explored(5)]
    sampler.sample(LINE, 0, 5, history)
    plain = sampler.model
    assert plain is not None and not plain.study.trials[0].constraints
    history.append(({"x": 0.99}, None))
    sampler.sample(LINE, 0, 6, history)
    constrained = sampler.model
    assert constrained is not plain and constrained is not None
    assert [t.constraints["diverged"] for t in constrained.study.trials if t.values] == [
        0.0
    ] * 5 + [1.0]
    history.append(({"x": 0.31}, bowl(0.31)))  # better than the worst: added as it is
    sampler.sample(LINE, 0, 7, history)
    assert sampler.model is constrained
    history.append(({"x": 0.98}, 10.0))  # a new worst: infeasible trials now carry 10
    sampler.sample(LINE, 0, 8, history)
    assert sampler.model is not constrained and sampler.model is not None
    told = [t.value for t in sampler.model.study.trials if t.values]
    assert told[5] == told[-1] == sampler.model.warp(10.0)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_the_warp_compresses_a_tail_of_bad_values_and_keeps_the_order(mode: str) -> None:
    sign = 1.0 if mode == "min" else -1.0
    values = [sign * v for v in (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 3.0, 40.0, 900.0)]
    warp = OutputWarp.fit(mode, values)
    assert warp.power < 1.0
    warped = [warp(v) for v in values]
    assert warped == sorted(warped)  # lower is better, whatever the mode

    def share(points: list[float], low: int, high: int) -> float:
        """The gap between two values as a share of the range of all."""
        return abs(points[high] - points[low]) / abs(points[-1] - points[0])

    # The worst two took 96% of the range; the six best, 0.04%.
    assert share(warped, -2, -1) < 0.75 * share(values, -2, -1)
    assert share(warped, 0, 5) > 5 * share(values, 0, 5)


def test_the_warp_never_compresses_the_good_side() -> None:
    # Mostly poor values near 0 and a few much better ones: a fitted power would exceed 1.
    values = [0.0, -0.01, -0.02, -0.03, -0.05, -0.1, -0.2, -1.5, -3.0]
    warp = OutputWarp.fit("min", values)
    assert warp.power == 1.0
    z = [(v - warp.center) / warp.scale for v in values]
    assert [warp(v) for v in values] == pytest.approx(z)
    assert OutputWarp.fit("min", [2.0, 2.0, 2.0])(2.0) == 0.0
