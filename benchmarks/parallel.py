"""Trials per minute: 1 vs 2 worker processes, and 2 Ray tasks vs 2, on the `tabular` workload.

The same spec (a study of 32 trials of 2,000 steps by default, about a second each) runs in
fresh sessions under each setup, in alternating order, several times; the table shows
medians. Setups: the process executor with `workers=1` and `workers=2` (the pool gives
each worker cpu_count // workers torch threads); 1 worker on 1 thread, to separate the
effect of intra-op threads from that of parallel trials; and "2 Ray tasks": `executor="ray"`,
`workers=2`, on a local Ray instance sized to the same cores, each task reserving (and
training on) cpu_count // 2 CPUs, like for like with "2 workers" (on 2 cores: 1 thread per
trial), each run starting its own (as a `tunebook run` command does); and "2 Ray, running":
the same, joining a Ray instance started once for the benchmark (`ray start --head`, as a
cluster is used) instead of starting one per run. A
run fails unless its setup's trials really ran at once (from their start and finish
times). Trials train on the CPU in every setup, also where a GPU is visible: a Ray task
that asks for no GPU sees none, so that is like for like.

Besides end-to-end throughput it reports what explains the ratios: the fixed cost of a run
(the time to the first trial's start: session, sampler, the executor's start, for Ray the
local instance's; what each worker's first trial took beyond its training: its start, torch
import, data; the time after the last trial's finish: the executor's shutdown), the
overhead per trial (the median of what a trial took beyond its training, in ms, each
worker's first trial left out), the mean training time per trial (the loop's own data +
compute seconds) and the torch threads per worker. Goals: 2 workers >= 1.8x the trials/min
of 1 worker; 2 Ray tasks >= 0.9x those of 2 workers (reported starting Ray and joining it).
The runs share this process, so its worker server (which imports torch for the workers)
starts once, on the first process-executor run: later runs fork their workers at once, as a
script calling `api.run` again would; a `tunebook run` command pays about 2 s for it. The
joining runs likewise share the connection the first of them makes (its Ray workers keep
torch imported, as a script's do): an untimed run makes it (again after each run that
started a local instance, since a process has one Ray connection), and its fixed cost is
reported as the cost of joining cold, which a `tunebook run` command pays.

    .venv/bin/python benchmarks/parallel.py [--trials 32] [--steps 2000] [--repeats 3]

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

from tests.execution.ray_nodes import ray_cluster
from tunebook.core.design import design_from_dict
from tunebook.core.execution.executors import RayOptions
from tunebook.core.execution.executors.ray_cluster import leave_ray
from tunebook.core.execution.runner import Runner
from tunebook.core.execution.trial_config import known_hparams
from tunebook.core.experiments import add_experiment
from tunebook.core.workloads import load_workload
from tunebook.sessions import Session, Trial, TrialStatus

GOAL = 1.8  # trials/min of "2 workers" over "1 worker"
RAY_GOAL = 0.9  # trials/min of "2 Ray tasks" over "2 workers"


@dataclass(frozen=True)
class Setup:
    """One side of the comparison: the executor, its trials at once (worker processes or
    Ray tasks), and torch threads per trial (for Ray, the CPUs each task reserves)."""

    label: str
    workers: int
    threads: int
    executor: str = "process"
    joins: bool = False  # Ray: join the running instance (`ray start --head`), not start one


@dataclass(frozen=True)
class Measurement:
    """One run: wall seconds, fixed overhead seconds, mean training seconds per trial, the
    median overhead seconds of a warm trial, and the most trials that ran at once."""

    wall: float
    overhead: float
    train_per_trial: float
    per_trial_overhead: float
    peak: int


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


def extra(trial: Trial) -> float:
    """What a trial took beyond its training: hand-over, set-up, reporting, scheduling."""
    span = (trial.finished_at or 0.0) - (trial.started_at or 0.0)
    return span - trial.compute_seconds - trial.data_seconds


def peak_at_once(trials: list[Trial]) -> int:
    """The most trials running at the same moment (a finish before a start at a tie)."""
    edges = sorted(
        [(t.started_at or 0.0, 1) for t in trials] + [(t.finished_at or 0.0, -1) for t in trials]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def measure(
    folder: Path,
    setup: Setup,
    trials: int,
    steps: int,
    index: int,
    address: str,
    tag: str = "",
) -> Measurement:
    """Run the spec in a fresh session under `setup`. The machine looks like it has the
    setup's threads x workers cores, to the pool (threads per worker) and to a local Ray
    instance (its CPUs) alike. The fixed cost is the time to the first trial's start, plus
    what each worker's first trial took beyond its training, plus the time after the last
    trial's finish; the per-trial overhead is the median of the second for the other trials."""
    workload = load_workload("tabular")
    design = design_from_dict(spec(trials, steps, seed=0), "<parallel>", known_hparams(workload))
    path = folder / f"{setup.label.replace(' ', '-')}-{index}{tag}.tunebook"
    with Session.create(path, "tabular", workload.config()) as session:
        add_experiment(session, design, "<parallel>", workload)
    ray = None
    if setup.executor == "ray":
        ray = RayOptions(address=address if setup.joins else None, cpus_per_trial=setup.threads)
    runner = Runner(path, executor=setup.executor, ray=ray, workers=setup.workers, device="cpu")
    cpus = setup.threads * setup.workers
    # Ray sizes a local instance from multiprocessing.cpu_count() (so os.cpu_count) only
    # with this set; else from the container's CPU quota, when it has one. A runner that
    # joins the running instance authenticates with its token.
    ray_env = {"RAY_USE_MULTIPROCESSING_CPU_COUNT": "1", "RAY_AUTH_MODE": "token"}
    with mock.patch("os.cpu_count", return_value=cpus), mock.patch.dict(os.environ, ray_env):
        began = time.time()
        started = time.perf_counter()
        result = runner.run()
        wall = time.perf_counter() - started
        ended = time.time()
    if result.progress.completed != trials:
        raise SystemExit(f"{setup.label}: only {result.progress.completed}/{trials} completed")
    with Session.open(path, read_only=True) as session:
        done = session.trials(status=TrialStatus.COMPLETED)
    peak = peak_at_once(done)
    if not tag and peak != min(setup.workers, trials):
        raise SystemExit(f"{setup.label}: {peak} trials ran at once, not {setup.workers}")
    train = statistics.mean(t.compute_seconds + t.data_seconds for t in done)
    ordered = sorted(done, key=lambda t: t.started_at or 0.0)
    firsts, warm = ordered[: setup.workers], ordered[setup.workers :]
    lead = (ordered[0].started_at or began) - began
    tail = ended - max(t.finished_at or ended for t in done)
    overhead = lead + statistics.mean(extra(t) for t in firsts) + tail
    per_trial = statistics.median(extra(t) for t in warm)
    return Measurement(wall, overhead, train, per_trial, peak)


