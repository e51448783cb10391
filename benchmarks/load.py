"""Read latency on a big session: 1,000 trials × 1,000 steps × 4 series (4 M values).

The file is built through the public API (one writer and one flush per trial, best step and
value via `finish_trial`); then each query is timed on a freshly opened `Session` (new
connection, cold SQLite page cache; the OS cache stays warm: "cold-ish"), median of several
repeats:

- open + `study_summaries()` + close      goal < 0.2 s
- `trial_series(tid)` (4 × 1,000 points)   goal < 50 ms
- `values_at_best_step(M)` (1,000 trials)  goal < 0.5 s

For reference, Optuna 5 on SQLite: `load_study` + `get_trials()` of a study of 200 trials ×
500 intermediate values (built once through Optuna's storage API with `add_trials`).
Every query's plan (EXPLAIN QUERY PLAN) is printed; a missed goal is flagged in the JSON.

    /tmp/venv/bin/python benchmarks/load.py [--trials 1000] [--steps 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunebook.sessions import Session, TrialStatus

SERIES = ("train/loss", "eval/error", "train/lr", "time/step")
STUDIES = 4
REPEATS = 7
GOALS_S = {"open_study_summaries": 0.2, "trial_series": 0.05, "values_at_best_step": 0.5}
QUERIES = {  # the SQL behind the timed calls, as in sessions/store.py
    "study_summaries (counts)": (
        "SELECT study_id, status, COUNT(*) FROM trials GROUP BY study_id, status",
        (),
    ),
    "study_summaries (best)": (
        "SELECT id, best_value FROM trials WHERE study_id = ? AND status = ? "
        "AND best_value IS NOT NULL ORDER BY best_value ASC, id LIMIT 1",
        (1, "completed"),
    ),
    "trial_series": (
        "SELECT series, step, value FROM metrics WHERE trial_id = ? ORDER BY series, step",
        (1,),
    ),
    "values_at_best_step": (
        "SELECT t.id, m.value FROM trials t CROSS JOIN metrics m ON m.trial_id = t.id "
        "AND m.series = ? AND m.step = t.best_step WHERE t.best_step IS NOT NULL",
        ("eval/error",),
    ),
}


def build(path: Path, trials: int, steps: int) -> float:
    """Fill `path` through the public API; returns the seconds it took."""
    start = time.perf_counter()
    rng = random.Random(0)
    with Session.create(path, "tabular") as session:
        experiment = session.add_experiment("load", "", {}, steps)
        study_ids = [
            session.add_study(
                experiment.id, f"s{i}", {}, "random", trials, i, "eval/error", "min"
            ).id
            for i in range(STUDIES)
        ]
        for number in range(trials):
            lr = 10 ** rng.uniform(-4, -1)
            trial = session.add_trial(study_ids[number % STUDIES], {"lr": lr}, number, number)
            session.start_trial(trial.id)
            writer = session.metrics_writer(trial.id, flush_every=10**9)
            floor = rng.uniform(0.05, 0.5)
            best_step, best_value = 0, math.inf
            for step in range(steps):
                error = floor + 1.0 / (step + 1) + rng.uniform(0, 0.01)
                if error < best_value:
                    best_step, best_value = step, error
                writer.add(
                    step,
                    {
                        "train/loss": error * 2,
                        "eval/error": error,
                        "train/lr": lr,
                        "time/step": 0.01,
                    },
                )
            session.finish_trial(
                trial.id,
                TrialStatus.COMPLETED,
                best_step=best_step,
                best_value=best_value,
                final_value=error,
                writer=writer,
            )
    return time.perf_counter() - start


def timed(repeats: int, action: Callable[[int], Any]) -> list[float]:
    """Seconds for `action(i)`, each of `repeats` calls."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return times


def measure(path: Path, trials: int, steps: int) -> dict[str, list[float]]:
    """The three timed reads, each on a freshly opened session."""
    rng = random.Random(1)
    picks = [rng.randrange(1, trials + 1) for _ in range(REPEATS)]

    def open_summaries(_: int) -> None:
        """Open, summarise, close."""
        with Session.open(path) as session:
            summaries = session.study_summaries()
        assert sum(s.finished for s in summaries) == trials

    results = {"open_study_summaries": timed(REPEATS, open_summaries)}
    series_times, best_times = [], []
    for i in range(REPEATS):
        with Session.open(path) as session:
            start = time.perf_counter()
            curves = session.trial_series(picks[i])
            series_times.append(time.perf_counter() - start)
            assert len(curves) == len(SERIES) and len(curves["eval/error"].steps) == steps
        with Session.open(path) as session:
            start = time.perf_counter()
            best = session.values_at_best_step("eval/error")
            best_times.append(time.perf_counter() - start)
            assert len(best) == trials
    results["trial_series"] = series_times
    results["values_at_best_step"] = best_times
    return results


