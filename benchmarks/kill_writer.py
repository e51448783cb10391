"""SIGKILL a session writer 30+ times at random moments and verify the file after each kill.

Two trials share one session file: one written with plain metric flushes, one with
`flush(resume_state=...)` every other flush (a child restarting on it rewinds to its resume
checkpoint). Kills alternate between them; after every kill the file must pass
`PRAGMA integrity_check`, hold every flush the dead child reported as committed, and show
no torn flush (see `tests/sessions/writer_process.py`).

    /tmp/venv/bin/python benchmarks/kill_writer.py [--kills 32] [--seed N]

Prints a table, then one JSON line with the results.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sessions import writer_process
from tunebook.sessions import Session

MODES = ("metrics", "resume")


def main() -> None:
    """Kill, verify, repeat; print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=32)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = random.randrange(2**32) if args.seed is None else args.seed
    rng = random.Random(seed)
    stats = {
        mode: {"kills": 0, "in_flush": 0, "flushes": 0, "failures": 0, "last_step": -1}
        for mode in MODES
    }
    failures: list[str] = []
    integrity_ok = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kill.tunebook"
        with Session.create(path, "tabular") as session:
            experiment = session.add_experiment("kill", "survive SIGKILL", {}, 10**9)
            study = session.add_study(experiment.id, "s", {}, "random", 2, 0, "eval/error", "min")
            trials = {mode: session.add_trial(study.id, {"mode": mode}, 0, 0).id for mode in MODES}
            for trial_id in trials.values():
                session.start_trial(trial_id)
        for kill in range(args.kills):
            mode = MODES[kill % 2]
            report = writer_process.kill_once(path, trials[mode], mode, rng)
            row = stats[mode]
            row["kills"] += 1
            try:
                assert report.returncode == -signal.SIGKILL, f"child died early: {report.stderr}"
                with Session.open(path) as session:
                    verdict = session.integrity_check()
                    assert verdict == "ok", f"integrity_check: {verdict}"
                    integrity_ok += 1
                    last = writer_process.check_trial(session, trials[mode])
                    assert last >= report.last_step, f"reported step {report.last_step} missing"
                    if report.last_resume_step >= 0:
                        resume_step = session.trial(trials[mode]).resume_step
                        assert resume_step is not None and resume_step >= report.last_resume_step
                row["flushes"] += len(report.flushes)
                row["in_flush"] += report.killed_in_flush
                row["last_step"] = last
            except AssertionError as exc:
                row["failures"] += 1
                failures.append(f"kill {kill} ({mode}): {exc}")
        with Session.open(path) as session:
            final_integrity = session.integrity_check()
            values = session.metric_count()
    elapsed = time.perf_counter() - start
    print(
        f"{'mode':<10}{'kills':>7}{'in flush()':>12}{'verified flushes':>18}{'last step':>11}"
        f"{'failures':>10}"
    )
    for mode, row in stats.items():
        print(
            f"{mode:<10}{row['kills']:>7}{row['in_flush']:>12}{row['flushes']:>18}{row['last_step']:>11}"
            f"{row['failures']:>10}"
        )
    print(
        f"integrity ok after {integrity_ok}/{args.kills} kills; final: {final_integrity}; "
        f"{values:,} values stored; {elapsed:.1f} s; seed {seed}"
    )
    for failure in failures:
        print(f"FAIL {failure}")
    result = {
        "benchmark": "kill_writer",
        "kills": args.kills,
        "kills_inside_flush": sum(row["in_flush"] for row in stats.values()),
        "verified_flushes": sum(row["flushes"] for row in stats.values()),
        "per_mode": stats,
        "integrity_ok_kills": integrity_ok,
        "final_integrity": final_integrity,
        "values_stored": values,
        "failures": len(failures),
        "seconds": round(elapsed, 1),
        "seed": seed,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
