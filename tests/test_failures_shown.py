"""Failed trials are visible where the user looks: `run`, `status`, the Markdown export
(issue 8.1). Real `tunebook` processes run real (tiny) trials on real session files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.execution.conftest import cli, new_session, spec_text


def failure_lines(output: str) -> list[str]:
    """The lines of `output` that report a group of failed trials."""
    return [line for line in output.splitlines() if " failed: " in line]


def test_a_run_whose_trials_all_fail_says_why_and_exits_1(tmp_path: Path) -> None:
    flag = tmp_path / "broken"
    path = new_session(
        tmp_path, spec_text(steps=10, trials=3), config={"fail_if_exists": str(flag)}
    )
    flag.touch()  # after `experiment add`, whose one-step check would refuse the workload
    error = f"transient failure: {flag} exists"

    run = cli("run", path, "--executor", "inline")
    assert run.returncode == 1, run.stderr
    assert "this run finished 3 trials: 0 completed, 0 infeasible, 3 failed" in run.stdout
    [line] = failure_lines(run.stdout)  # one distinct error: one line, count and ids
    assert line.startswith("3 trials failed: ") and line.endswith(f"{error} (trials 1, 2, 3)")
    assert (
        run.stderr == "tunebook: every trial this run finished failed (3); see the errors above\n"
    )

    status = cli("status", path)
    assert status.returncode == 0
    assert "(finished, 3 of 3 trials failed)" in status.stdout  # never a bare "finished"
    assert failure_lines(status.stdout) == [line]
    data = json.loads(cli("status", path, "--json").stdout)["experiments"][0]
    assert (data["status"], data["failed"], data["trials"]) == ("finished", 3, 3)
    [group] = data["failures"]
    assert group["error"].endswith(error) and group["trials"] == [1, 2, 3]
    report = cli("export", path, "-f", "md").stdout
    assert "Status: finished, 3 of 3 trials failed" in report
    assert f"- {line}" in report.splitlines()

    # The summary is about this run's trials: a run with nothing left to do did not fail.
    idle = cli("run", path, "--executor", "inline")
    assert idle.returncode == 0, idle.stderr
    assert "this run finished 0 trials" in idle.stdout
    assert "3/3 trials finished: 0 completed, 0 infeasible, 3 failed" in idle.stdout

    flag.unlink()
    retried = cli("run", path, "--executor", "inline", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert "this run finished 3 trials: 3 completed, 0 infeasible, 0 failed" in retried.stdout
    assert failure_lines(retried.stdout) == []


def test_each_distinct_error_is_one_line_with_its_trials(tmp_path: Path) -> None:
    spec = spec_text(
        steps=10,
        trials=2,
        fixed={"fault_step": 3},
        scientific={"fault": ["none", "raise", "crash"]},
    )
    path = new_session(tmp_path, spec)
    run = cli("run", path, "--workers", "2")
    assert run.returncode == 0, run.stderr  # some trials completed: not a failed run
    assert "this run finished 6 trials: 2 completed, 0 infeasible, 4 failed" in run.stdout
    raised, died = failures = failure_lines(run.stdout)
    assert raised.startswith("2 trials failed: ") and raised.endswith(
        "injected failure at call 3 (trials 3, 4)"
    )
    assert died.startswith("2 trials failed: the worker process died (exit code -9")
    assert died.endswith("(trials 5, 6)")
    status = cli("status", path)
    assert "(finished, 4 of 6 trials failed)" in status.stdout
    assert failure_lines(status.stdout) == failures
