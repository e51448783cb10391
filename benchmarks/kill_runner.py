"""SIGKILL `tunebook run -j 2` 20+ times at random moments of a study, restarting it after
each kill, and verify the session every time.

The study runs on the built-in `tabular` workload. Kills alternate between "any moment"
(a random delay after launch: start-up, recovery, scheduling or training) and "while
training" (a random delay after the new runner committed its first resume checkpoint).
After every kill: `PRAGMA integrity_check` is ok, every completed trial is unchanged (result
and every metric), no trial is failed, and the killed runner's worker processes exit (a
worker must not outlive its runner). At the end, after a last uninterrupted run: exactly the
budget of completed trials, each trial's attempts = 1 + the attempts a kill interrupted, every
`train/loss` series is steps 1..N with no gap, and every curve equals that of an
uninterrupted reference run of the same spec (deterministic CPU).

    /tmp/venv/bin/python benchmarks/kill_runner.py [--kills 20] [--seed N]

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
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.execution.conftest import losses, trial_record
from tunebook.core.design import design_from_dict
from tunebook.core.execution.runner import Runner
from tunebook.core.execution.trial_config import known_hparams
from tunebook.core.experiments import add_experiment
from tunebook.core.workloads import load_workload
from tunebook.sessions import CheckpointKind, Session, TrialStatus

TUNEBOOK = (sys.executable, "-m", "tunebook.tui.cli")
STEPS, TRIALS = 800, 24
SPEC = {
    "name": "kill",
    "goal": "Does a study survive kill -9?",
    "max_train_steps": STEPS,
    "eval_every": 60,
    "checkpoint_every": 30,
    "fixed": {"optimizer": "adam", "batch_size": 64, "width": 64, "depth": 2},
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
    completed: dict[int, tuple[Any, ...]] = {}
    integrity_ok = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path, reference = Path(tmp) / "kill.tunebook", Path(tmp) / "reference.tunebook"
        create(path)
        for kill in range(args.kills):
            launched = time.time()
            runner = subprocess.Popen(
                [*TUNEBOOK, "run", str(path), "--workers", "2"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            phase = "any moment" if kill % 2 else "training"
            if kill % 2:
                time.sleep(rng.uniform(0.2, 5.0))
            else:
                deadline = time.monotonic() + 120
                while not training_since(path, launched) and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(rng.uniform(0.0, 1.0))
            delay = time.time() - launched
            if runner.poll() is not None:
                failures.append(f"kill {kill}: the study finished before the kill; make it longer")
                break
            workers = children(runner.pid)
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
                    elif trial.status.is_finished():
                        failures.append(f"kill {kill}: trial {trial.id} {trial.status.value}")
                done = len(session.trials(status=TrialStatus.COMPLETED))
            rows.append(
                {
                    "kill": kill,
                    "phase": phase,
                    "after_s": round(delay, 2),
                    "interrupted": hit,
                    "completed": done,
                    "workers": len(workers),
                    "orphans_exit_s": round(orphans_exit, 2),
                }
            )
        final = subprocess.run(
            [*TUNEBOOK, "run", str(path), "--workers", "2"], capture_output=True, text=True
        )
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
                if trial.attempts != 1 + len(interrupted.get(trial.id, ())):
                    problems.append(f"has {trial.attempts} attempts")
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
    print(
        f"{'kill':>4}  {'phase':<11}{'after s':>8}{'interrupted':>12}{'completed':>10}"
        f"{'workers':>8}{'orphans gone s':>15}"
    )
    for row in rows:
        print(
            f"{row['kill']:>4}  {row['phase']:<11}{row['after_s']:>8}{row['interrupted']:>12}"
            f"{row['completed']:>10}{row['workers']:>8}{row['orphans_exit_s']:>15}"
        )
    attempts = sum(map(len, interrupted.values()))
    print(
        f"{len(rows)} kills, {attempts} trial attempts interrupted and resumed "
        f"({recovered} recoveries logged); {verified}/{TRIALS} trials verified; integrity ok "
        f"after {integrity_ok}/{len(rows)} kills, final: {final_integrity}; curves equal to "
        f"an uninterrupted run: {same_curves}; {elapsed:.0f} s; seed {seed}"
    )
    for failure in failures:
        print(f"FAIL {failure}")
    print(
        json.dumps(
            {
                "benchmark": "kill_runner",
                "workload": "tabular",
                "kills": len(rows),
                "interrupted_attempts": attempts,
                "recoveries_logged": recovered,
                "trials_verified": verified,
                "budget": TRIALS,
                "integrity_ok_kills": integrity_ok,
                "final_integrity": final_integrity,
                "curves_equal_reference": same_curves,
                "max_orphan_exit_s": max((r["orphans_exit_s"] for r in rows), default=0.0),
                "failures": len(failures),
                "seconds": round(elapsed, 1),
                "seed": seed,
            }
        )
    )


if __name__ == "__main__":
    main()
