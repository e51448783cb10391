"""Adoption (PB-5, PB-17): the seed-noise rule on hand-made numbers, and real inline
re-runs of a finished trial that record a launch, reuse a measured baseline and resume."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.analysis.sessions import LR, finished
from tunebook.core.analysis.adoption import ALPHA, FIRST_SEED, compare_seeds
from tunebook.core.project_start.runner import ProbeProgress, ProbeRunner
from tunebook.sessions import ProbeKind, Session, TrialStatus
from tunebook.tui.cli import main

BASELINE = [0.30, 0.31, 0.29, 0.30, 0.31]


def test_a_gain_inside_the_seed_noise_is_not_beyond_it() -> None:
    found = compare_seeds([0.29, 0.32, 0.28, 0.31, 0.29], BASELINE, "min")
    assert found is not None and not found.beyond_noise
    assert found.improvement == pytest.approx(0.004)
    assert found.verdict.startswith("not beyond the seed noise")


def test_a_gain_clearly_outside_the_seed_noise_is_beyond_it() -> None:
    found = compare_seeds([0.20, 0.21, 0.19, 0.20, 0.21], BASELINE, "min")
    assert found is not None and found.beyond_noise and found.better
    assert found.difference == pytest.approx(-0.1)
    assert found.p_value is not None and found.p_value < 1e-6
    assert found.verdict == "better than the baseline beyond the seed noise"
    worse = compare_seeds([0.20, 0.21, 0.19, 0.20, 0.21], BASELINE, "max")
    assert worse is not None and worse.beyond_noise and not worse.better


def test_a_significant_difference_smaller_than_the_spread_is_not_beyond_it() -> None:
    spread = [0.3 + 0.01 * ((i % 5) - 2) for i in range(30)]
    shifted = [v - 0.011 for v in spread]  # 0.78 standard deviations, p ≈ 0.004
    found = compare_seeds(shifted, spread, "min")
    assert found is not None and found.p_value is not None and found.p_value < ALPHA
    assert abs(found.difference) < found.pooled_std and not found.beyond_noise


def test_deterministic_runs_and_too_few_seeds() -> None:
    same = compare_seeds([0.5, 0.5], [0.5, 0.5], "min")
    assert same is not None and not same.beyond_noise and same.p_value is None
    apart = compare_seeds([0.4, 0.4], [0.5, 0.5], "min")
    assert apart is not None and apart.beyond_noise and apart.better
    assert compare_seeds([0.4], BASELINE, "min") is None


def _session(path: Path) -> tuple[int, int, int]:
    """A tabular session with two completed trials and an infeasible one (no study ran)."""
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("lr", "Which learning rate?", {}, 6)
        layout = {"space": {"learning_rate": LR}, "scientific": {}, "sampled_scientific": []}
        study = session.add_study(
            experiment.id, "s", layout, "quasi-random", 3, 0, "error", "min", {"depth": 1}
        )
        first = finished(session, study.id, {"learning_rate": 1e-2}, best=0.4)
        second = finished(session, study.id, {"learning_rate": 3e-2}, best=0.35)
        bad = finished(session, study.id, {"learning_rate": 0.09}, TrialStatus.INFEASIBLE)
    return first, second, bad


def _adopt(path: Path, trial: int, *extra: str) -> list[str]:
    return ["adopt", str(path), str(trial), "--seeds", "3", "--executor", "inline", *extra]


def test_adopt_records_launches_with_the_seed_evidence_and_reuses_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.tunebook"
    first, second, _ = _session(path)
    assert main([*_adopt(path, first, "--note", "first baseline"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    summary = data["summary"]
    assert summary["baseline"] is None and summary["comparison"] is None
    assert summary["verdict"] == "no baseline to beat: this is the first launch"
    assert [r["seed"] for r in summary["candidate"]["runs"]] == [FIRST_SEED + i for i in range(3)]
    with Session.open(path, read_only=True) as session:
        (launch,) = session.launches()
        probe = session.probe(data["probe"])
    assert launch.id == data["launch"] and launch.trial_id == first
    assert launch.note == "first baseline" and launch.config["hparams"]["depth"] == 1
    runs = launch.evidence["candidate"]["runs"]
    assert len(runs) == 3 and all(r["status"] == "completed" for r in runs)
    assert launch.evidence["candidate"]["n"] == 3 and launch.evidence["probe"] == probe.id
    assert probe.points["candidate/seed=1000"]["steps"] == 6

    assert main(_adopt(path, second, "--note", "higher rate")) == 0
    out = capsys.readouterr().out
    assert "verdict: " in out and "seeds measured by probe" in out
    assert f"launch 2: trial {second} is the new baseline" in out
    with Session.open(path, read_only=True) as session:
        latest = session.latest_probe(ProbeKind.SEED_VARIANCE)
        launch = session.launches()[-1]
    assert latest is not None and sorted(latest.points) == [
        f"candidate/seed={FIRST_SEED + i}" for i in range(3)
    ]  # the baseline's seeds came from the first probe, not measured again
    baseline = launch.evidence["baseline"]
    assert baseline["trial"] == first and baseline["reused_from"] == probe.id
    assert baseline["mean"] == pytest.approx(summary["candidate"]["mean"])
    assert launch.evidence["comparison"]["beyond_noise"] in (True, False)
    assert launch.evidence["verdict"] == latest.summary["verdict"]
    assert main(["export", str(path), "-f", "md"]) == 0
    report = capsys.readouterr().out
    first_launch = "| 1 | 1 | lr | no baseline to beat: this is the first launch | first baseline |"
    assert first_launch in report


def test_a_stopped_adoption_resumes_without_measuring_a_seed_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.tunebook"
    first, _, _ = _session(path)
    stop = threading.Event()

    def stop_after_one(progress: ProbeProgress) -> None:
        if progress.last is not None:
            stop.set()

    options = {"trial": first, "seeds": 3}
    runner = ProbeRunner(path, "seed-variance", options, executor="inline", stop=stop)
    runner.progress = stop_after_one
    stopped = runner.run()
    assert stopped.status == "stopped" and list(stopped.points) == ["candidate/seed=1000"]
    with Session.open(path, read_only=True) as session:
        assert session.launches() == []

    assert main([*_adopt(path, first), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    with Session.open(path, read_only=True) as session:
        probes = session.probes(ProbeKind.SEED_VARIANCE)
        (launch,) = session.launches()
    assert [p.id for p in probes] == [stopped.id] == [data["probe"]]
    assert probes[0].points["candidate/seed=1000"] == stopped.points["candidate/seed=1000"]
    assert len(probes[0].points) == 3 and len(launch.evidence["candidate"]["runs"]) == 3


@pytest.mark.parametrize(
    ("trial", "extra", "message"),
    [
        (99, (), "no trial 99"),
        (3, (), "trial 3 is infeasible: only a completed trial can be adopted"),
        (1, ("--seeds", "1"), "--seeds must be at least 2, got 1"),
    ],
)
def test_adopt_refuses_in_one_sentence(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trial: int,
    extra: tuple[str, ...],
    message: str,
) -> None:
    path = tmp_path / "x.tunebook"
    _session(path)
    argv = ["adopt", str(path), str(trial), "--executor", "inline", *extra]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and captured.out == ""
    with Session.open(path, read_only=True) as session:
        assert session.probes(ProbeKind.SEED_VARIANCE) == [] and session.launches() == []
