"""SIGKILL `tunebook run -j 2`, its whole process group, or one of its workers, 20+ times
at random moments of a study, restarting the runner after each kill, while readers query the
session through the Python API; verify the session every time.

The study runs on the built-in `tabular` workload (width 256: a resume checkpoint is about
1 MB, so sending it takes many pipe buffers). Kills cycle through four phases: "any moment"
(the runner, a random delay after launch: start-up, recovery, scheduling or training),
"training" (the runner, a random delay after it committed its first resume checkpoint),
"group" (runner and workers at once, while training) and "worker" (one worker while training,
preferably while it is blocked half-way through sending a message: a "mid-send" kill; the
runner must record that trial `failed` within seconds and go on; then the runner is killed).
Times: `notice_s`, from a worker kill until the runner recorded its trial failed; `recovery_s`,
from a relaunch until a trial runs again (a new attempt: the interrupted ones were recovered).
After every kill: `PRAGMA integrity_check` is ok, every completed trial is unchanged (result
and every metric), no trial is failed except by a worker kill, and the killed runner's worker
processes exit (a worker must not outlive its runner). At the end, after a last run with
`--retry-failed`: exactly the budget of completed trials, each trial's attempts = 1 + the
attempts a kill interrupted + the worker kills that failed it, every `train/loss` series is
steps 1..N with no gap, and every curve equals that of an uninterrupted reference run of the
same spec (deterministic CPU). Reader errors (any exception from `api.results`, `api.trials`
or `api.curves` during the kills) should be 0.

    .venv/bin/python benchmarks/kill_runner.py [--kills 20] [--seed N]

Prints a table, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.execution.conftest import losses, trial_record, workers_of, writing_to_a_pipe
from tunebook.core import api
from tunebook.core.design import design_from_dict
from tunebook.core.execution.runner import Runner
from tunebook.core.execution.trial_config import known_hparams
from tunebook.core.experiments import add_experiment
from tunebook.core.workloads import load_workload
from tunebook.sessions import CheckpointKind, Session, TrialStatus

TUNEBOOK = (sys.executable, "-m", "tunebook.tui.cli")
STEPS, TRIALS = 400, 24  # short enough that trials complete between the kills
PHASES = ("training", "any moment", "group", "worker")
MID_SEND_TRIES = 5.0  # seconds to look for a worker blocked mid-send before killing anyway
SPEC = {
    "name": "kill",
    "goal": "Does a study survive kill -9?",
    "max_train_steps": STEPS,
    "eval_every": 60,
    "checkpoint_every": 30,
    "fixed": {"optimizer": "adam", "batch_size": 64, "width": 256, "depth": 2},
    "nuisance": {"learning_rate": {"low": 3e-4, "high": 3e-2, "scale": "log"}},
    "search": {"algorithm": "quasi-random", "trials": TRIALS, "seed": 0},
}


def create(path: Path) -> None:
    """A `tabular` session holding SPEC."""
    workload = load_workload("tabular")
    design = design_from_dict(SPEC, "<kill_runner>", known_hparams(workload))
    with Session.create(path, "tabular", workload.config()) as session:
        add_experiment(session, design, "<kill_runner>", workload)


def children(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def trial_ids(path: Path, status: TrialStatus) -> set[int]:
    """Ids of the session's trials in `status`."""
    with Session.open(path, read_only=True) as session:
        return {t.id for t in session.trials(status=status)}


def started_since(path: Path, attempts: dict[int, int]) -> bool:
    """True once a trial runs in an attempt that is newer than in `attempts` (by trial id)."""
    with Session.open(path, read_only=True) as session:
        return any(
            t.attempts > attempts.get(t.id, 0) for t in session.trials(status=TrialStatus.RUNNING)
        )


def wait_until(condition: Any, timeout: float) -> float | None:
    """Poll `condition` every 20 ms; seconds until it held, None if it never did."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


class Reader(threading.Thread):
    """Reads the session through the Python API in a loop (results, trials, the curves of a
    running trial), as a notebook or the app would during a run; counts reads and errors."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.done = threading.Event()
        self.reads = 0
        self.errors: list[str] = []

    def run(self) -> None:
        """Read until done."""
        while not self.done.is_set():
            try:
                api.results(self.path)
                running = [t for t in api.trials(self.path) if t.status is TrialStatus.RUNNING]
                if running:
                    api.curves(self.path, running[0].id)
                self.reads += 1
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.02)


def training_since(path: Path, since: float) -> bool:
    """True once a running trial has a resume checkpoint written after `since`."""
    with Session.open(path, read_only=True) as session:
        return any(
            c.kind is CheckpointKind.RESUME and c.created_at > since
            for t in session.trials(status=TrialStatus.RUNNING)
            for c in session.checkpoints(t.id)
        )


