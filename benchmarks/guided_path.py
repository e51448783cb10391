"""The guided path end to end on the default workload, as the app's `n` key walks it.

A fresh session on the built-in `tabular` workload; then, until the session map's next
step is the next round, take that step the way the app does, each through a real
`tunebook` process: a project-start step is its probe then its decision (model, optimizer,
batch size, initial configuration, training length, stability), the first experiment is
the designer's pre-filled draft (`suggest_first_question`) added with `experiment add`,
then run, conclude, adopt (seed-variance comparison), exploit (Bayesian study), run,
conclude, adopt, final test. Every option is the default a user meets. Goal (issue 12):
under 10 minutes of waiting for trials on the 2-core CPU machine. Prints one JSON line:
seconds per step, the total, the time spent waiting for trials, and the stages taken.

    .venv/bin/python benchmarks/guided_path.py [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tunebook.core.design.draft import draft_from_session, to_spec
from tunebook.core.design.first_question import suggest_first_question
from tunebook.core.design.spec_toml import spec_to_toml
from tunebook.core.experiments import session_workload
from tunebook.core.session_map import PROBE_NAMES, StageAction, session_map
from tunebook.sessions import DecisionKind, Session

#: Steps whose time is spent training (probes, runs, seed runs, the test evaluation).
TRAINING = ("probe", "run", "adopt", "final-test")
#: The most steps the path may take before the benchmark calls it a loop.
MAX_STEPS = 40


def tunebook(*args: str) -> float:
    """Run one tunebook command; its wall time in seconds (a failure stops the benchmark)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tunebook.tui.cli", *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def first_experiment(path: str, folder: Path) -> Path:
    """The spec the designer saves when the user accepts its pre-filled first experiment."""
    with Session.open(path, read_only=True) as session:
        workload = session_workload(session)
        draft = suggest_first_question(
            draft_from_session(session, workload), workload.objective.metric
        )
    spec = folder / "first.toml"
    spec.write_text(spec_to_toml(to_spec(draft)))
    return spec


def walk(folder: Path, workers: int) -> dict:
    path = str(folder / "guided.tunebook")
    steps: list[tuple[str, float]] = [("new", tunebook("new", path, "--workload", "tabular"))]
    jobs = ["--workers", str(workers)]
    for _ in range(MAX_STEPS):
        with Session.open(path, read_only=True) as session:
            stage = session_map(session).next
        if stage is None or stage.key == "next_round":
            break
        action = stage.action
        if action is StageAction.PROJECT_STEP:
            name = PROBE_NAMES[DecisionKind(stage.key)]
            steps.append((f"probe {name}", tunebook("probe", name, path, *jobs)))
            steps.append((f"decide {name}", tunebook("decide", path, name)))
        elif action is StageAction.DESIGN:
            steps.append(
                (
                    "experiment add",
                    tunebook("experiment", "add", path, str(first_experiment(path, folder))),
                )
            )
        elif action is StageAction.RUN:
            steps.append((f"run {stage.experiment}", tunebook("run", path, *jobs)))
        elif action is StageAction.REVIEW:
            steps.append(
                (
                    f"conclude {stage.experiment}",
                    tunebook("conclude", path, stage.experiment, "--note", "as reviewed"),
                )
            )
        elif action is StageAction.ADOPT:
            steps.append((f"adopt {stage.trial}", tunebook("adopt", path, str(stage.trial), *jobs)))
        elif action is StageAction.EXPLOIT:
            steps.append(
                (f"exploit {stage.experiment}", tunebook("exploit", path, stage.experiment))
            )
        elif action is StageAction.FINAL_TEST:
            steps.append(("final-test", tunebook("final-test", path)))
        else:
            raise SystemExit(f"the guided path stopped at {stage.key}: {action}")
    else:
        raise SystemExit(f"the guided path took more than {MAX_STEPS} steps")
    with Session.open(path, read_only=True) as session:
        trials = len(session.trials())
        final = session_map(session).stage("final_test").summary
    return {"steps": steps, "trials": trials, "final_test": final}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = walk(Path(folder), args.workers)
    steps = result["steps"]
    waiting = sum(s for name, s in steps if name.split()[0] in TRAINING)
    print(
        json.dumps(
            {
                "benchmark": "guided_path",
                "workers": args.workers,
                "total_s": round(sum(s for _, s in steps), 1),
                "training_wait_s": round(waiting, 1),
                "goal_training_wait_s": 600,
                "trials": result["trials"],
                "final_test": result["final_test"],
                "seconds": {name: round(s, 1) for name, s in steps},
            }
        )
    )


if __name__ == "__main__":
    main()