def main() -> None:
    """Alternate the setups, repeat, print the medians and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.trials <= 2:
        parser.error("--trials must be more than 2 (each worker's first trial is a warm-up)")
    cpus = os.cpu_count() or 1
    setups = [
        Setup("1 worker", 1, cpus),
        Setup("2 workers", 2, max(1, cpus // 2)),
        Setup("2 Ray tasks", 2, max(1, cpus // 2), "ray"),
        Setup("2 Ray, running", 2, max(1, cpus // 2), "ray", joins=True),
        Setup("1 worker, 1 thread", 1, 1),
    ]
    runs: dict[str, list[Measurement]] = {s.label: [] for s in setups}
    cold_joins: list[float] = []  # fixed seconds of a run that joins with no connection yet
    load_before = os.getloadavg()[0]
    head = [f"--num-cpus={2 * max(1, cpus // 2)}"]
    with tempfile.TemporaryDirectory() as tmp, ray_cluster([head]) as (address, _):
        joined = False  # whether this process holds a connection to the running instance
        for repeat in range(args.repeats):
            for setup in setups if repeat % 2 == 0 else setups[::-1]:
                if setup.executor == "ray" and not setup.joins:
                    leave_ray()  # a run that starts Ray starts it afresh, as a command does
                    joined = False
                elif setup.joins and not joined:
                    cold = measure(Path(tmp), setup, 4, 20, repeat, address, "cold")
                    cold_joins.append(cold.overhead)
                    joined = True
                measured = measure(Path(tmp), setup, args.trials, args.steps, repeat, address)
                runs[setup.label].append(measured)
        leave_ray()
    load_after = os.getloadavg()[0]

    def median(label: str, field: str) -> float:
        return statistics.median(getattr(m, field) for m in runs[label])

    rows = {}
    for setup in setups:
        wall, overhead = median(setup.label, "wall"), median(setup.label, "overhead")
        rows[setup.label] = {
            "executor": setup.executor,
            "workers": setup.workers,
            "threads_per_worker": setup.threads,
            "wall_s": round(wall, 2),
            "trials_per_min": round(args.trials / wall * 60, 1),
            "overhead_s": round(overhead, 2),
            "per_trial_overhead_ms": round(median(setup.label, "per_trial_overhead") * 1000, 1),
            "steady_trials_per_min": round(args.trials / max(wall - overhead, 1e-9) * 60, 1),
            "train_s_per_trial": round(median(setup.label, "train_per_trial"), 3),
            "walls": [round(m.wall, 2) for m in runs[setup.label]],
        }
    print(
        f"{'setup':<20}{'threads':>8}{'wall s':>8}{'trials/min':>12}{'fixed s':>9}"
        f"{'ms/trial':>10}{'steady/min':>12}{'train s/trial':>15}"
    )
    for label, row in rows.items():
        print(
            f"{label:<20}{row['threads_per_worker']:>8}{row['wall_s']:>8}"
            f"{row['trials_per_min']:>12}{row['overhead_s']:>9}"
            f"{row['per_trial_overhead_ms']:>10}{row['steady_trials_per_min']:>12}"
            f"{row['train_s_per_trial']:>15}"
        )
    one, two, single = rows["1 worker"], rows["2 workers"], rows["1 worker, 1 thread"]
    ray, joined = rows["2 Ray tasks"], rows["2 Ray, running"]
    speedup = two["trials_per_min"] / one["trials_per_min"]
    steady = two["steady_trials_per_min"] / one["steady_trials_per_min"]
    vs_single = two["trials_per_min"] / single["trials_per_min"]
    ray_vs = ray["trials_per_min"] / two["trials_per_min"]
    joined_vs = joined["trials_per_min"] / two["trials_per_min"]
    cold_join = statistics.median(cold_joins)
    print(
        f"speedup 2 vs 1 worker: {speedup:.2f}x end to end (goal {GOAL}x), {steady:.2f}x "
        f"without the fixed cost; vs 1 worker on 1 thread: {vs_single:.2f}x; 2 Ray tasks vs 2 "
        f"workers: {ray_vs:.2f}x starting Ray, {joined_vs:.2f}x joining it (goal {RAY_GOAL}x; "
        f"joining cold costs {cold_join:.1f} s fixed); "
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
                "ray_vs_process": round(ray_vs, 2),
                "ray_goal": RAY_GOAL,
                "ray_met": ray_vs >= RAY_GOAL,
                "ray_joined_vs_process": round(joined_vs, 2),
                "ray_joined_met": joined_vs >= RAY_GOAL,
                "ray_join_cold_fixed_s": round(cold_join, 2),
                "load_before": round(load_before, 2),
                "load_after": round(load_after, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