def query_plans(path: Path) -> dict[str, list[str]]:
    """EXPLAIN QUERY PLAN of the SQL behind each timed call."""
    conn = sqlite3.connect(path)
    try:
        return {
            name: [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            for name, (sql, params) in QUERIES.items()
        }
    finally:
        conn.close()


def optuna_reference(folder: Path, trials: int = 200, steps: int = 500) -> dict[str, Any]:
    """Build an Optuna study once, then time `load_study` + `get_trials()`."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    url = f"sqlite:///{folder / 'optuna.db'}"
    study = optuna.create_study(study_name="load", storage=url, direction="minimize")
    distributions = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    start = time.perf_counter()
    rng = random.Random(2)
    study.add_trials(
        optuna.trial.create_trial(
            params={"lr": 10 ** rng.uniform(-4, -1)},
            distributions=distributions,
            value=rng.random(),
            intermediate_values={step: 1.0 / (step + 1) for step in range(steps)},
        )
        for _ in range(trials)
    )
    build_s = time.perf_counter() - start

    def load(_: int) -> None:
        """A fresh storage object each time: nothing cached."""
        loaded = optuna.load_study(study_name="load", storage=url)
        got = loaded.get_trials()
        assert len(got) == trials and len(got[-1].intermediate_values) == steps

    times = timed(5, load)
    return {"build_s": build_s, "times": times, "trials": trials, "steps": steps}


def main() -> None:
    """Build, measure, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "load.tunebook"
        build_s = build(path, args.trials, args.steps)
        size_mb = path.stat().st_size / 2**20
        results = measure(path, args.trials, args.steps)
        plans = query_plans(path)
        optuna = optuna_reference(folder)
    values = args.trials * args.steps * len(SERIES)
    print(
        f"built {values:,} values in {build_s:.1f} s ({values / build_s:,.0f} values/s), "
        f"file {size_mb:.0f} MiB"
    )
    print(f"{'query':<34}{'median':>10}{'goal':>10}{'met':>6}   runs (ms)")
    medians = {name: statistics.median(times) for name, times in results.items()}
    for name, times in results.items():
        goal = GOALS_S[name]
        print(
            f"{name:<34}{medians[name] * 1000:>8.1f}ms{goal * 1000:>8.0f}ms"
            f"{'yes' if medians[name] < goal else 'NO':>6}   "
            + ", ".join(f"{t * 1000:.1f}" for t in times)
        )
    optuna_median = statistics.median(optuna["times"])
    print(
        f"{'optuna load_study+get_trials':<34}{optuna_median * 1000:>8.1f}ms{'—':>10}{'':>6}   "
        f"({optuna['trials']} trials × {optuna['steps']} values, built in "
        f"{optuna['build_s']:.1f} s)"
    )
    for name, plan in plans.items():
        print(f"plan {name}: " + " | ".join(plan))
    missed = [name for name in GOALS_S if medians[name] >= GOALS_S[name]]
    result = {
        "benchmark": "load",
        "trials": args.trials,
        "steps": args.steps,
        "series": len(SERIES),
        "values": values,
        "build_s": round(build_s, 2),
        "file_mib": round(size_mb, 1),
        "open_study_summaries_s": round(medians["open_study_summaries"], 4),
        "trial_series_s": round(medians["trial_series"], 4),
        "values_at_best_step_s": round(medians["values_at_best_step"], 4),
        "optuna_load_get_trials_s": round(optuna_median, 4),
        "optuna_trials": optuna["trials"],
        "optuna_values_per_trial": optuna["steps"],
        "optuna_build_s": round(optuna["build_s"], 2),
        "goals_met": not missed,
        "missed": missed,
    }
    if missed:
        result["plans"] = plans
    print(json.dumps(result))


if __name__ == "__main__":
    main()