def main() -> None:
    """Kill, verify, repeat; finish; print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = random.randrange(2**32) if args.seed is None else args.seed
    rng = random.Random(seed)
    failures: list[str] = []
    rows: list[dict[str, Any]] = []
    interrupted: dict[int, set[int]] = {}
    worker_failed: dict[int, int] = {}  # trial id -> worker kills that failed it
    completed: dict[int, tuple[Any, ...]] = {}
    integrity_ok = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path, reference = Path(tmp) / "kill.tunebook", Path(tmp) / "reference.tunebook"
        create(path)
        readers = [Reader(path) for _ in range(2)]
        for reader in readers:
            reader.start()
        for kill in range(args.kills):
            phase = PHASES[kill % len(PHASES)]
            with Session.open(path, read_only=True) as session:
                attempts_before = {t.id: t.attempts for t in session.trials()}
            launched = time.time()
            runner = subprocess.Popen(
                [*TUNEBOOK, "run", str(path), "--workers", "2", "--retry-failed"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            recovery = None
            if phase == "any moment":
                time.sleep(rng.uniform(0.2, 5.0))
            else:
                recovery = wait_until(
                    lambda before=attempts_before: started_since(path, before), 120
                )
                wait_until(lambda since=launched: training_since(path, since), 120)
                time.sleep(rng.uniform(0.0, 1.0))
            delay = time.time() - launched
            if runner.poll() is not None:
                failures.append(f"kill {kill}: the study finished before the kill; make it longer")
                break
            workers = children(runner.pid)
            mid_send = notice = None
            if phase == "worker":
                victim = None
                deadline = time.monotonic() + MID_SEND_TRIES
                while victim is None and time.monotonic() < deadline:  # a busy look: brief
                    victim = next((w for w in workers_of(runner.pid) if writing_to_a_pipe(w)), None)
                mid_send = victim is not None
                victim = victim or rng.choice(workers_of(runner.pid))
                failed_before = trial_ids(path, TrialStatus.FAILED)
                os.kill(victim, signal.SIGKILL)
                notice = wait_until(
                    lambda before=failed_before: trial_ids(path, TrialStatus.FAILED) - before, 30
                )
                if notice is None:
                    failures.append(f"kill {kill}: the runner did not notice its worker died")
                for trial_id in trial_ids(path, TrialStatus.FAILED) - failed_before:
                    worker_failed[trial_id] = worker_failed.get(trial_id, 0) + 1
            if phase == "group":
                os.killpg(runner.pid, signal.SIGKILL)
            else:
                os.kill(runner.pid, signal.SIGKILL)
            runner.wait()
            killed_at = time.monotonic()
            while any(alive(w) for w in workers) and time.monotonic() - killed_at < 30:
                time.sleep(0.05)
            orphans = [w for w in workers if alive(w)]
            orphans_exit = time.monotonic() - killed_at
            if orphans:
                failures.append(f"kill {kill}: workers {orphans} outlived their runner by 30 s")
                for orphan in orphans:  # ours: started by the runner this script started
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(orphan, signal.SIGKILL)
            hit = 0
            with Session.open(path, read_only=True) as session:
                verdict = session.integrity_check()
                integrity_ok += verdict == "ok"
                if verdict != "ok":
                    failures.append(f"kill {kill}: integrity_check says {verdict}")
                for trial in session.trials():
                    if trial.status is TrialStatus.RUNNING:
                        if trial.attempts not in interrupted.setdefault(trial.id, set()):
                            hit += 1
                        interrupted[trial.id].add(trial.attempts)
                    elif trial.status is TrialStatus.COMPLETED:
                        now = trial_record(session, trial.id)
                        if completed.setdefault(trial.id, now) != now:
                            failures.append(f"kill {kill}: completed trial {trial.id} changed")
                    elif trial.status is TrialStatus.FAILED and trial.id in worker_failed:
                        if not trial.error.startswith("the worker process died"):
                            failures.append(f"kill {kill}: trial {trial.id}: {trial.error}")
                    elif trial.status.is_finished():
                        failures.append(f"kill {kill}: trial {trial.id} {trial.status.value}")
                done = len(session.trials(status=TrialStatus.COMPLETED))
            rows.append(
                {
                    "kill": kill,
                    "phase": phase,
                    "after_s": round(delay, 2),
                    "mid_send": mid_send,
                    "notice_s": None if notice is None else round(notice, 2),
                    "recovery_s": None if recovery is None else round(recovery, 2),
                    "interrupted": hit,
                    "completed": done,
                    "workers": len(workers),
                    "orphans_exit_s": round(orphans_exit, 2),
                }
            )
        final = subprocess.run(
            [*TUNEBOOK, "run", str(path), "--workers", "2", "--retry-failed"],
            capture_output=True,
            text=True,
        )
        for reader in readers:
            reader.done.set()
            reader.join()
        if final.returncode != 0:
            failures.append(f"final run exited {final.returncode}: {final.stderr.strip()}")
        create(reference)
        Runner(reference, workers=2).run()  # the same spec, never interrupted
        verified = 0
        with Session.open(path, read_only=True) as session:
            final_integrity = session.integrity_check()
            trials = session.trials()
            for trial in trials:
                problems = []
                if trial.status is not TrialStatus.COMPLETED:
                    problems.append(f"is {trial.status.value}")
                expected = 1 + len(interrupted.get(trial.id, ())) + worker_failed.get(trial.id, 0)
                if trial.attempts != expected:
                    problems.append(f"has {trial.attempts} attempts, not {expected}")
                steps = session.trial_series(trial.id, ["train/loss"])["train/loss"].steps
                if steps != list(range(1, STEPS + 1)):
                    problems.append("has a gap or duplicate in train/loss")
                if trial.id in completed and trial_record(session, trial.id) != completed[trial.id]:
                    problems.append("changed after it completed")
                if problems:
                    failures.append(f"trial {trial.id} " + ", ".join(problems))
                else:
                    verified += 1
            recovered = sum(e.kind == "trial.recovered" for e in session.events())
        same_curves = losses(path) == losses(reference)
        if not same_curves:
            failures.append("the curves differ from the uninterrupted reference run")
        if len(trials) != TRIALS:
            failures.append(f"{len(trials)} trials for a budget of {TRIALS}")
    elapsed = time.perf_counter() - start
    reads = sum(r.reads for r in readers)
    reader_errors = [e for r in readers for e in r.errors]
    columns = (
        ("kill", 4), ("phase", 11), ("after_s", 8), ("mid_send", 9), ("notice_s", 9),
        ("recovery_s", 11), ("interrupted", 12), ("completed", 10), ("workers", 8),
        ("orphans_exit_s", 15),
    )  # fmt: skip
    print("  ".join(f"{name:>{width}}" for name, width in columns))
    for row in rows:
        cells = ("-" if row[name] is None else row[name] for name, _ in columns)
        print("  ".join(f"{cell!s:>{width}}" for cell, (_, width) in zip(cells, columns)))
    attempts = sum(map(len, interrupted.values()))
    worker_rows = [r for r in rows if r["phase"] == "worker"]
    notices = [r["notice_s"] for r in worker_rows if r["notice_s"] is not None]
    recoveries = [r["recovery_s"] for r in rows if r["recovery_s"] is not None]
    print(
        f"{len(rows)} kills ({len(worker_rows)} of a worker, "
        f"{sum(bool(r['mid_send']) for r in worker_rows)} mid-send), {attempts} trial attempts "
        f"interrupted and resumed ({recovered} recoveries logged); {verified}/{TRIALS} trials "
        f"verified; integrity ok after {integrity_ok}/{len(rows)} kills, final: "
        f"{final_integrity}; curves equal to an uninterrupted run: {same_curves}; "
        f"{len(reader_errors)} reader errors in {reads} API reads; {elapsed:.0f} s; seed {seed}"
    )
    for error in sorted(set(reader_errors)):
        print(f"reader error ({reader_errors.count(error)}x): {error}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(
        json.dumps(
            {
                "benchmark": "kill_runner",
                "workload": "tabular",
                "kills": len(rows),
                "kills_by_phase": {p: sum(r["phase"] == p for r in rows) for p in PHASES},
                "mid_send_kills": sum(bool(r["mid_send"]) for r in worker_rows),
                "max_notice_s": max(notices, default=None),
                "max_recovery_s": max(recoveries, default=None),
                "interrupted_attempts": attempts,
                "recoveries_logged": recovered,
                "trials_verified": verified,
                "budget": TRIALS,
                "integrity_ok_kills": integrity_ok,
                "final_integrity": final_integrity,
                "curves_equal_reference": same_curves,
                "max_orphan_exit_s": max((r["orphans_exit_s"] for r in rows), default=0.0),
                "reader_reads": reads,
                "reader_errors": len(reader_errors),
                "failures": len(failures),
                "seconds": round(elapsed, 1),
                "seed": seed,
            }
        )
    )


if __name__ == "__main__":
    main()
