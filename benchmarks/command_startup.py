"""How long `tunebook new` and `tunebook experiment add` take on the built-in workload
(issue 13: at most 1.5 s each, their checks included), with the warm worker server up
against with it off.

Both commands check the workload by training one step, which needs torch. With a server
up they check in a process it forks, where torch is imported already; with it off
(``TUNEBOOK_WARM_SECONDS=0``) each imports torch itself. Each round runs, alternately, the
two commands on a fresh session with the server up (started and waited for before the
first round, as after a user's first command of the day) and with it off. `end_to_end.py`
measures the first command of the day, which starts the server.

Run: ``python benchmarks/command_startup.py`` (``STARTUP_ROUNDS`` sets the rounds, default
7); the last line printed is the results as JSON: medians per side and command, and the
ratios up/off.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tunebook.core.execution import warm_client

ROUNDS = int(os.environ.get("STARTUP_ROUNDS", "7"))
GOAL_SECONDS = 1.5
SPEC = """\
name = "lr"
goal = "Which learning rate?"
max_train_steps = 100

[fixed]
optimizer = "adam"
batch_size = 64

[nuisance]
learning_rate = { low = 1e-4, high = 1e-1, scale = "log" }

[search]
trials = 8
"""


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of `command` (must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    tunebook = str(Path(sys.executable).with_name("tunebook"))
    folder = Path(tempfile.mkdtemp(prefix="tb-startup-"))
    servers = Path(tempfile.mkdtemp(prefix="tbw-"))  # short: a socket's path has a limit
    (folder / "lr.toml").write_text(SPEC)
    sides = {
        "server up": {**os.environ, warm_client.FOLDER_ENV: str(servers)},
        "server off": {**os.environ, warm_client.IDLE_ENV: "0"},
    }
    load_before = os.getloadavg()
    try:
        os.environ[warm_client.FOLDER_ENV] = str(servers)
        if warm_client.ready_address() is None:
            raise SystemExit("no warm server could be started here")
        seconds: dict[str, dict[str, list[float]]] = {s: {"new": [], "add": []} for s in sides}
        for index in range(ROUNDS):
            for side, env in sides.items():
                path = folder / f"{side.split()[1]}-{index}.tunebook"
                new = [tunebook, "new", str(path), "-w", "tabular"]
                seconds[side]["new"].append(timed(new, folder, env))
                add = [tunebook, "experiment", "add", str(path), "lr.toml"]
                seconds[side]["add"].append(timed(add, folder, env))
            print(f"round {index + 1}/{ROUNDS}: " + ", ".join(
                f"{side} new {times['new'][-1]:.2f} s add {times['add'][-1]:.2f} s"
                for side, times in seconds.items()
            ))  # fmt: skip
    finally:
        shutil.rmtree(servers, ignore_errors=True)  # its server sees its socket gone, exits
        shutil.rmtree(folder, ignore_errors=True)
    medians = {
        side: {command: round(statistics.median(v), 3) for command, v in times.items()}
        for side, times in seconds.items()
    }
    up, off = medians["server up"], medians["server off"]
    print(
        json.dumps(
            {
                "benchmark": "command_startup",
                "rounds": ROUNDS,
                "cpus": os.cpu_count(),
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in os.getloadavg()],
                "median_seconds": medians,
                "ratios_up_over_off": {c: round(up[c] / off[c], 3) for c in ("new", "add")},
                "goal": f"new and add <= {GOAL_SECONDS} s each",
                "goal_met": {
                    side: all(m[c] <= GOAL_SECONDS for c in ("new", "add"))
                    for side, m in medians.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
