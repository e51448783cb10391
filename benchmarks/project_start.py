"""The whole project start on the default workload, as a user runs it (issue 10).

A fresh session on the built-in `tabular` workload, then through the command line, each a
real process: `tunebook probe batch-size`, `decide batch-size`, `probe initial-config`,
`decide initial-config`, `probe training-length`, `decide training-length` (and, with
`--stability`, the stability probe too), timing each with the process start included. Goal:
batch-size probe + initial configuration + training-length sweep under 2 minutes on the
2-core CPU machine. Prints one JSON line: seconds per step, the total and the decisions.

    .venv/bin/python benchmarks/project_start.py [--workers 2] [--stability] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = (
    ("probe", "batch-size"),
    ("decide", "batch-size"),
    ("probe", "initial-config"),
    ("decide", "initial-config"),
    ("probe", "training-length"),
    ("decide", "training-length"),
)


def tunebook(*args: str) -> float:
    """Run one tunebook command; its wall time in seconds (a failure stops the benchmark)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tunebook.tui.cli", *args], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def one_round(folder: Path, workers: int, stability: bool) -> dict:
    path = str(folder / "start.tunebook")
    tunebook("new", path, "--workload", "tabular")
    steps = [*STEPS, ("probe", "stability"), ("decide", "stability")] if stability else STEPS
    seconds = {}
    for verb, name in steps:
        args = [verb, name, path] if verb == "probe" else [verb, path, name]
        if verb == "probe":
            args += ["--workers", str(workers)]
        seconds[f"{verb} {name}"] = tunebook(*args)
    decided = json.loads(
        subprocess.run(
            [sys.executable, "-m", "tunebook.tui.cli", "status", path, "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )["decisions"]
    return {"seconds": seconds, "total_s": sum(seconds.values()), "decisions": decided}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stability", action="store_true")
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            rounds.append(one_round(Path(folder), args.workers, args.stability))
    totals = [r["total_s"] for r in rounds]
    print(
        json.dumps(
            {
                "benchmark": "project_start",
                "workers": args.workers,
                "rounds": args.rounds,
                "total_s_median": round(statistics.median(totals), 1),
                "total_s": [round(t, 1) for t in totals],
                "goal_s": 120,
                "seconds": {k: round(v, 1) for k, v in rounds[-1]["seconds"].items()},
                "decisions": {d["kind"]: d["value"] for d in rounds[-1]["decisions"]},
            }
        )
    )


if __name__ == "__main__":
    main()
