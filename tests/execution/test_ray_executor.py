"""What only the Ray executor has: its command-line options and their one-sentence errors,
a runner SIGKILLed with trials on Ray, and a real two-node Ray cluster on this machine
(`ray start --head` plus a second `ray start --address`) whose second node dies mid-study.
The contract every executor shares is in `test_executors`."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execution.conftest import (
    TUNEBOOK,
    cli,
    losses,
    new_session,
    run_refused,
    running_trials,
    spec_text,
    start_cli,
    stop_once_checkpointed,
    trials_of,
    wait_for,
)
from tests.execution.ray_nodes import CLUSTER_ENV, descendants, ray_cluster, ray_processes
from tests.execution.workloads import TINY_REF
from tunebook.core.execution.executors import RayOptions
from tunebook.core.execution.executors.ray_cluster import leave_ray
from tunebook.core.execution.runner import Runner
from tunebook.core.experiments import add_experiment_from_spec
from tunebook.sessions import BadInput, Session, TrialStatus
from tunebook.sessions.report import RUNNER_STALE_AFTER

TINY_DIR = Path(TINY_REF.rpartition(":")[0]).parent  # the workload file's folder


@pytest.mark.parametrize(
    ("options", "sentence"),
    [
        (["--address", "127.0.0.1:1"], "--address is for --executor ray, not --executor process"),
        (
            ["--executor", "inline", "--gpus-per-trial", "1"],
            "--gpus-per-trial is for --executor ray, not --executor inline",
        ),
        (
            ["--executor", "ray", "--gpus-per-trial", "1.5"],
            "--gpus-per-trial above 1 must be a whole number",
        ),
        (["--executor", "ray", "--cpus-per-trial", "0"], "--cpus-per-trial must be more than 0"),
        (
            ["--executor", "ray", "--memory-limit", "512"],
            "--memory-limit is for --executor process",
        ),
    ],
)
def test_ray_options_are_checked_before_anything_starts(
    tiny_session: Path, options: list[str], sentence: str
) -> None:
    assert sentence in run_refused(tiny_session, *options)


def test_without_ray_installed_the_ray_executor_is_one_sentence(tiny_session: Path) -> None:
    # The interpreter is told `ray` cannot be imported (as where the extra is not installed).
    code = (
        "import sys; sys.modules['ray'] = None; from tunebook.tui.cli import main; "
        f"sys.exit(main(['run', {str(tiny_session)!r}, '--executor', 'ray']))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == (
        "tunebook: --executor ray needs Ray, which is not installed; install it with "
        "pip install 'tunebook[ray]'"
    )
    assert all(t.status is TrialStatus.PENDING for t in trials_of(tiny_session))


@pytest.mark.ray
def test_an_address_where_nothing_answers_is_one_sentence(tiny_session: Path) -> None:
    pytest.importorskip("ray")
    started = time.monotonic()
    run = cli("run", tiny_session, "--executor", "ray", "--address", "127.0.0.1:1")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("tunebook: no Ray cluster answers at 127.0.0.1:1 ("), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 30  # not Ray's own retry loop (minutes)
    # Detached (as the app starts runs), the same sentence, not "runner started".
    detached = cli("run", tiny_session, "--executor", "ray", "--address", "127.0.0.1:1", "--detach")
    assert detached.returncode == 2, detached.stdout
    assert detached.stderr.startswith("tunebook: no Ray cluster answers at 127.0.0.1:1 (")
    assert len(detached.stderr.strip().splitlines()) == 1
    with Session.open(tiny_session, read_only=True) as session:
        assert session.runner() is None


@pytest.mark.ray
def test_a_request_no_node_can_satisfy_is_one_sentence_and_changes_nothing(
    tiny_session: Path,
) -> None:
    pytest.importorskip("ray")
    run = cli("run", tiny_session, "--executor", "ray", "--gpus-per-trial", "1")
    assert run.returncode == 2, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("tunebook: no node of a local Ray instance has 1 CPUs and 1 GPUs"), line
    assert "lower --cpus-per-trial or --gpus-per-trial" in line
    assert trials_of(tiny_session) == []  # nothing drawn, nothing started
    with Session.open(tiny_session, read_only=True) as session:
        assert session.runner() is None


@pytest.mark.ray
def test_a_script_connected_to_ray_runs_its_trials_there_and_stays_connected(
    tmp_path: Path,
) -> None:
    """`ray.init(runtime_env={"working_dir": …})` and then `api.run(executor="ray")` in one
    script: the trials run on the script's Ray, which is still connected after. Connected
    without the workload file's folder as working_dir, or asked to join another address,
    the run is one sentence."""
    ray = pytest.importorskip("ray")
    path = new_session(tmp_path, spec_text(steps=20, trials=2))
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        with pytest.raises(BadInput, match=r"without a working_dir, so the workload file "):
            Runner(path, executor="ray").run()
    finally:
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"working_dir": str(TINY_DIR)})
    try:
        result = Runner(path, executor="ray").run()
        assert ray.is_initialized()
        other = new_session(tmp_path, spec_text(steps=20, trials=2), name="other")
        with pytest.raises(BadInput, match="connected to Ray already, so it cannot join"):
            Runner(other, executor="ray", ray=RayOptions(address="127.0.0.1:6379")).run()
        assert trials_of(other) == []
    finally:
        ray.shutdown()
    assert result.progress.completed == 2
    assert [t.status for t in trials_of(path)] == [TrialStatus.COMPLETED] * 2


@pytest.mark.ray
def test_a_later_run_in_the_process_reuses_its_ray_connection_until_the_files_change(
    tmp_path: Path,
) -> None:
    """The connection a run made stays (its workers keep torch imported), for runs with
    the same address and workload files; other files (an edited workload) get a new job,
    which ships them; `leave_ray` ends it, as `tunebook run` does at its end."""
    ray = pytest.importorskip("ray")
    folder = tmp_path / "workload"
    shutil.copytree(TINY_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    file_ref = f"{folder / Path(TINY_REF.rpartition(':')[0]).name}:Tiny"

    def study(name: str) -> Path:
        (tmp_path / f"{name}.toml").write_text(spec_text(steps=20, trials=2))
        path = tmp_path / f"{name}.tunebook"
        with Session.create(path, file_ref, {}) as session:
            add_experiment_from_spec(session, tmp_path / f"{name}.toml")
        return path

    def connection() -> tuple[str, str]:
        """The local instance (its node) and the files its job shipped (their package)."""
        context = ray.get_runtime_context()
        return context.get_node_id(), context.runtime_env["working_dir"]

    made = []
    for name in ("first", "same-files"):
        assert Runner(study(name), executor="ray").run().progress.completed == 2
        made.append(connection())
    assert made[0] == made[1]
    edited = folder / Path(TINY_REF.rpartition(":")[0]).name
    edited.write_text(edited.read_text() + "\n# edited\n")
    assert Runner(study("edited"), executor="ray").run().progress.completed == 2
    node, package = connection()
    assert node != made[0][0] and package != made[0][1]
    leave_ray()
    assert not ray.is_initialized()


@pytest.mark.ray
def test_a_study_stopped_under_ray_resumes_in_the_next_run(tmp_path: Path) -> None:
    """Each run ships the workload file to Ray anew (another folder on the node): the trial
    still resumes from the state the last run saved, and logs each step once."""
    pytest.importorskip("ray")
    spec = spec_text(steps=300, trials=1, fixed={"sleep_ms": 10.0}, checkpoint_every=10)
    path = new_session(tmp_path, spec)
    stop_once_checkpointed(path, 1, executor="ray")
    leave_ray()  # as a new process would: the next run ships the file anew
    Runner(path, executor="ray").run()
    (trial,) = trials_of(path)
    assert (trial.status, trial.attempts, trial.error) == (TrialStatus.COMPLETED, 2, "")
    ((steps, _),) = losses(path).values()
    assert steps == list(range(1, 301))


@pytest.mark.ray
def test_a_trial_trains_the_same_under_ray_as_in_a_worker_process(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    spec = spec_text(steps=40, trials=2, eval_every=10, checkpoint_every=10)
    under_ray = new_session(tmp_path, spec, name="ray")
    under_process = new_session(tmp_path, spec, name="process")
    Runner(under_ray, executor="ray").run()
    Runner(under_process, executor="process", workers=2, device="cpu").run()  # as Ray's
    curves = losses(under_ray)
    assert len(curves) == 2 and all(len(steps) == 40 for steps, _ in curves.values())
    assert curves == losses(under_process)  # same seeds, same numbers, bit for bit


def ray_tasks() -> list[int]:
    """Pids of live Ray workers running a trial (Ray titles them `ray::trial_on_ray`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"ray::trial_on_ray"):
                    found.append(int(entry))
    return found


