"""The full review of a big study: 1,000 trials × 1,000 steps (issue 11).

A session holds one experiment with one study of `--trials` finished trials over a log
learning rate and a linear dropout range (about 15% of them infeasible), each with
`train/loss` and `train/grad_norm` at every step and `validation/error` every 50 steps,
written through the public API. Timed, on a freshly opened read-only `Session`, median of
`--repeats`: `review_document` — what `tunebook review --json` prints: the experiment's and
the study's checklists (with the bootstrap), the isolation, axis, curve and gradient plots
and a ranking. Goal: < 1 s.

Then the app's Review screen on the same file (the real app, headless at 120×40, its
session map shown): `paint_s` is the time from asking for the review to the first frame
with the checklist table filled, median of `--repeats` (each a fresh screen). Goal: < 2 s.

    .venv/bin/python benchmarks/review.py [--trials 1000] [--steps 1000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from tunebook.sessions import Session, TrialStatus
from tunebook.tui.cli.review_commands import review_document

EVAL_EVERY = 50


def build(path: Path, trials: int, steps: int) -> None:
    """The big study, written through `Session` (one writer and flush per trial)."""
    space = {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5, "scale": "linear"},
    }
    plan = {"space": space, "scientific": {}, "sampled_scientific": []}
    rng = random.Random(0)
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("big", "A big study", {"fixed": {}}, steps)
        study = session.add_study(
            experiment.id, "all", plan, "quasi-random", trials, 0, "error", "min"
        )
        for _ in range(trials):
            lr, dropout = 10 ** rng.uniform(-4, 0), rng.uniform(0, 0.5)
            trial = session.add_trial(study.id, {"learning_rate": lr, "dropout": dropout}, 1, 2)
            session.start_trial(trial.id)
            diverged = lr > 0.3 and rng.random() < 0.6
            quality = abs(math.log10(lr) + 2) * 0.05 + dropout * 0.1
            writer = session.metrics_writer(trial.id)
            last = steps // 3 if diverged else steps
            best = (None, math.inf)
            for step in range(1, last + 1):
                loss = 2.0 * math.exp(-step / 200) + quality + rng.gauss(0, 0.02)
                values = {"train/loss": loss, "train/grad_norm": 1.0 + rng.random()}
                if step % EVAL_EVERY == 0:
                    error = 0.2 + quality + 0.3 * math.exp(-step / 300) + rng.gauss(0, 0.005)
                    values["validation/error"] = error
                    best = min(best, (step, error), key=lambda b: b[1])
                writer.add(step, values)
            status = TrialStatus.INFEASIBLE if diverged else TrialStatus.COMPLETED
            session.finish_trial(
                trial.id,
                status,
                best_step=best[0],
                best_value=None if diverged else best[1],
                final_value=None if diverged else best[1],
                compute_seconds=10.0,
                data_seconds=rng.uniform(0.1, 1.0),
                writer=writer,
            )


def first_paints(path: Path, repeats: int) -> list[float]:
    """Seconds from `show_review` to the first frame whose checklist table has its rows."""
    from textual.widgets import DataTable

    from tunebook.tui.app import TunebookApp
    from tunebook.tui.screens.review import ReviewScreen

    async def measure() -> list[float]:
        times = []
        app = TunebookApp(path, read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            while type(app.screen).__name__ != "SessionMapScreen":
                await pilot.pause(0.05)
            for _ in range(repeats):
                started = time.perf_counter()
                app.show_review(None)
                while not (
                    isinstance(app.screen, ReviewScreen)
                    and app.screen.review is not None
                    and app.screen.query_one("#review-checklist", DataTable).row_count
                ):
                    await pilot.pause(0.01)
                await pilot.wait_for_scheduled_animations()
                await pilot.pause()  # the frame with the rows
                times.append(time.perf_counter() - started)
                app.pop_screen()
                await pilot.pause()
        return times

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.tunebook"
        started = time.perf_counter()
        build(path, args.trials, args.steps)
        build_s = time.perf_counter() - started
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            with Session.open(path, read_only=True) as session:
                document = review_document(session, None, None, "best")
            times.append(time.perf_counter() - started)
        paints = first_paints(path, args.repeats)
    median = statistics.median(times)
    paint = statistics.median(paints)
    print(
        json.dumps(
            {
                "benchmark": "review",
                "trials": args.trials,
                "steps": args.steps,
                "build_s": round(build_s, 1),
                "review_s_median": round(median, 3),
                "review_s": [round(t, 3) for t in times],
                "goal_s": 1.0,
                "met": median < 1.0,
                "paint_s_median": round(paint, 3),
                "paint_s": [round(t, 3) for t in paints],
                "paint_goal_s": 2.0,
                "paint_met": paint < 2.0,
                "checklist": {i["key"]: i["verdict"] for i in document["checklist"]},
            }
        )
    )


if __name__ == "__main__":
    main()
