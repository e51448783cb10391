"""`tunebook demo` and `tunebook workloads`: what a new user runs first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunebook.core.demo import DEMO_SPEC
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.cli import main


def test_demo_runs_a_real_study_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.tunebook"
    assert main(["demo", str(path), "--headless"]) == 0
    out = capsys.readouterr().out
    assert "created" in out and "depth=3" in out
    budget = len(DEMO_SPEC["scientific"]["depth"]) * DEMO_SPEC["search"]["trials"]
    with Session.open(path, read_only=True) as session:
        trials = session.trials()
        assert len(trials) == budget
        assert {t.status for t in trials} == {TrialStatus.COMPLETED}
        # real learning: the best trial beats the majority-class error (~0.74) by far
        assert min(t.best_value for t in trials) < 0.4
        curve = session.trial_series(trials[0].id)["train/loss"]
        assert curve.steps[0] == 1 and curve.steps[-1] == DEMO_SPEC["max_train_steps"]
    assert main(["demo", str(path)]) == 0  # a second run resumes: nothing left to do
    assert "resuming" in capsys.readouterr().out


def test_demo_refuses_a_foreign_session(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "other.tunebook"
    Session.create(path, "images").close()
    assert main(["demo", str(path)]) == 2
    assert "not a demo session" in capsys.readouterr().err


def test_workloads_lists_builtins_with_hparams(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workloads"]) == 0
    out = capsys.readouterr().out
    for expected in ("tabular:", "images:", "lm:", "width = 64", "bits_per_byte"):
        assert expected in out