@pytest.mark.ray
def test_a_killed_runner_leaves_no_ray_task_training(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    spec = spec_text(steps=2000, trials=2, fixed={"sleep_ms": 20.0}, checkpoint_every=10)
    path = new_session(tmp_path, spec)
    temp = Path(tempfile.mkdtemp(prefix="tb", dir="/tmp"))  # short: Ray's sockets go there
    runner = start_cli("run", path, "--executor", "ray", env={"TMPDIR": str(temp)})
    try:
        wait_for(lambda: len(running_trials(path)) == 2, 120, "two trials running on Ray")
        mine = wait_for(lambda: set(ray_tasks()) & set(descendants(runner.pid)), 60, "tasks")
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(10)
        # No task may train on for nobody longer than a runner takes to count as dead.
        wait_for(lambda: not (set(ray_tasks()) & mine), RUNNER_STALE_AFTER, "tasks to end")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)  # whatever of the local instance is left
        runner.communicate(timeout=30)
    # As the kill left them: the next run recovers them from their checkpoints.
    assert [t.status for t in trials_of(path)] == [TrialStatus.RUNNING] * 2
    # The workload's files went to the cluster when the runner joined it, and their
    # staging folder with them: nothing of them is left in the temp folder.
    assert not list(temp.glob("tunebook-ray-*"))
    shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def two_node_cluster() -> Iterator[tuple[str, int]]:
    """A head node (1 CPU) and a second node (1 CPU, resource `second`); yields the
    address and the pid of the second node's raylet."""
    nodes = [["--num-cpus=1"], ["--num-cpus=1", '--resources={"second": 1}']]
    with ray_cluster(nodes) as (address, marks):
        raylet = next(
            pid
            for pid in ray_processes(marks)
            if (argv := Path(f"/proc/{pid}/cmdline").read_text().split("\0"))[0].endswith("raylet")
            and any(arg.startswith("--static_resource_list=second,") for arg in argv)
        )
        yield address, raylet


