"""`tunebook demo` and `tunebook workloads`: what a new user runs first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunebook.core.demo import DEMO_SPEC, prepare_demo
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


def test_the_apps_demo_starts_empty_and_a_headless_demo_adds_its_study(tmp_path: Path) -> None:
    """In a terminal the demo opens the guided path on an empty session; run headless
    later on the same file, it adds the ready-made study and runs that."""
    path = tmp_path / "demo.tunebook"
    assert prepare_demo(path, with_study=False)
    with Session.open(path, read_only=True) as session:
        assert session.experiments() == []
        assert session.info().workload_facts is not None
    assert not prepare_demo(path, with_study=True)
    with Session.open(path, read_only=True) as session:
        assert [e.name for e in session.experiments()] == [DEMO_SPEC["name"]]


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


def test_experiment_add_reports_planned_coverage_of_a_combined_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "combined.toml"
    spec.write_text(
        'name = "c"\ngoal = "depth, combined"\nmax_train_steps = 10\n'
        "[scientific]\ndepth = [1, 2, 3]\n"
        '[nuisance]\nlearning_rate = { low = 1e-4, high = 1e-1, scale = "log" }\n'
        '[search]\nlayout = "combined"\ntrials = 21\n'
    )
    path = tmp_path / "s.tunebook"
    assert main(["new", str(path), "--workload", "tabular"]) == 0
    assert main(["experiment", "add", str(path), str(spec)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("coverage"))
    counts = [
        int(part.split(": ")[1]) for part in line.split(": ", 1)[1].split(" (")[0].split(", ")
    ]
    assert sum(counts) == 21 and max(counts) - min(counts) <= 1  # Halton: nearly even
