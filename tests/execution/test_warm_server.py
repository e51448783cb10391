"""The warm worker server: runs fork their workers from one server their commands share,
which `new` starts, which ends when idle, and which a worker's output and its runner's death
still reach as with a server of the runner's own. Real processes, real trials."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.execution.conftest import (
    TINY_REF,
    WARM_SERVER,
    alive,
    cli,
    new_session,
    run_refused,
    servers,
    spec_text,
    start_cli,
    wait_for,
    workers_of,
)
from tunebook.core.execution import warm_client
from tunebook.core.execution.pool import WorkerPool
from tunebook.sessions import BadInput, Session


@pytest.fixture
def warm_dir() -> Iterator[Path]:
    """A server folder of the test's own (short: a socket's path has a length limit); its
    servers are killed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="tbw-"))
    yield folder
    for pid in servers_in(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


def settings(folder: Path, idle: float = 60) -> dict[str, str]:
    return {warm_client.FOLDER_ENV: str(folder), warm_client.IDLE_ENV: f"{idle:g}"}


def servers_in(folder: Path) -> list[int]:
    """Pids of the live warm servers whose socket is in `folder` (the workers they fork
    share their command line, and are left out)."""
    found = [pid for pid in servers(WARM_SERVER) if alive(pid) and in_folder(pid, folder)]
    return [pid for pid in found if parent_of(pid) not in found]


def in_folder(pid: int, folder: Path) -> bool:
    with contextlib.suppress(OSError):
        return str(folder).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def worker_pids(path: Path) -> list[int]:
    """The worker pid of each trial start the session logged ("pid N, cpu")."""
    with Session.open(path, read_only=True) as session:
        wheres = [e.data.get("where", "") for e in session.events() if e.kind == "trial.started"]
    return [int(m.group(1)) for where in wheres if (m := re.match(r"pid (\d+)", where))]


def test_runs_fork_their_workers_from_one_warm_server(tmp_path: Path, warm_dir: Path) -> None:
    """Two runs of two sessions: every worker of both is a child of the same warm server,
    which outlives the first run; each run completes its trials."""
    env = settings(warm_dir)
    spec = spec_text(trials=2, steps=40, fixed={"sleep_ms": 25})
    parents = []
    for name in ("first", "second"):
        path = new_session(tmp_path, spec, name)
        runner = start_cli("run", path, "--workers", 2, env=env)
        pids = wait_for(lambda p=path: len(worker_pids(p)) == 2 and worker_pids(p), 60, "starts")
        parents += [parent_of(pid) for pid in pids]
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        assert "2/2 trials finished: 2 completed" in out
    (server,) = servers_in(warm_dir)
    assert parents == [server] * 4
    assert len(list(warm_dir.glob("*.sock"))) == 1


def test_new_starts_the_server_the_next_run_uses(tmp_path: Path, warm_dir: Path) -> None:
    """`tunebook new` starts the warm server (in the background); the run that follows
    forks its workers there rather than starting another."""
    path = tmp_path / "s.tunebook"
    created = cli("new", path, "-w", TINY_REF, env=settings(warm_dir))
    assert created.returncode == 0, created.stderr
    server = wait_for(lambda: servers_in(warm_dir), 60, "the server new started")
    socket = wait_for(lambda: next(warm_dir.glob("*.sock"), None), 60, "its socket")
    wait_for(lambda: warm_client.answers(socket), 60, "the server to answer")
    (spec := tmp_path / "s.toml").write_text(spec_text(trials=1, steps=5))
    assert cli("experiment", "add", path, spec, env=settings(warm_dir)).returncode == 0
    run = cli("run", path, "--workers", 1, env=settings(warm_dir))
    assert run.returncode == 0, run.stderr
    assert servers_in(warm_dir) == server


def test_the_server_ends_once_idle(tmp_path: Path, warm_dir: Path) -> None:
    """With one idle second, the server outlives a run longer than that (its idle time
    starts when the last worker exits), then is gone soon after, its socket removed."""
    path = new_session(tmp_path, spec_text(trials=1, steps=60, fixed={"sleep_ms": 40}))
    run = cli("run", path, "--workers", 1, env=settings(warm_dir, idle=1))
    assert run.returncode == 0, run.stderr
    assert servers_in(warm_dir) and list(warm_dir.glob("*.sock"))
    wait_for(lambda: not servers_in(warm_dir), 30, "the idle server to exit")
    assert not list(warm_dir.glob("*.sock"))


def test_a_worker_writes_to_its_runners_stderr(tmp_path: Path, warm_dir: Path) -> None:
    """What a workload prints in a worker forked by the warm server reaches the runner's
    own stderr, not the server's log."""
    path = new_session(tmp_path, spec_text(trials=1, steps=5), config={"say": "hello from splits"})
    run = cli("run", path, "--workers", 1, env=settings(warm_dir))
    assert run.returncode == 0, run.stderr
    assert "hello from splits" in run.stderr
    assert servers_in(warm_dir)


def test_a_killed_runners_workers_leave_the_server_it_shared(
    tmp_path: Path, warm_dir: Path, processes: list[subprocess.Popen[str]]
) -> None:
    """SIGKILL a runner with one worker training and one waiting for a task: both, children
    of the warm server that lives on, notice their runner is gone and exit (the waiting one
    has no pipe to break, and its parent never changes)."""
    path = new_session(tmp_path, spec_text(trials=1, steps=2000, fixed={"sleep_ms": 20}))
    runner = start_cli("run", path, "--workers", 2, env=settings(warm_dir))
    processes.append(runner)
    (training,) = wait_for(lambda: worker_pids(path), 60, "the trial to start")
    workers = workers_of(runner.pid)
    (server,) = servers_in(warm_dir)
    assert training in workers and len(workers) == 2
    assert [parent_of(pid) for pid in workers] == [server, server]
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(10)
    wait_for(lambda: not any(alive(pid) for pid in workers), 20, "the workers to exit")
    assert servers_in(warm_dir) == [server]


def test_bad_idle_seconds_are_one_sentence(tmp_path: Path, warm_dir: Path) -> None:
    path = new_session(tmp_path, spec_text(trials=1, steps=5))
    env = {warm_client.FOLDER_ENV: str(warm_dir), warm_client.IDLE_ENV: "soon"}
    line = run_refused(path, env=env)
    assert line == (
        "tunebook: TUNEBOOK_WARM_SECONDS must be a number of seconds (0 turns it off), got 'soon'"
    )


def test_where_there_is_no_server_to_have(warm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Off with 0 seconds; refused in a folder another user could enter; otherwise there."""
    monkeypatch.setenv(warm_client.FOLDER_ENV, str(warm_dir))
    monkeypatch.setenv(warm_client.IDLE_ENV, "0")
    assert warm_client.warm_server() is None
    monkeypatch.setenv(warm_client.IDLE_ENV, "30")
    server = warm_client.warm_server()
    assert server is not None and server.folder == warm_dir and server.idle == 30
    warm_dir.chmod(0o777)
    assert warm_client.warm_server() is None
    for bad in ("-1", "inf", "nan", "a minute"):
        monkeypatch.setenv(warm_client.IDLE_ENV, bad)
        with pytest.raises(BadInput, match="TUNEBOOK_WARM_SECONDS must be a number"):
            warm_client.warm_server()


def test_the_setup_key_follows_what_a_worker_inherits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables torch reads at import give another server; a terminal's do not."""
    before = warm_client.setup_key()
    monkeypatch.setenv("TERM", "something-else")
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "another test")
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", "/elsewhere")
    assert warm_client.setup_key() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert warm_client.setup_key() != before


def test_a_server_that_does_not_fork_is_given_up_for_one_of_the_pools_own(
    warm_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm server that answers but does not fork (here SIGSTOPped) costs a pool
    `FORK_WAIT` seconds; then its workers come from a server of its own."""
    for name, value in settings(warm_dir).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(warm_client, "FORK_WAIT", 1.0)
    assert warm_client.ready_address() is not None
    (server,) = servers_in(warm_dir)
    os.kill(server, signal.SIGSTOP)  # stays stopped until the fixture kills it
    pool = WorkerPool(2, None)
    try:
        assert not pool.warm
        workers = [worker.process for worker in pool.workers]
        assert all(p.is_alive() and parent_of(p.pid) != server for p in workers)
    finally:
        pool.close()


def add_in_new_process(path: Path, spec: Path, env: dict[str, str]) -> tuple[int, str, str, bool]:
    """`tunebook experiment add PATH SPEC` in a fresh interpreter: its exit code, output,
    errors, and whether torch was imported in that process."""
    code = (
        "import sys\n"
        "from tunebook.tui.cli import main\n"
        f"code = main(['experiment', 'add', {str(path)!r}, {str(spec)!r}])\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
        "sys.exit(code)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        cwd=spec.parent,
    )
    *errors, torch_imported = run.stderr.splitlines()
    return run.returncode, run.stdout, "\n".join(errors), torch_imported == "True"


def stored(path: Path) -> list[tuple[Any, ...]]:
    """Every experiment and study as stored, without ids and times."""
    with Session.open(path, read_only=True) as session:
        return [(e.name, e.goal, e.max_train_steps, e.design) for e in session.experiments()] + [
            (
                s.name,
                s.search_space,
                s.algorithm,
                s.budget,
                s.seed,
                s.objective_metric,
                s.objective_mode,
                s.fixed,
            )
            for e in session.experiments()
            for s in session.studies(e.id)
        ]


def test_experiment_add_checks_in_the_ready_server_and_stores_what_a_check_here_does(
    tmp_path: Path, warm_dir: Path
) -> None:
    """With a server ready, `experiment add` runs its workload check in a process the
    server forks, and never imports torch itself; what it stores, prints and refuses is
    what the same command stores, prints and refuses with the check in its own process
    (the warm server off)."""
    for name in ("warm", "here"):
        created = cli("new", tmp_path / f"{name}.tunebook", "-w", TINY_REF, env=settings(warm_dir))
        assert created.returncode == 0, created.stderr
    socket = wait_for(lambda: next(warm_dir.glob("*.sock"), None), 60, "the server's socket")
    wait_for(lambda: warm_client.answers(socket), 60, "the server to answer")
    good, bad = tmp_path / "lr.toml", tmp_path / "bad.toml"
    good.write_text(spec_text(name="lr", trials=2, steps=5))
    bad.write_text(spec_text(name="bad", fixed={"no_such_knob": 1}))
    off = {**settings(warm_dir), warm_client.IDLE_ENV: "0"}
    outcomes = {}
    for name, env in (("warm", settings(warm_dir)), ("here", off)):
        path = tmp_path / f"{name}.tunebook"
        outcomes[name] = (add_in_new_process(path, good, env), add_in_new_process(path, bad, env))
    (added, refused), (added_here, refused_here) = outcomes["warm"], outcomes["here"]
    assert added[0] == 0 and not added[3], added  # stored, and torch never imported
    assert added_here[0] == 0 and added_here[3]  # the check imported torch here
    assert added[1].replace("warm.tunebook", "here.tunebook") == added_here[1]
    assert stored(tmp_path / "warm.tunebook") == stored(tmp_path / "here.tunebook")
    assert refused[:3] == refused_here[:3]  # exit 2 and the same one sentence
    assert refused[0] == 2 and "no_such_knob" in refused[2] and not refused[3]


def test_a_check_under_redirected_output_runs_in_its_own_process(
    tmp_path: Path, warm_dir: Path
) -> None:
    """Where Python's output is redirected (the app's, a script's capture), the check is not
    sent to the server, whose process would write past the redirection: what the workload
    prints while it is checked lands where the caller's own prints do."""
    created = cli("new", tmp_path / "first.tunebook", "-w", TINY_REF, env=settings(warm_dir))
    assert created.returncode == 0, created.stderr
    socket = wait_for(lambda: next(warm_dir.glob("*.sock"), None), 60, "the server's socket")
    wait_for(lambda: warm_client.answers(socket), 60, "the server to answer")
    code = (
        "import contextlib, io, sys\n"
        "from tunebook.core import api\n"
        "caught = io.StringIO()\n"
        "with contextlib.redirect_stdout(caught), contextlib.redirect_stderr(caught):\n"
        f"    api.create_session({str(tmp_path / 's.tunebook')!r}, {TINY_REF!r},\n"
        "                       {'say': 'hello from splits'})\n"
        "print('torch' in sys.modules, 'hello from splits' in caught.getvalue())"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **settings(warm_dir)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "True"]  # checked here, its print caught
    assert "hello from splits" not in run.stderr