@pytest.mark.ray
def test_a_node_lost_mid_study_loses_no_trial_and_the_study_ends_with_its_budget(
    tmp_path: Path,
) -> None:
    pytest.importorskip("ray")
    spec = spec_text(
        steps=300, trials=4, fixed={"sleep_ms": 10.0}, eval_every=50, checkpoint_every=20
    )
    path = new_session(tmp_path, spec)
    with two_node_cluster() as (address, second_raylet):
        runner = subprocess.Popen(
            [*TUNEBOOK, "run", str(path), "--executor", "ray", "--address", address],
            env={**os.environ, "RAY_AUTH_MODE": CLUSTER_ENV["RAY_AUTH_MODE"]},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Both nodes busy (one trial fits each), and the second one has checkpointed.
            def both_checkpointed() -> bool:
                with Session.open(path, read_only=True) as session:
                    running = session.trials(status=TrialStatus.RUNNING)
                    return len(running) == 2 and all(
                        session.resume_state(t.id) for t in running
                    )

            wait_for(both_checkpointed, 180, "two trials running with a checkpoint each")
            os.kill(second_raylet, signal.SIGKILL)
            out, err = runner.communicate(timeout=300)
        finally:
            runner.kill()
    assert runner.returncode == 0, out + err
    assert "4/4 trials finished: 4 completed, 0 infeasible, 0 failed" in out
    with Session.open(path, read_only=True) as session:
        trials = session.trials()
        events = session.events()
    assert len(trials) == 4 and all(t.status is TrialStatus.COMPLETED for t in trials)
    # The trial on the lost node went back to pending once, with its checkpoint: Ray failed
    # its task (requeued), or the task, cut off from the runner's stop board, saved its
    # state and stopped by itself first. Either way it resumed on the head.
    (moved,) = [t for t in trials if t.attempts > 1]
    (back,) = [e for e in events if e.kind in ("trial.requeued", "trial.stopped")]
    if back.kind == "trial.stopped":
        assert back.message == f"trial {moved.id} stopped"
    else:
        resumed_from = int(back.message.removeprefix(f"trial {moved.id} resumes from step "))
        assert resumed_from >= 20  # its checkpoint, not the start
    assert moved.attempts == 2
    with Session.open(path, read_only=True) as session:
        steps = session.trial_series(moved.id, ["train/loss"])["train/loss"].steps
    assert steps == list(range(1, 301))  # resumed: every step once, none twice
