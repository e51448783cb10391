"""The app's run monitor under load: key latency, opening a big session, the runner's
throughput with the app attached, and the app's memory (issue 9).

A session holds a synthetic experiment of `--trials` finished trials × `--steps` steps
(1,000 × 1,000 by default, written through `Session` and its metrics writer) plus a real
experiment on the built-in `tabular` workload whose pending trials a detached 2-worker
runner (`tunebook run --detach`, as the app starts it) trains throughout. Then, alternating
phases of `--phase` seconds, `--rounds` times each:

- detached: nothing watches the file;
- attached: the app (a separate process, headless at 80×24, the same code as `tunebook
  PATH`) opens the session and shows the monitor; for the first third of the phase it
  presses ↓ (or ↑) every 50-150 ms ("scrolling"), then it only watches ("watching").

Measured:
- `open_s`: app start → the first frame of the monitor with its rows and curves (median of
  the attached phases; `open_process_s` also counts the interpreter's start and imports);
- key press → next frame with the cursor moved (`key_ms_median`, `key_ms_p95`): the
  key enters through the driver's queue like a terminal's, and a frame is the app's
  `_display` of a compositor update (headless: rendered, not written to a terminal);
- the runner's trials/min in each phase, as trial-equivalents trained inside the window
  (each trial counts the fraction of its start→finish that falls in it): `attached_ratio`
  is watching vs detached, `scrolling_ratio` scrolling vs detached (medians), with the
  app's CPU while watching (`app_cpu_watching_pct`, % of one core);
- the app's resident memory at the end of each attached phase (`rss_mb`, peak `hwm_mb`).

Goals: key median < 50 ms and p95 < 150 ms, open < 1 s, ratio ≥ 0.97, RSS < 300 MB.

    .venv/bin/python benchmarks/tui.py [--trials 1000] [--steps 1000] [--phase 30] [--rounds 3]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The share of an attached phase spent pressing keys; the rest the app only watches.
KEY_SHARE = 1 / 3
GOALS = {"key_ms_median": 50, "key_ms_p95": 150, "open_s": 1.0, "ratio": 0.97, "rss_mb": 300}


def write_session(path: Path, trials: int, steps: int, run_steps: int) -> None:
    """The synthetic finished experiment and the real one the runner trains."""
    from tunebook.core.experiments import add_experiment_from_dict
    from tunebook.sessions import Session, TrialStatus

    rng = random.Random(0)
    design = {
        "scientific": {"depth": [2, 3]},
        "nuisance": {"learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"}},
    }
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("synthetic", "A big finished one", design, steps)
        studies = [
            session.add_study(
                experiment.id,
                f"depth={d}",
                {},
                "quasi-random",
                trials // 2,
                0,
                "error",
                "min",
                {"depth": d},
            )
            for d in (2, 3)
        ]
        with session.transaction():
            for i in range(trials):
                study = studies[i % 2]
                trial = session.add_trial(
                    study.id, {"learning_rate": 10 ** rng.uniform(-4, -1)}, 1, 2
                )
                session.start_trial(trial.id)
                writer = session.metrics_writer(trial.id, flush_every=10**9)
                scale = rng.uniform(0.5, 2)
                for step in range(1, steps + 1):
                    values = {"train/loss": scale / step**0.5}
                    if step % max(1, steps // 10) == 0:
                        values["validation/error"] = scale / 4 / step**0.3
                    writer.add(step, values)
                session.finish_trial(
                    trial.id,
                    TrialStatus.COMPLETED,
                    best_step=steps,
                    best_value=scale / 4 / steps**0.3,
                    writer=writer,
                )
        add_experiment_from_dict(
            session,
            {
                "name": "live",
                "goal": "Keep a runner busy",
                "max_train_steps": run_steps,
                "fixed": {"optimizer": "adam", "batch_size": 64, "width": 32, "depth": 2},
                "nuisance": {"learning_rate": {"low": 3e-4, "high": 3e-2, "scale": "log"}},
                "search": {"algorithm": "quasi-random", "trials": 5000, "seed": 0},
            },
            "<benchmark>",
        )


def trial_equivalents(path: Path, start: float, end: float) -> float:
    """Trials of the live experiment trained within [start, end): each finished trial
    counts the fraction of its start → finish inside the window."""
    from tunebook.sessions import Session

    with Session.open(path, read_only=True) as session:
        live = session.experiment("live")
        trials = session.trials(experiment_id=live.id)
    total = 0.0
    for t in trials:
        if t.started_at is None or t.finished_at is None or t.finished_at <= t.started_at:
            continue
        overlap = min(end, t.finished_at) - max(start, t.started_at)
        total += max(0.0, overlap) / (t.finished_at - t.started_at)
    return total


# -- the app, in a child process -------------------------------------------------------------


def child(path: Path, seconds: float, spawned: float) -> None:
    """Open the app on `path`, report when the monitor is painted, press keys for
    `seconds`, then report latencies and memory (one JSON line each on stdout)."""
    from textual import events

    from tunebook.tui.app import TunebookApp
    from tunebook.tui.screens.run_monitor import RunMonitorScreen
    from tunebook.tui.widgets.trial_table import TrialTable

    frames: list[tuple[float, int | None]] = []
    painted: list[float] = []

    import tunebook.tui.app

    class MeasuredApp(TunebookApp):
        CSS_PATH = str(Path(tunebook.tui.app.__file__).with_name("app.tcss"))

        def _display(self, screen, renderable) -> None:  # type: ignore[no-untyped-def]
            super()._display(screen, renderable)
            if renderable is None or not isinstance(screen, RunMonitorScreen):
                return
            table = screen.query_one(TrialTable)
            frames.append((time.perf_counter(), table.cursor_row))
            if not painted and table.row_count and screen.curves:
                painted.append(time.perf_counter())

    async def run() -> None:
        app = MeasuredApp(path)
        started = time.perf_counter()
        async with app.run_test(size=(80, 24)) as pilot:
            shown = False
            while not painted:
                if time.perf_counter() - started > 60:
                    raise SystemExit("the monitor was not painted within 60 s")
                if not shown and app.session_path is not None:
                    app.show_monitor()
                    shown = True
                await asyncio.sleep(0.005)
            open_s = painted[0] - started
            print(
                json.dumps(
                    {"ready": True, "open_s": open_s, "open_process_s": time.time() - spawned}
                ),
                flush=True,
            )
            screen = app.screen
            table = screen.query_one(TrialTable)
            latencies = []
            deadline = time.monotonic() + seconds * KEY_SHARE
            direction = 1
            while time.monotonic() < deadline:
                await asyncio.sleep(random.uniform(0.05, 0.15))
                if not 0 <= table.cursor_row + direction < table.row_count:
                    direction = -direction
                target = table.cursor_row + direction
                mark = len(frames)
                pressed = time.perf_counter()
                key = events.Key("down" if direction > 0 else "up", None)
                key.set_sender(app)
                app._driver.send_message(key)  # as a terminal's key arrives
                while time.perf_counter() - pressed < 2:
                    hit = next((t for t, row in frames[mark:] if row == target), None)
                    if hit is not None:
                        latencies.append(hit - pressed)
                        break
                    await asyncio.sleep(0.001)
            cpu = time.process_time()
            print(json.dumps({"keys_done": True}), flush=True)
            await asyncio.sleep(seconds * (1 - KEY_SHARE))  # watching only
            watch_cpu = (time.process_time() - cpu) / (seconds * (1 - KEY_SHARE))
            await pilot.pause()
        status = Path("/proc/self/status").read_text()
        memory = {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
        print(
            json.dumps(
                {
                    "latencies": latencies,
                    "rss_mb": memory["VmRSS"] / 1024,
                    "hwm_mb": memory["VmHWM"] / 1024,
                    "watch_cpu": watch_cpu,
                }
            ),
            flush=True,
        )

    asyncio.run(run())


def attached_phase(path: Path, seconds: float, env: dict[str, str]) -> dict:
    """Run the app child for one phase; the window is from its painted monitor to its end."""
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            str(path),
            "--phase",
            str(seconds),
            "--spawned",
            repr(time.time()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline() or "{}")
    if not ready.get("ready"):
        raise SystemExit(
            f"the app did not start: {process.stderr.read() if process.stderr else ''}"
        )
    start = time.time()
    json.loads(process.stdout.readline() or "{}")  # keys done: watching from here
    middle = time.time()
    result = json.loads(process.stdout.readline() or "{}")
    end = time.time()
    process.wait(30)
    return {**ready, **result, "scrolling": (start, middle), "watching": (middle, end)}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0…1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Build the session, start the runner, alternate the phases, print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="synthetic finished trials")
    parser.add_argument("--steps", type=int, default=1000, help="steps per synthetic trial")
    parser.add_argument("--run-steps", type=int, default=300, help="steps per trained trial")
    parser.add_argument("--phase", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="phases of each kind")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.phase, args.spawned)
        return

    from tunebook.core.execution.control import RunRequest, start_runner, stop_runner

    folder = Path(tempfile.mkdtemp(prefix="tunebook-tui-bench-"))
    env = {
        **os.environ,
        "TUNEBOOK_STATE_DIR": str(folder / "state"),
        "TUNEBOOK_CONFIG_DIR": str(folder / "config"),
    }
    os.environ.update(env)
    path = folder / "big.tunebook"
    started = time.perf_counter()
    write_session(path, args.trials, args.steps, args.run_steps)
    write_s = time.perf_counter() - started
    start_runner(path, RunRequest(workers=2))
    rates: dict[str, list[float]] = {"detached": [], "attached": [], "scrolling": []}
    opens, opens_process, latencies, rss, hwm, cpu = [], [], [], [], [], []

    def rate(window: tuple[float, float]) -> float:
        return trial_equivalents(path, *window) / (window[1] - window[0]) * 60

    try:
        time.sleep(args.warmup)
        for round_index in range(args.rounds):
            order = ("detached", "attached") if round_index % 2 == 0 else ("attached", "detached")
            for kind in order:
                if kind == "detached":
                    start = time.time()
                    time.sleep(args.phase)
                    window = (start, time.time())
                    time.sleep(2)  # let the window's last trials finish before counting
                    rates["detached"].append(rate(window))
                else:
                    result = attached_phase(path, args.phase, env)
                    opens.append(result["open_s"])
                    opens_process.append(result["open_process_s"])
                    latencies += result["latencies"]
                    rss.append(result["rss_mb"])
                    hwm.append(result["hwm_mb"])
                    cpu.append(result["watch_cpu"])
                    time.sleep(2)
                    rates["attached"].append(rate(result["watching"]))
                    rates["scrolling"].append(rate(result["scrolling"]))
    finally:
        stop_runner(path, timeout=120)
    detached = statistics.median(rates["detached"])
    attached = statistics.median(rates["attached"])
    ms = [x * 1000 for x in latencies]
    result = {
        "benchmark": "tui",
        "trials": args.trials,
        "steps": args.steps,
        "write_s": round(write_s, 2),
        "open_s": round(statistics.median(opens), 3),
        "open_process_s": round(statistics.median(opens_process), 3),
        "key_presses": len(ms),
        "key_ms_median": round(statistics.median(ms), 1),
        "key_ms_p95": round(percentile(ms, 0.95), 1),
        "trials_per_min_detached": [round(r, 1) for r in rates["detached"]],
        "trials_per_min_attached": [round(r, 1) for r in rates["attached"]],
        "attached_ratio": round(attached / detached, 3) if detached else None,
        "trials_per_min_scrolling": [round(r, 1) for r in rates["scrolling"]],
        "scrolling_ratio": round(statistics.median(rates["scrolling"]) / detached, 3)
        if detached
        else None,
        "app_cpu_watching_pct": round(100 * statistics.median(cpu), 1),
        "rss_mb": round(max(rss), 1),
        "hwm_mb": round(max(hwm), 1),
        "goals": GOALS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
