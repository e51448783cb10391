"""Trials per minute with 1 vs 2 worker processes on the built-in `tabular` workload.

The same spec (a study of 32 trials of 2,000 steps by default, about a second each) runs in
fresh sessions with `workers=1` and `workers=2`, alternating, several times; the table shows
medians. Besides end-to-end throughput it reports what explains the ratio: the fixed cost
of a run (the workers' start-up: spawn, torch import, data, measured as what each worker's
first trial took beyond its training), the mean training time per trial (the loop's own
data + compute seconds) and the torch threads per worker (the pool gives each worker
cpu_count // workers). A third row runs 1 worker on 1 thread, to separate the effect of
intra-op threads from that of parallel trials. Goal: >= 1.8x.

    /tmp/venv/bin/python benchmarks/parallel.py [--trials 32] [--steps 2000] [--repeats 3]

Prints a table, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tunebook.core.design import design_from_dict
from tunebook.core.execution.runner import Runner
from tunebook.core.execution.trial_config import known_hparams
from tunebook.core.experiments import add_experiment
from tunebook.core.workloads import load_workload
from tunebook.sessions import Session, TrialStatus

GOAL = 1.8


@dataclass(frozen=True)
class Setup:
    """One side of the comparison: worker processes, and torch threads per worker."""

    label: str
    workers: int
    threads: int


@dataclass(frozen=True)
class Measurement:
    """One run: wall seconds, fixed overhead seconds, mean training seconds per trial."""

    wall: float
    overhead: float
    train_per_trial: float


def spec(trials: int, steps: int, seed: int) -> dict:
    """A study of `trials` short trials tuning the learning rate."""
    return {
        "name": "parallel",
        "goal": "How many trials per minute?",
        "max_train_steps": steps,
        "fixed": {"optimizer": "adam", "batch_size": 64, "width": 64, "depth": 2},
        "nuisance": {"learning_rate": {"low": 3e-4, "high": 3e-2, "scale": "log"}},
        "search": {"algorithm": "quasi-random", "trials": trials, "seed": seed},
    }


def measure(folder: Path, setup: Setup, trials: int, steps: int, index: int) -> Measurement:
    """Run the spec in a fresh session under `setup`. The fixed cost is the workers' start-up
    (spawn, torch import, data): what each worker's first trial took beyond its training."""
    workload = load_workload("tabular")
    design = design_from_dict(spec(trials, steps, seed=0), "<parallel>", known_hparams(workload))
    path = folder / f"{setup.label.replace(' ', '-')}-{index}.tunebook"
    with Session.create(path, "tabular", workload.config()) as session:
        add_experiment(session, design, "<parallel>", workload)
    cpus = setup.threads * setup.workers
    with mock.patch("os.cpu_count", return_value=cpus):
        started = time.perf_counter()
        result = Runner(path, workers=setup.workers).run()
        wall = time.perf_counter() - started
    if result.progress.completed != trials:
        raise SystemExit(f"{setup.label}: only {result.progress.completed}/{trials} completed")
    with Session.open(path, read_only=True) as session:
        done = session.trials(status=TrialStatus.COMPLETED)
    train = statistics.mean(t.compute_seconds + t.data_seconds for t in done)
    firsts = sorted(done, key=lambda t: t.started_at or 0.0)[: setup.workers]
    overhead = statistics.mean(
        (t.finished_at or 0.0) - (t.started_at or 0.0) - t.compute_seconds - t.data_seconds
        for t in firsts
    )
    return Measurement(wall, overhead, train)


def main() -> None:
    """Alternate the setups, repeat, print the medians and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    setups = [
        Setup("1 worker", 1, cpus),
        Setup("2 workers", 2, max(1, cpus // 2)),
        Setup("1 worker, 1 thread", 1, 1),
    ]
    runs: dict[str, list[Measurement]] = {s.label: [] for s in setups}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for setup in setups if repeat % 2 == 0 else setups[::-1]:
                runs[setup.label].append(measure(Path(tmp), setup, args.trials, args.steps, repeat))
    load_after = os.getloadavg()[0]

    def median(label: str, field: str) -> float:
        return statistics.median(getattr(m, field) for m in runs[label])

    rows = {}
    for setup in setups:
        wall, overhead = median(setup.label, "wall"), median(setup.label, "overhead")
        rows[setup.label] = {
            "workers": setup.workers,
            "threads_per_worker": setup.threads,
            "wall_s": round(wall, 2),
            "trials_per_min": round(args.trials / wall * 60, 1),
            "overhead_s": round(overhead, 2),
            "steady_trials_per_min": round(args.trials / max(wall - overhead, 1e-9) * 60, 1),
            "train_s_per_trial": round(median(setup.label, "train_per_trial"), 3),
            "walls": [round(m.wall, 2) for m in runs[setup.label]],
        }
    print(
        f"{'setup':<20}{'threads':>8}{'wall s':>8}{'trials/min':>12}{'fixed s':>9}"
        f"{'steady/min':>12}{'train s/trial':>15}"
    )
    for label, row in rows.items():
        print(
            f"{label:<20}{row['threads_per_worker']:>8}{row['wall_s']:>8}"
            f"{row['trials_per_min']:>12}{row['overhead_s']:>9}{row['steady_trials_per_min']:>12}"
            f"{row['train_s_per_trial']:>15}"
        )
    one, two, single = rows["1 worker"], rows["2 workers"], rows["1 worker, 1 thread"]
    speedup = two["trials_per_min"] / one["trials_per_min"]
    steady = two["steady_trials_per_min"] / one["steady_trials_per_min"]
    vs_single = two["trials_per_min"] / single["trials_per_min"]
    print(
        f"speedup 2 vs 1 worker: {speedup:.2f}x end to end, {steady:.2f}x without the fixed "
        f"cost; vs 1 worker on 1 thread: {vs_single:.2f}x (goal {GOAL}x); "
        f"{args.trials} trials x {args.steps} steps, {args.repeats} repeats, {cpus} CPUs, "
        f"load {load_before:.1f} -> {load_after:.1f}"
    )
    print(
        json.dumps(
            {
                "benchmark": "parallel",
                "workload": "tabular",
                "trials": args.trials,
                "steps": args.steps,
                "repeats": args.repeats,
                "cpus": cpus,
                "setups": rows,
                "speedup": round(speedup, 2),
                "speedup_steady": round(steady, 2),
                "speedup_vs_1_thread": round(vs_single, 2),
                "goal": GOAL,
                "met": speedup >= GOAL,
                "load_before": round(load_before, 2),
                "load_after": round(load_after, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
