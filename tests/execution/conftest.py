"""Fixtures and helpers for the execution tests: tiny experiments on the `Tiny` workload,
the real `tunebook` command in subprocesses, and read-only looks into session files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.execution.workloads import TINY_REF
from tunebook.core.execution.runner import Runner, RunResult
from tunebook.core.experiments import add_experiment_from_spec
from tunebook.sessions import Session, Trial, TrialStatus

#: `tunebook` as a subprocess, with the interpreter running the tests.
TUNEBOOK = (sys.executable, "-m", "tunebook.tui.cli")
#: What the command lines of a run's own worker server and of the warm server hold.
FORKSERVER = b"from multiprocessing.forkserver import main"
WARM_SERVER = b"from tunebook.core.execution.warm_server import main"


def toml_value(value: Any) -> str:
    """One value in TOML syntax (strings, numbers, booleans, arrays and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def spec_text(
    *,
    name: str = "tiny",
    steps: int = 30,
    trials: int = 3,
    fixed: Mapping[str, Any] | None = None,
    scientific: Mapping[str, Any] | None = None,
    nuisance: Mapping[str, Any] | None = None,
    algorithm: str = "quasi-random",
    seed: int = 0,
    eval_every: int | None = None,
    checkpoint_every: int | None = None,
) -> str:
    """A valid experiment spec for `Tiny`: adam, batch 32, the learning rate as nuisance."""
    top: dict[str, Any] = {"name": name, "goal": "Does it run?", "max_train_steps": steps}
    if eval_every is not None:
        top["eval_every"] = eval_every
    if checkpoint_every is not None:
        top["checkpoint_every"] = checkpoint_every
    sections: dict[str, Mapping[str, Any]] = {
        "fixed": {"optimizer": "adam", "batch_size": 32, **(fixed or {})},
        "scientific": dict(scientific or {}),
        "nuisance": dict(
            nuisance or {"learning_rate": {"low": 1e-3, "high": 3e-2, "scale": "log"}}
        ),
        "search": {"algorithm": algorithm, "trials": trials, "seed": seed},
    }
    lines = [f"{k} = {toml_value(v)}" for k, v in top.items()]
    for section, table in sections.items():
        if table:
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def new_session(
    folder: Path, spec: str, name: str = "s", config: Mapping[str, Any] | None = None
) -> Path:
    """A `Tiny` session at `folder/name.tunebook` holding the experiment `spec` (TOML)."""
    spec_path = folder / f"{name}.toml"
    spec_path.write_text(spec)
    path = folder / f"{name}.tunebook"
    with Session.create(path, TINY_REF, dict(config or {})) as session:
        add_experiment_from_spec(session, spec_path)
    return path


def cli(
    *args: Any,
    timeout: float = 120,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `tunebook ARGS` to completion (in folder `cwd`, with `env` added to the
    environment); output captured as text."""
    return subprocess.run(
        [*TUNEBOOK, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )


def run_refused(path: Path, *options: Any, env: Mapping[str, str] | None = None) -> str:
    """`tunebook run PATH OPTIONS` (with `env` added), which must exit 2 with one
    `tunebook: ` sentence and leave every trial as it was; returns the sentence."""
    before = [(t.id, t.status) for t in trials_of(path)]
    run = cli("run", path, *options, env=env)
    assert run.returncode == 2, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("tunebook: "), line
    assert [(t.id, t.status) for t in trials_of(path)] == before
    return line


def start_cli(*args: Any, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `tunebook ARGS` in its own process group (so a test can signal the group),
    with `env` added to the environment."""
    return subprocess.Popen(
        [*TUNEBOOK, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def sha256(path: Path) -> str:
    """The hex digest of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def trials_of(path: Path) -> list[Trial]:
    """Every trial of a session, read-only."""
    with Session.open(path, read_only=True) as session:
        return session.trials()


def losses(path: Path) -> dict[tuple[str, int], tuple[list[int], list[float]]]:
    """`train/loss` (steps, values) of every trial, keyed by (study name, trial number)."""
    with Session.open(path, read_only=True) as session:
        names = {s.id: s.name for s in session.studies()}
        out = {}
        for trial in session.trials():
            series = session.trial_series(trial.id, ["train/loss"]).get("train/loss")
            steps, values = (series.steps, series.values) if series else ([], [])
            out[(names[trial.study_id], trial.number)] = (list(steps), list(values))
        return out


def trial_record(session: Session, trial_id: int) -> tuple[Any, ...]:
    """What must never change once a trial completed: its result and every metric."""
    trial = session.trial(trial_id)
    series = session.trial_series(trial_id)
    return (
        trial.attempts,
        trial.best_value,
        trial.best_step,
        trial.final_value,
        {name: (s.steps, s.values) for name, s in series.items()},
    )


def wait_for(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def running_trials(path: Path) -> list[Trial]:
    """The trials a session shows as running."""
    with Session.open(path, read_only=True) as session:
        return session.trials(status=TrialStatus.RUNNING)


def children(pid: int) -> list[int]:
    """Pids of the live processes whose parent is `pid` (a /proc scan)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry))
    return found


def workers_of(runner_pid: int) -> list[int]:
    """The runner's worker processes: the children of a worker server (the runner's own
    forkserver, or the warm server its commands share) that hold one of the runner's pipes
    (a worker's result pipe, or the runner's stdout it writes to)."""
    pipes = pipes_of(runner_pid)
    return [
        pid
        for server in servers(FORKSERVER, WARM_SERVER)
        for pid in children(server)
        if pipes_of(pid) & pipes
    ]


def servers(*commands: bytes) -> list[int]:
    """Pids of the processes whose command line holds one of `commands` (a /proc scan)."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{entry}/cmdline").read_bytes() if entry.isdigit() else b""
            if any(c in command for c in commands):
                found.append(int(entry))
    return found


def runner_processes(runner_pid: int) -> list[int]:
    """Every process that must end with the runner: its children (its own forkserver, the
    resource tracker) and its workers; not a warm server it started, which outlives it."""
    warm = servers(WARM_SERVER)
    return [*(c for c in children(runner_pid) if c not in warm), *workers_of(runner_pid)]


def pipes_of(pid: int) -> set[str]:
    """The pipes `pid` has open (`pipe:[inode]`), from /proc."""
    found = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("pipe:"):
                    found.add(target)
    return found


def writing_to_a_pipe(pid: int) -> bool:
    """True while a thread of `pid` is blocked writing into a full pipe (its kernel wait
    channel): the process is half-way through sending a message bigger than the pipe."""
    for wchan in Path(f"/proc/{pid}/task").glob("*/wchan"):
        with contextlib.suppress(OSError):
            channel = wchan.read_text()
            if "pipe_write" in channel or channel == "pipe_wait":
                return True
    return False


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class BackgroundRun(threading.Thread):
    """A `Runner` in a thread of the test process, e.g. an uninterrupted reference run that
    trains while the run under test sleeps; `result()` joins it, re-raising its error."""

    def __init__(self, path: Path, **options: Any) -> None:
        super().__init__(name=f"runner {path.name}", daemon=True)
        self.path, self.options = path, options
        self.outcome: RunResult | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        """Run the session to the end."""
        try:
            self.outcome = Runner(self.path, **self.options).run()
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float = 120) -> RunResult:
        """Wait for the run and return how it ended."""
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"the background run of {self.path} took over {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


def stop_once_checkpointed(path: Path, trials: int, **options: Any) -> None:
    """Run until `trials` trials have a checkpoint each, then stop gracefully."""
    stop = threading.Event()
    run = BackgroundRun(path, stop=stop, **options)

    def all_checkpointed() -> bool:
        with Session.open(path, read_only=True) as session:
            saved = [session.resume_state(t.id) for t in session.trials()]
            return len(saved) == trials and None not in saved

    wait_for(all_checkpointed, 120, f"a checkpoint of {trials} trials")
    stop.set()
    assert run.result().stopped


@pytest.fixture(autouse=True)
def no_ray_connection_left() -> Iterator[None]:
    """A Ray connection a run made stays for the process's life: each test leaves it, so
    the next one starts from a process without one, as a new script does."""
    yield
    if "tunebook.core.execution.executors.ray_cluster" in sys.modules:
        from tunebook.core.execution.executors.ray_cluster import leave_ray

        leave_ray()


@pytest.fixture
def tiny_session(tmp_path: Path) -> Path:
    """A session with one tiny experiment: 3 quasi-random trials of 30 steps."""
    return new_session(tmp_path, spec_text(eval_every=10, checkpoint_every=10))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts (with `start_cli`); at the end each one's process group is
    killed, so a failing test leaves no runner and no orphaned worker behind."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
