"""Does exploration-then-exploitation find better points than search alone? (PB-18, PB-29)

Best objective value found (minimized), median over seeds, for:

* explore→exploit: a bayesian study of 30 trials (`BayesianSampler`: its first 10 trials are
  the study's quasi-random points, then 20 GP proposals);
* quasi-random: 30 trials;
* random: 60 trials (twice the budget);
* TPE: Optuna's `TPESampler`, 30 trials.

Objectives live in `OBJECTIVES`: a `Problem(space, objective, optimum)` whose objective is
``objective(params) -> float`` over the space's named values, so another workload (e.g. the
tabular MLP's validation error) plugs in as one more entry. Seeds run in two processes.
Goal: explore→exploit's median at most each other's. Run: python benchmarks/bo_efficiency.py
The last line printed is the results as JSON.
"""

from __future__ import annotations

import functools
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from tunebook.core.search import (
    BayesianSampler,
    Float,
    QuasiRandomSampler,
    RandomSampler,
    Sampler,
    SearchSpace,
)
from tunebook.core.search.bayesian import (
    from_optuna_params,
    import_optuna,
    optuna_distributions,
)

SEEDS = int(os.environ.get("BO_SEEDS", "10"))
BUDGET = 30


class Problem(NamedTuple):
    """An objective to minimize over a search space, with its known optimum (or None);
    the objective returns None for an infeasible (diverged) point."""

    space: SearchSpace
    objective: Callable[[dict[str, Any]], float | None]
    optimum: float | None


def branin(params: dict[str, Any]) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; minimum 0.397887 at three points."""
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(params: dict[str, Any]) -> float:
    """Hartmann-6 on [0, 1]^6; minimum -3.32237."""
    x = np.array([params[f"x{i}"] for i in range(6)])
    inner = (HARTMANN_A * (x - HARTMANN_P) ** 2).sum(axis=1)
    return float(-(HARTMANN_ALPHA * np.exp(-inner)).sum())


TABULAR_STEPS = 150


@functools.lru_cache(maxsize=1)
def _tabular() -> Any:
    from tunebook.core.workloads import load_workload

    return load_workload("tabular")


def tabular(params: dict[str, Any]) -> float | None:
    """The built-in tabular MLP's best validation error after a short Adam run (real
    training); None when the trial diverged (infeasible)."""
    from tunebook.core.training import MemoryReporter, TrialConfig, train_trial

    config = TrialConfig(
        hparams=dict(params),
        optimizer="adam",
        batch_size=64,
        max_train_steps=TABULAR_STEPS,
        eval_every=25,
        threads=1,
    )
    result = train_trial(_tabular(), config, MemoryReporter("min"))
    return None if result.best_value is None else float(result.best_value)


OBJECTIVES: dict[str, Problem] = {
    "branin": Problem(
        SearchSpace({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)}), branin, 0.397887
    ),
    "hartmann6": Problem(
        SearchSpace({f"x{i}": Float(0.0, 1.0) for i in range(6)}), hartmann6, -3.32237
    ),
    "tabular": Problem(
        SearchSpace(
            {
                "learning_rate": Float(1e-4, 1.0, "log"),
                "one_minus_beta1": Float(1e-2, 0.5, "log"),
            }
        ),
        tabular,
        None,
    ),
}
#: What TPE is told about an infeasible trial (it has no constraint channel here): the
#: error of a constant predictor, the worst a trial can sensibly report.
INFEASIBLE_VALUE = 1.0


def run_sampler(sampler: Sampler, problem: Problem, seed: int, trials: int) -> float:
    """Best value of a `trials`-trial study driven through the sampler API."""
    history: list[tuple[dict[str, Any], float | None]] = []
    for index in range(trials):
        params = sampler.sample(problem.space, seed, index, history)
        history.append((params, problem.objective(params)))
    return min(value for _, value in history if value is not None)


def run_tpe(problem: Problem, seed: int, trials: int) -> float:
    """Best value of Optuna's TPE with ask/tell over the same space."""
    optuna = import_optuna()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    dists = optuna_distributions(problem.space)
    for _ in range(trials):
        trial = study.ask(dists)
        value = problem.objective(from_optuna_params(problem.space, trial.params))
        study.tell(trial, INFEASIBLE_VALUE if value is None else value)
    return float(study.best_value)


STRATEGIES: dict[str, tuple[int, Callable[[Problem, int], float]]] = {
    "explore->exploit": (
        BUDGET,
        lambda p, s: run_sampler(BayesianSampler("min", n_startup=10), p, s, BUDGET),
    ),
    "quasi-random": (BUDGET, lambda p, s: run_sampler(QuasiRandomSampler(), p, s, BUDGET)),
    "random x2": (2 * BUDGET, lambda p, s: run_sampler(RandomSampler(), p, s, 2 * BUDGET)),
    "tpe": (BUDGET, lambda p, s: run_tpe(p, s, BUDGET)),
}


def one_run(job: tuple[str, str, int]) -> tuple[str, str, int, float, float]:
    """Run one (objective, strategy, seed); returns its best value and seconds."""
    name, strategy, seed = job
    start = time.perf_counter()
    best = STRATEGIES[strategy][1](OBJECTIVES[name], seed)
    return name, strategy, seed, best, time.perf_counter() - start


def _one_thread() -> None:
    """Two worker processes on two cores: one torch thread each (torch runs Optuna's GP)."""
    import torch

    torch.set_num_threads(1)


def main() -> None:
    start = time.perf_counter()
    jobs = [(n, s, seed) for n in OBJECTIVES for s in STRATEGIES for seed in range(SEEDS)]
    with ProcessPoolExecutor(max_workers=2, initializer=_one_thread) as pool:
        runs = list(pool.map(one_run, jobs))
    results: dict[str, dict[str, Any]] = {}
    for name, problem in OBJECTIVES.items():
        print(f"\n{name} ({len(problem.space)}-d, optimum {problem.optimum}), {SEEDS} seeds")
        print(
            f"{'strategy':<17} {'trials':>6} {'median best':>12} {'median regret':>14} {'s/run':>6}"
        )
        table = {}
        for strategy, (trials, _) in STRATEGIES.items():
            mine = [r for r in runs if r[0] == name and r[1] == strategy]
            best = statistics.median(r[3] for r in mine)
            regret = None if problem.optimum is None else best - problem.optimum
            seconds = statistics.mean(r[4] for r in mine)
            table[strategy] = {
                "trials": trials,
                "median_best": best,
                "median_regret": regret,
                "bests": [r[3] for r in mine],
                "seconds_per_run": seconds,
            }
            shown = "n/a" if regret is None else f"{regret:.4g}"
            print(f"{strategy:<17} {trials:>6} {best:>12.5g} {shown:>14} {seconds:>6.2f}")
        ours = table["explore->exploit"]["median_best"]
        goal_met = all(ours <= row["median_best"] for row in table.values())
        print(f"explore->exploit at most every other median: {goal_met}")
        results[name] = {"strategies": table, "goal_met": goal_met}
    print(
        json.dumps(
            {
                "benchmark": "bo_efficiency",
                "seeds": SEEDS,
                "budget": BUDGET,
                "results": results,
                "goal_met": all(r["goal_met"] for r in results.values()),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
