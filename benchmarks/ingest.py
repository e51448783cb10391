"""Metric ingest rate: tunebook's `MetricsWriter` against Optuna's SQLite storage.

tunebook: 6 series per step, one `flush()` (one transaction) every 1,000 steps, through the
public writer. Optuna 5: `trial.report(value, step)` on an RDB storage `sqlite:///…`, one
value per call (it is ~1,000× slower, so it is timed on fewer values and reported per
value). Median of 3 runs each, every run on a fresh file.

    /tmp/venv/bin/python benchmarks/ingest.py [--steps 100000] [--optuna-values 2000]

Prints a table, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

from tunebook.sessions import Session

SERIES = ("train/loss", "train/lr", "train/grad_norm", "eval/error", "eval/loss", "time/step")
FLUSH_EVERY_STEPS = 1_000
RUNS = 3
GOAL_VALUES_PER_S = 100_000
GOAL_RATIO = 200


def tunebook_run(folder: Path, steps: int) -> float:
    """Values per second for `steps` steps × 6 series into a fresh session file."""
    path = folder / f"ingest-{time.monotonic_ns()}.tunebook"
    with Session.create(path, "tabular") as session:
        experiment = session.add_experiment("ingest", "", {}, steps)
        study = session.add_study(experiment.id, "s", {}, "random", 1, 0, "eval/error", "min")
        trial_id = session.add_trial(study.id, {}, 0, 0).id
        writer = session.metrics_writer(trial_id, flush_every=10**9)
        names = SERIES
        start = time.perf_counter()
        for step in range(steps):
            x = 1.0 / (step + 1)
            writer.add(step, dict(zip(names, (x, 0.1, 2.0 * x, x + 0.1, x + 0.2, 0.01))))
            if (step + 1) % FLUSH_EVERY_STEPS == 0:
                writer.flush()
        writer.flush()
        elapsed = time.perf_counter() - start
        assert session.metric_count(trial_id) == steps * len(SERIES)
    return steps * len(SERIES) / elapsed


def optuna_run(folder: Path, values: int) -> float:
    """Values per second for `values` calls of `trial.report` on Optuna's SQLite storage."""
    import optuna

    storage = f"sqlite:///{folder / f'optuna-{time.monotonic_ns()}.db'}"
    study = optuna.create_study(storage=storage, direction="minimize")
    trial = study.ask()
    start = time.perf_counter()
    for step in range(values):
        trial.report(1.0 / (step + 1), step)
    elapsed = time.perf_counter() - start
    assert len(study.trials[0].intermediate_values) == values
    return values / elapsed


def main() -> None:
    """Run both sides RUNS times, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="tunebook steps (×6 values)")
    parser.add_argument("--optuna-values", type=int, default=2_000, help="Optuna reports")
    args = parser.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours = [tunebook_run(folder, args.steps) for _ in range(RUNS)]
        theirs = [optuna_run(folder, args.optuna_values) for _ in range(RUNS)]
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    ratio = ours_median / theirs_median
    print(f"{'writer':<28}{'values/run':>12}{'median values/s':>18}{'runs (values/s)':>40}")
    print(
        f"{'tunebook MetricsWriter':<28}{args.steps * len(SERIES):>12}{ours_median:>18,.0f}"
        f"{', '.join(f'{v:,.0f}' for v in ours):>40}"
    )
    print(
        f"{'optuna trial.report':<28}{args.optuna_values:>12}{theirs_median:>18,.0f}"
        f"{', '.join(f'{v:,.0f}' for v in theirs):>40}"
    )
    print(
        f"ratio {ratio:,.0f}× (goal ≥ {GOAL_RATIO}×); "
        f"tunebook goal ≥ {GOAL_VALUES_PER_S:,} values/s"
    )
    result = {
        "benchmark": "ingest",
        "tunebook_values_per_s": round(ours_median),
        "tunebook_runs": [round(v) for v in ours],
        "tunebook_values_per_run": args.steps * len(SERIES),
        "series_per_step": len(SERIES),
        "flush_every_steps": FLUSH_EVERY_STEPS,
        "optuna_values_per_s": round(theirs_median, 1),
        "optuna_runs": [round(v, 1) for v in theirs],
        "optuna_values_per_run": args.optuna_values,
        "ratio": round(ratio, 1),
        "goal_values_per_s_met": ours_median >= GOAL_VALUES_PER_S,
        "goal_ratio_met": ratio >= GOAL_RATIO,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
