"""The runner's basic contract, on real files with real training (what every executor
must do is in `test_executors`): the CLI adds and runs experiments, points do not depend on
the number of workers, a second runner is refused, `trial rerun` reproduces,
`--retry-failed` retries and `--detach` keeps running in the background (DESIGN.md,
"Execution"; PB-24, PB-29)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.execution.conftest import (
    alive,
    cli,
    losses,
    new_session,
    running_trials,
    spec_text,
    start_cli,
    trials_of,
    wait_for,
)
from tests.execution.workloads import TINY_REF
from tunebook.core.execution.runner import Runner
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.cli import main


def _points(path: Path) -> dict[tuple[str, int], tuple[dict, int, int]]:
    """Each trial's (params, init seed, data seed), keyed by (study name, trial number)."""
    with Session.open(path, read_only=True) as session:
        names = {s.id: s.name for s in session.studies()}
        return {
            (names[t.study_id], t.number): (t.params, t.init_seed, t.data_seed)
            for t in session.trials()
        }


def test_cli_runs_the_same_points_with_one_or_two_workers(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text(steps=20, trials=2, scientific={"width": [8, 16]}))
    outputs = {}
    for workers in (1, 2):
        path = tmp_path / f"j{workers}.tunebook"
        with Session.create(path, TINY_REF):
            pass
        if workers == 1:
            added = cli("experiment", "add", path, spec)
            assert added.returncode == 0, added.stderr
            assert "added experiment 'tiny' with 2 studies" in added.stdout
        else:  # the same command in this process (saves a torch import)
            assert main(["experiment", "add", str(path), str(spec)]) == 0
        run = cli("run", path, "--workers", workers)
        assert run.returncode == 0, run.stderr
        assert "4/4 trials finished: 4 completed" in run.stdout
        outputs[workers] = _points(path)
    assert len(outputs[1]) == 4
    assert {study for study, _ in outputs[1]} == {"width=8", "width=16"}
    assert outputs[1] == outputs[2]
    assert len({json.dumps(p[0], sort_keys=True) for p in outputs[1].values()}) == 2


def test_bayesian_points_do_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    spec = spec_text(steps=10, trials=4, algorithm="bayesian", eval_every=5)
    one, two = new_session(tmp_path, spec, "one"), new_session(tmp_path, spec, "two")
    Runner(one, executor="inline").run()
    Runner(two, workers=2).run()
    assert _points(one) == _points(two)
    assert len({p[0]["learning_rate"] for p in _points(one).values()}) == 4


def test_trial_rerun_reproduces_the_numbers(tiny_session: Path) -> None:
    Runner(tiny_session, workers=2).run()
    before = {t.id: t for t in trials_of(tiny_session)}
    curves = losses(tiny_session)
    trial = before[2]
    rerun = cli(*trial.reproduce.split()[1:])
    assert rerun.returncode == 0, rerun.stderr
    assert "same numbers" in rerun.stdout
    after = {t.id: t for t in trials_of(tiny_session)}
    assert (after[2].best_value, after[2].best_step) == (trial.best_value, trial.best_step)
    assert after[2].final_value == trial.final_value
    assert after[2].status is TrialStatus.COMPLETED
    assert losses(tiny_session) == curves
    assert after[1] == before[1] and after[3] == before[3]  # the others are untouched


def test_retry_failed_reruns_failed_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "broken"
    spec = spec_text(steps=20, trials=2)
    path = new_session(tmp_path, spec, config={"fail_if_exists": str(flag)})
    flag.touch()  # after `experiment add`, whose one-step check would refuse the workload
    assert main(["run", str(path), "--executor", "inline"]) == 1  # every trial failed
    assert "--retry-failed" in capsys.readouterr().out
    failed = trials_of(path)
    assert [t.status for t in failed] == [TrialStatus.FAILED] * 2
    assert all("transient failure" in t.error for t in failed)

    flag.unlink()
    assert main(["run", str(path), "--executor", "inline"]) == 0  # failed trials stay failed
    assert trials_of(path) == failed

    assert main(["run", str(path), "--executor", "inline", "--retry-failed"]) == 0
    assert "2/2 trials finished: 2 completed" in capsys.readouterr().out
    retried = trials_of(path)
    assert [(t.id, t.status, t.attempts, t.error) for t in retried] == [
        (t.id, TrialStatus.COMPLETED, 2, "") for t in failed
    ]
    assert [t.params for t in retried] == [t.params for t in failed]
    assert all(steps == list(range(1, 21)) for steps, _ in losses(path).values())


def test_a_second_runner_is_refused_naming_the_live_one(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    spec = spec_text(steps=200, trials=2, fixed={"sleep_ms": 20}, checkpoint_every=20)
    path = new_session(tmp_path, spec)
    first = start_cli("run", path, "--workers", 2)
    processes.append(first)
    wait_for(lambda: running_trials(path), 60, "a running trial")
    for extra in ((), ("--detach",)):
        second = cli("run", path, *extra)
        assert second.returncode == 2, (extra, second.returncode, second.stderr)
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert re.search(rf"\bprocess {first.pid}\b", lines[0]), lines[0]
    with Session.open(path, read_only=True) as session:
        runner = session.runner()
        assert runner is not None and runner.pid == first.pid  # the refusal changed nothing
    os.killpg(first.pid, signal.SIGINT)
    assert first.wait(60) == 130  # stopped by Ctrl-C
    assert [t.status for t in trials_of(path)] == [TrialStatus.PENDING] * 2


def test_detached_runner_finishes_in_the_background(tmp_path: Path) -> None:
    spec = spec_text(steps=150, trials=2, fixed={"sleep_ms": 15}, eval_every=50)
    path = new_session(tmp_path, spec)
    started = time.monotonic()
    detach = cli("run", path, "--detach", "--workers", 2, timeout=60)
    took = time.monotonic() - started
    assert detach.returncode == 0, detach.stderr
    match = re.search(r"pid (\d+)", detach.stdout)
    assert match, detach.stdout
    pid = int(match.group(1))
    try:
        assert took < 30
        status = cli("status", path, "--json")
        assert status.returncode == 0, status.stderr
        runner = json.loads(status.stdout)["runner"]
        assert runner is not None
        assert (runner["pid"], runner["alive"], runner["detached"]) == (pid, True, True)
        assert os.getsid(pid) == pid  # its own session: closing the terminal does not stop it
        assert json.loads(status.stdout)["trials"]["completed"] < 2  # still working

        def finished() -> dict | None:
            data = json.loads(cli("status", path, "--json").stdout)
            return data if data["trials"]["completed"] == 2 and data["runner"] is None else None

        final = wait_for(finished, 120, "the detached study to finish", every=0.5)
        assert final["experiments"][0]["status"] == "finished"
        wait_for(lambda: not alive(pid), 30, "the detached runner to exit")
        assert all(steps == list(range(1, 151)) for steps, _ in losses(path).values())
        assert "2/2 trials finished" in Path(f"{path}.log").read_text()
    finally:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
