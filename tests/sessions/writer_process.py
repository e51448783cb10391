"""A session writer that a parent kills at random moments, and the checks that follow a kill.

Run as a script it is the child: it opens a session, writes metrics through
`MetricsWriter`, and prints `flushing STEP` before and `committed TOTAL STEP KIND` after
each flush (flushed at once), so the parent knows exactly which values were durable when it
sent SIGKILL, and whether the kill landed inside a commit.

    writer_process.py metrics PATH TRIAL_ID    4 series, 250 steps per flush, forever
    writer_process.py resume PATH TRIAL_ID     the same, every 2nd flush with a resume state
    writer_process.py busy PATH STUDY_ID SECS  trials start, log and finish for SECS seconds

Imported, it gives the parent `kill_once` (spawn, wait, SIGKILL, collect the report) and
`check_trial` (what must hold in the file after any kill). The test and
`benchmarks/kill_writer.py` share both.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tunebook.sessions import Session, TrialStatus

SERIES = ("train/loss", "train/lr", "eval/error", "time/step")
STEPS_PER_FLUSH = 250
RESUME_EVERY = 2  # every 2nd flush of `resume` mode carries the training state
PAYLOAD_BYTES = 64 * 1024
MAX_CHILD_SECONDS = 60.0  # a child whose parent died stops by itself
SCRIPT = Path(__file__).resolve()


def values_at(step: int) -> dict[str, float]:
    """The values logged at `step`: deterministic, so the parent can check every one."""
    return {name: step + index / 8 for index, name in enumerate(SERIES)}


def resume_payload(step: int) -> bytes:
    """The fake training state saved at `step` (its step is readable from the bytes)."""
    return f"{step:012d}".encode() + bytes([step % 251]) * PAYLOAD_BYTES


def _write(path: str, trial_id: int, with_resume: bool) -> None:
    """Append blocks of steps until killed; one stdout line per committed flush."""
    stop_at = time.monotonic() + MAX_CHILD_SECONDS
    with Session.open(path) as session:
        if with_resume:
            resumed = session.rewind_trial(trial_id)
            step = 0 if resumed is None else resumed + 1
        else:
            done = session.trial_series(trial_id, [SERIES[0]]).get(SERIES[0])
            step = done.steps[-1] + 1 if done else 0
        writer = session.metrics_writer(trial_id, flush_every=10**9)
        total = session.metric_count(trial_id)
        flushes = 0
        while time.monotonic() < stop_at:
            for s in range(step, step + STEPS_PER_FLUSH):
                writer.add(s, values_at(s))
            last = step + STEPS_PER_FLUSH - 1
            flushes += 1
            state = None
            if with_resume and flushes % RESUME_EVERY == 0:
                state = (last, resume_payload(last))
            print(f"flushing {last}", flush=True)
            total += writer.flush(resume_state=state)
            step = last + 1
            kind = "resume" if state else "metrics"
            print(f"committed {total} {last} {kind}", flush=True)


def _busy(path: str, study_id: int, seconds: float) -> None:
    """Be the runner: trials go pending → running → completed while metrics stream in."""
    deadline = time.monotonic() + seconds
    finished = 0
    with Session.open(path) as session:
        session.claim_runner(stale_after=30.0, command="writer_process busy")
        while time.monotonic() < deadline:
            trial = session.add_trial(study_id, {"lr": 10.0 ** -(finished % 5)}, 0, finished)
            session.start_trial(trial.id)
            writer = session.metrics_writer(trial.id)
            for block in range(4):
                for step in range(block * 50, (block + 1) * 50):
                    writer.add(step, values_at(step))
                writer.flush()
                session.heartbeat()
            session.finish_trial(
                trial.id, TrialStatus.COMPLETED, best_step=199, best_value=199.0, writer=writer
            )
            finished += 1
            print(f"finished {finished}", flush=True)
        session.release_runner()


@dataclass
class KillReport:
    """What one killed child said before dying."""

    lines: list[str]
    returncode: int
    stderr: str

    @property
    def flushes(self) -> list[str]:
        """The child's `committed ...` lines, one per flush it saw commit."""
        return [line for line in self.lines if line.startswith("committed ")]

    @property
    def killed_in_flush(self) -> bool:
        """True when the kill landed inside `flush()` (after "flushing", before "committed")."""
        return bool(self.lines) and self.lines[-1].startswith("flushing ")

    @property
    def last_step(self) -> int:
        """The last step the child reported as committed (-1 if none)."""
        return max((int(line.split()[2]) for line in self.flushes), default=-1)

    @property
    def last_resume_step(self) -> int:
        """The step of the last resume state the child reported as committed (-1 if none)."""
        steps = [int(line.split()[2]) for line in self.flushes if line.endswith(" resume")]
        return max(steps, default=-1)


def kill_once(path: Path, trial_id: int, mode: str, rng: random.Random) -> KillReport:
    """Start a child on `path`, SIGKILL it at a random moment, and return its report.

    Mostly the kill lands while the child is writing (after its first flush); one time in
    five it lands earlier, while the child is still starting up or opening the file.
    """
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), mode, str(path), str(trial_id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    try:
        if rng.random() < 0.2:
            time.sleep(rng.uniform(0.05, 0.4))
        else:
            while line := child.stdout.readline():  # up to the first committed flush
                lines.append(line)
                if line.startswith("committed "):
                    break
            time.sleep(rng.uniform(0.0, 0.12))
        os.kill(child.pid, signal.SIGKILL)
        rest, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines.extend(rest.splitlines(keepends=True))
    complete = [line.strip() for line in lines if line.endswith("\n") and line.strip()]
    return KillReport(complete, child.returncode, stderr)


def check_trial(session: Session, trial_id: int) -> int:
    """Assert what must hold after any kill; return the last step stored (-1 if none).

    Every series holds the same whole blocks of steps 0..n-1 with exactly the values the
    writer logged (no torn flush), and the resume state, if any, agrees with the trial row,
    carries its own step and is not ahead of the metrics.
    """
    series = session.trial_series(trial_id)
    trial = session.trial(trial_id)
    state = session.resume_state(trial_id)
    if trial.resume_step is None:
        assert state is None, f"resume state {state[0] if state else ''} without resume_step"
    else:
        assert state is not None, f"resume_step {trial.resume_step} without a resume state"
        assert state[0] == trial.resume_step, (state[0], trial.resume_step)
        assert state[1] == resume_payload(state[0]), f"resume bytes torn at step {state[0]}"
        assert (trial.resume_step + 1) % STEPS_PER_FLUSH == 0, trial.resume_step
    if not series:
        assert trial.resume_step is None, "a resume state but no metrics"
        return -1
    assert set(series) == set(SERIES), sorted(series)
    count = len(series[SERIES[0]].steps)
    assert count % STEPS_PER_FLUSH == 0, f"{count} steps: a flush was torn"
    for name, data in series.items():
        assert data.steps == list(range(count)), f"series {name} has gaps or extra steps"
        expected = [values_at(step)[name] for step in data.steps]
        assert data.values == expected, f"series {name} holds values nobody wrote"
    if trial.resume_step is not None:
        assert trial.resume_step <= count - 1, (trial.resume_step, count - 1)
    return count - 1


def main(argv: list[str]) -> None:
    """Dispatch on the mode named in `argv[1]`."""
    mode, path = argv[1], argv[2]
    if mode in ("metrics", "resume"):
        _write(path, int(argv[3]), with_resume=mode == "resume")
    elif mode == "busy":
        _busy(path, int(argv[3]), float(argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv)
