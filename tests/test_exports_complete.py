"""Exports and status are complete and honest (issue 8.7): every hyperparameter a trial
trained with, defaults marked; the best trial's hyperparameters in the Markdown report;
`read_only` means this user cannot write the file; planned trials count as pending."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from tests.execution.conftest import cli, new_session, spec_text
from tests.filled_session import fill_session
from tunebook.core.execution.runner import Runner
from tunebook.sessions.report import DEFAULTS_NOT_RECORDED


def test_exports_list_every_hyperparameter_with_defaults_marked(tmp_path: Path) -> None:
    path = new_session(tmp_path, spec_text(steps=10, trials=2, fixed={"beta1": 0.8}))
    Runner(path, executor="inline").run()

    rows = list(csv.DictReader(io.StringIO(cli("export", path, "-f", "csv").stdout)))
    assert len(rows) == 2
    for row in rows:
        defaults = row["defaults"].split()
        assert row["param.width"] == "16" and "width" in defaults  # the workload's default
        assert row["param.schedule"] == "constant" and "schedule" in defaults
        assert row["param.epsilon"] == "1e-08" and "epsilon" in defaults  # adam's default
        assert row["param.grad_clip"] == "" and "grad_clip" in defaults  # never clips
        assert row["param.batch_size"] == "32" and "batch_size" not in defaults  # spec
        assert "learning_rate" not in defaults and float(row["param.learning_rate"]) > 0
        # beta1 (an alias) set one_minus_beta1: not a default, and not listed as one
        assert "one_minus_beta1" not in defaults and "param.one_minus_beta1" not in row

    trials = json.loads(cli("export", path, "-f", "json").stdout)["trials"]
    assert [t["defaults"] for t in trials] == [r["defaults"].split() for r in rows]
    assert trials[0]["param.width"] == 16 and trials[0]["param.grad_clip"] is None

    report = cli("export", path, "-f", "md").stdout
    [best] = [line for line in report.splitlines() if line.startswith("- tiny: trial ")]
    assert "batch_size=32, beta1=0.8," in best and "width=16 (default)" in best


def test_sessions_without_recorded_defaults_say_so(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "old.tunebook")
    rows = list(csv.DictReader(io.StringIO(cli("export", path, "-f", "csv").stdout)))
    assert {row["defaults"] for row in rows} == {DEFAULTS_NOT_RECORDED}
    trials = json.loads(cli("export", path, "-f", "json").stdout)["trials"]
    assert {t["defaults"] for t in trials} == {None}
    assert "defaults not recorded" in cli("export", path, "-f", "md").stdout


def test_status_counts_planned_trials_as_pending_and_read_only_is_writability(
    tmp_path: Path,
) -> None:
    path = new_session(tmp_path, spec_text(steps=10, trials=3))
    before = json.loads(cli("status", path, "--json").stdout)
    assert before["trials"] == {
        "pending": 3, "running": 0, "completed": 0, "infeasible": 0, "failed": 0, "total": 3
    }  # fmt: skip
    assert before["experiments"][0]["studies"][0]["counts"]["pending"] == 3
    assert before["read_only"] is False  # status opens read-only, but the user can write

    Runner(path, executor="inline").run()
    after = json.loads(cli("status", path, "--json").stdout)
    assert after["trials"]["total"] == 3 and after["trials"]["completed"] == 3

    os.chmod(path, 0o444)
    try:
        assert json.loads(cli("status", path, "--json").stdout)["read_only"] is True
        assert "read-only" in cli("status", path).stdout
    finally:
        os.chmod(path, 0o644)
