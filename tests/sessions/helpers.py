"""Plain helpers for the session tests: fill a session, hash files, run the real CLI."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tunebook.sessions import DecisionKind, ProbeKind, Session, TrialStatus

TUNEBOOK = Path(sys.executable).with_name("tunebook")


def fill(session: Session) -> None:
    """Put one of every record kind into `session`, through its public API only."""
    session.record_decision(DecisionKind.OPTIMIZER, "adam", "the playbook's default")
    session.record_decision(DecisionKind.BATCH_SIZE, 256, evidence={"probe": 1})
    session.add_probe(ProbeKind.BATCH_SIZE, {"sizes": [64, 256]}, {"steps_per_s": [10.0, 9.5]})
    experiment = session.add_experiment("depth", "Does depth help?", {"scientific": ["d"]}, 400)
    study = session.add_study(
        experiment.id, "depth-2", {"lr": [1e-4, 1e-1]}, "quasi_random", 4, 7, "eval/error", "min"
    )
    for number in range(3):
        trial = session.add_trial(study.id, {"lr": 10.0 ** -(number + 1), "depth": 2}, 1, 2)
        session.start_trial(trial.id)
        writer = session.metrics_writer(trial.id)
        for step in range(0, 400, 10):
            writer.add(step, {"train/loss": 1.0 / (step + 1), "eval/error": 0.5 - number / 10})
        session.save_best_checkpoint(trial.id, 390, 0.5 - number / 10, b"state", 2, "min")
        session.finish_trial(
            trial.id,
            TrialStatus.COMPLETED if number < 2 else TrialStatus.INFEASIBLE,
            best_step=390,
            best_value=0.5 - number / 10,
            final_value=0.5 - number / 10,
            writer=writer,
        )
    session.add_launch({"lr": 0.01}, {"study": study.id}, "first baseline", trial_id=1)
    session.add_note("session", "notes | with a pipe\nand a newline")
    session.log_event("user", "test.filled", "filled by the fixture", {"trials": 3})


def sha256(path: Path) -> str:
    """The file's content hash."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecars(path: Path) -> list[Path]:
    """The SQLite -wal / -shm / -journal files that exist beside `path`."""
    names = (f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal")
    return [path.with_name(n) for n in names if path.with_name(n).exists()]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed `tunebook` command in a real process."""
    return subprocess.run(
        [str(TUNEBOOK), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def run_parallel(commands: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run several `tunebook` command lines at once (2 cores: halves the wall time)."""
    children = [
        (
            list(args),
            subprocess.Popen(
                [str(TUNEBOOK), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            ),
        )
        for args in commands
    ]
    results = []
    for args, child in children:
        out, err = child.communicate(timeout=60)
        results.append(
            subprocess.CompletedProcess([str(TUNEBOOK), *args], child.returncode, out, err)
        )
    return results
