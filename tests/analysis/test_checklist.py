"""Known answers for the review checklist (PB-11 … PB-14, PB-19, PB-21) on studies written
straight into real session files, no training."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.analysis.test_bootstrap_curves import curve
from tunebook.core.analysis.checklist import (
    ITEMS,
    CheckItem,
    Verdict,
    experiment_checklist,
    study_checklist,
)
from tunebook.core.analysis.study import StudyView, load_experiment, load_study
from tunebook.sessions import Session, TrialStatus

STEPS = 1000
LR = {"type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"}
WIDTH = {"type": "int", "low": 16, "high": 256}


def add_study(
    session: Session, name: str, trials: Sequence[Mapping[str, Any]], space: Mapping[str, Any]
) -> int:
    """A study of experiment 'exp' holding `trials`: each has `params` and optionally
    `status`, `best`, `best_step`, `data`, `compute` and `curves` ({series: values})."""
    experiment = next((e for e in session.experiments() if e.name == "exp"), None)
    if experiment is None:
        experiment = session.add_experiment("exp", "Which learning rate?", {}, STEPS)
    study = session.add_study(
        experiment.id,
        name,
        {"space": dict(space), "scientific": {}, "sampled_scientific": []},
        "quasi-random",
        len(trials),
        0,
        "error",
        "min",
    )
    with session.transaction():
        for spec in trials:
            trial = session.add_trial(study.id, spec["params"], 1, 2)
            status = spec.get("status", TrialStatus.COMPLETED)
            if status is TrialStatus.PENDING:
                continue
            session.start_trial(trial.id)
            writer = session.metrics_writer(trial.id)
            for series, (steps, values) in spec.get("curves", {}).items():
                for step, value in zip(steps, values):
                    writer.add(int(step), {series: float(value)})
            feasible = status is TrialStatus.COMPLETED
            session.finish_trial(
                trial.id,
                status,
                best_step=spec.get("best_step", STEPS // 2) if feasible else None,
                best_value=spec.get("best") if feasible else None,
                compute_seconds=spec.get("compute", 10.0),
                data_seconds=spec.get("data", 1.0),
                writer=writer,
            )
    return study.id


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.create(tmp_path / "review.tunebook", "tabular", {}) as opened:
        yield opened


def checklist(session: Session, study_id: int) -> dict[str, CheckItem]:
    items = study_checklist(session, load_study(session, study_id))
    assert [i.key for i in items] == [key for key, _, _ in ITEMS]
    for item in items:
        json.dumps(item.data)  # JSON-able
        assert item.evidence and (item.next_step == "") == (item.verdict is Verdict.PASS)
    return {i.key: i for i in items}


def lr_trials(objective: Any, n: int = 30) -> list[dict[str, Any]]:
    """`n` trials spread evenly over the log learning-rate range, width in the middle."""
    rates = np.geomspace(1e-4, 1e-1, n)
    return [
        {"params": {"learning_rate": lr, "width": 120 + i % 5}, "best": objective(lr)}
        for i, lr in enumerate(rates)
    ]


def test_an_optimum_at_the_upper_edge_widens_that_side_only(session: Session) -> None:
    study = add_study(
        session,
        "edge",
        lr_trials(lambda lr: -math.log10(lr)),
        {"learning_rate": LR, "width": WIDTH},
    )
    item = checklist(session, study)["boundaries"]
    assert item.verdict is Verdict.WARN
    lr = item.data["dims"]["learning_rate"]
    assert lr["side"] == "high" and lr["widen"] == ["high"] and lr["unstable"] == []
    assert min(lr["positions"]) >= 0.9
    assert lr["proposed_low"] == 1e-4 and lr["proposed_high"] == pytest.approx(3.16)
    width = item.data["dims"]["width"]
    assert width["side"] is None and (width["proposed_low"], width["proposed_high"]) == (16, 256)
    assert "widen learning_rate to 0.0001 … 3.16" in item.next_step.lower()
    assert "width" not in item.next_step


def test_a_step_count_is_never_widened_past_the_step_budget(session: Session) -> None:
    """Warmup at the top of 0 … 960 in a 1000-step experiment: widening by 20% would give
    1152 warmup steps, which no trial can take (the exploitation built on this proposal
    was refused); the proposal stops at max_train_steps."""
    warmups = np.linspace(0, 960, 30)
    trials = [
        {"params": {"learning_rate": 0.01, "warmup_steps": int(w)}, "best": 1.0 - w / 1000}
        for w in warmups
    ]
    space = {"learning_rate": LR, "warmup_steps": {"type": "int", "low": 0, "high": 960}}
    item = checklist(session, add_study(session, "warmup", trials, space))["boundaries"]
    warmup = item.data["dims"]["warmup_steps"]
    assert warmup["widen"] == ["high"] and warmup["proposed_high"] == STEPS


def test_an_interior_optimum_passes(session: Session) -> None:
    study = add_study(
        session,
        "inside",
        lr_trials(lambda lr: (math.log10(lr) + 2.5) ** 2),
        {"learning_rate": LR, "width": WIDTH},
    )
    item = checklist(session, study)["boundaries"]
    assert item.verdict is Verdict.PASS
    assert all(0.3 < p < 0.7 for p in item.data["dims"]["learning_rate"]["positions"])


def test_an_edge_crowded_with_divergence_reads_as_instability(session: Session) -> None:
    trials = lr_trials(lambda lr: -math.log10(lr), n=20)[:-5]  # up to position ~0.74
    trials += [
        {"params": {"learning_rate": 0.05}, "best": 0.5},  # the best, at the edge
        {"params": {"learning_rate": 0.06}, "best": 0.6},
    ]
    trials += [
        {"params": {"learning_rate": lr}, "status": TrialStatus.INFEASIBLE}
        for lr in (0.055, 0.07, 0.08, 0.09, 0.1)
    ]
    study = add_study(session, "unstable", trials, {"learning_rate": LR})
    item = checklist(session, study)["boundaries"]
    lr = item.data["dims"]["learning_rate"]
    assert item.verdict is Verdict.WARN and lr["unstable"] == ["high"] and lr["widen"] == []
    assert lr["proposed_high"] == 0.1
    assert "5 of the 6 trials there diverged" in item.evidence
    assert "widen" not in item.next_step and "stabilise" in item.next_step


def test_forty_percent_divergence_warns_and_names_its_region(session: Session) -> None:
    trials = lr_trials(lambda lr: -math.log10(lr), n=50)
    for spec in trials[30:]:  # the upper 40% of the log range diverges
        spec["status"] = TrialStatus.INFEASIBLE
    item = checklist(session, add_study(session, "diverging", trials, {"learning_rate": LR}))
    infeasible = item["infeasible"]
    assert infeasible.verdict is Verdict.WARN and infeasible.data["fraction"] == 0.4
    assert "20 of 50 trials diverged (40%)" in infeasible.evidence
    assert infeasible.data["concentrated"]["third"] == "upper"
    assert "upper third of learning_rate" in infeasible.evidence
    assert "upper third of learning_rate" in infeasible.next_step


def test_divergence_above_half_fails_and_low_divergence_passes(session: Session) -> None:
    trials = lr_trials(lambda lr: 1.0, n=10)
    for spec in trials[:6]:
        spec["status"] = TrialStatus.INFEASIBLE
    assert (
        checklist(session, add_study(session, "most", trials, {"learning_rate": LR}))[
            "infeasible"
        ].verdict
        is Verdict.FAIL
    )
    trials[0]["status"] = TrialStatus.INFEASIBLE
    for spec in trials[1:]:
        spec["status"] = TrialStatus.COMPLETED
    few = checklist(session, add_study(session, "few", trials, {"learning_rate": LR}))
    assert few["infeasible"].verdict is Verdict.PASS and few["infeasible"].data["fraction"] == 0.1


def test_best_steps_all_early_all_late_and_spread(session: Session) -> None:
    def study(name: str, steps: Sequence[int]) -> CheckItem:
        trials = lr_trials(lambda lr: -math.log10(lr), n=len(steps))
        for spec, step in zip(trials, steps):
            spec["best_step"] = step
        return checklist(session, add_study(session, name, trials, {"learning_rate": LR}))[
            "best_steps"
        ]

    early = study("early", [20, 40, 60, 80, 100])
    assert early.verdict is Verdict.WARN and early.data["proposed_max_train_steps"] == 200
    assert "max_train_steps = 200" in early.next_step
    late = study("late", [500, 800, 900, 950, 1000])
    assert late.verdict is Verdict.WARN and late.data["late"] == 4
    assert late.data["proposed_max_train_steps"] == 2000 and "longer" in late.next_step
    spread = study("spread", [50, 300, 500, 700, 900])
    assert spread.verdict is Verdict.PASS and spread.data["proposed_max_train_steps"] is None


def test_one_input_bound_trial_is_named(session: Session) -> None:
    trials = lr_trials(lambda lr: -math.log10(lr), n=6)
    trials[2]["data"], trials[2]["compute"] = 4.0, 6.0  # 40% waiting for data
    study = add_study(session, "input", trials, {"learning_rate": LR})
    item = checklist(session, study)["input_bound"]
    [trial] = item.data["trials"]
    trial_id = load_study(session, study).trials[2].id
    assert item.verdict is Verdict.WARN and trial == {"trial": trial_id, "share": 0.4}
    assert f"trial {trial_id} (40%)" in item.evidence and "1 of 6 trials" in item.evidence
    trials[2]["data"] = 1.0
    again = checklist(session, add_study(session, "fed", trials, {"learning_rate": LR}))
    assert again["input_bound"].verdict is Verdict.PASS


def test_density_warns_while_the_second_half_still_helps(session: Session) -> None:
    lucky = [{"params": {"learning_rate": 1e-3}, "best": v} for v in (10, 9, 8, 7, 6, 1)]
    item = checklist(session, add_study(session, "lucky", lucky, {"learning_rate": LR}))["density"]
    assert item.verdict is Verdict.WARN and item.data["share"] > 0.1
    assert [p["k"] for p in item.data["bootstrap"]] == [1, 2, 3, 4, 5, 6]
    assert "12 instead of 6" in item.next_step
    dense = lr_trials(lambda lr: (math.log10(lr) + 2.5) ** 2, n=200)
    item = checklist(session, add_study(session, "dense", dense, {"learning_rate": LR}))["density"]
    assert item.verdict is Verdict.PASS and item.data["share"] < 0.1


def test_curves_of_the_best_trials_are_diagnosed(session: Session) -> None:
    trials = lr_trials(lambda lr: -math.log10(lr), n=8)
    kinds = {7: "overfitting", 6: "clean", 5: "late_variance", 0: "still_improving"}
    for index, kind in kinds.items():
        steps, train, val_steps, val = curve(kind)
        trials[index]["curves"] = {
            "train/loss": (steps, train),
            "validation/error": (val_steps, val),
        }
    study = add_study(session, "curves", trials, {"learning_rate": LR})
    item = checklist(session, study)["curves"]
    ids = [t.id for t in load_study(session, study).trials]
    assert item.data["trials"] == [
        {"trial": ids[7], "findings": ["overfitting"]},
        {"trial": ids[6], "findings": []},
        {"trial": ids[5], "findings": ["late_variance"]},
    ]  # the 4th best trial's curve is not read
    assert item.verdict is Verdict.WARN and f"trial {ids[6]}: no finding." in item.evidence
    assert item.next_step.startswith("Overfitting: regularize")
    assert "late variance" in item.next_step and "still improving" not in item.next_step
    bare = checklist(session, add_study(session, "bare", trials[1:4], {"learning_rate": LR}))
    assert (
        bare["curves"].verdict is Verdict.WARN and "no curves recorded" in bare["curves"].evidence
    )


def test_studies_without_finished_trials_and_experiments_combine(session: Session) -> None:
    empty = add_study(
        session,
        "empty",
        [{"params": {"learning_rate": 1e-3}, "status": TrialStatus.PENDING}],
        {"learning_rate": LR},
    )
    items = checklist(session, empty)
    assert {i.verdict for i in items.values()} == {Verdict.WARN}
    assert "no finished trials" in items["density"].evidence
    failed = add_study(
        session,
        "broken",
        [{"params": {"learning_rate": 1e-3}, "status": TrialStatus.FAILED}],
        {"learning_rate": LR},
    )
    broken = checklist(session, failed)
    assert {i.verdict for k, i in broken.items() if k != "input_bound"} == {Verdict.WARN}
    assert broken["infeasible"].evidence == "No trial ran to the end (1 failed)."
    assert broken["input_bound"].verdict is Verdict.PASS  # a failed trial still timed its steps
    add_study(
        session, "inside", lr_trials(lambda lr: (math.log10(lr) + 2.5) ** 2), {"learning_rate": LR}
    )
    views: tuple[StudyView, ...] = load_experiment(session, "exp")
    combined = {i.key: i for i in experiment_checklist(session, views)}
    boundaries = combined["boundaries"]
    assert boundaries.verdict is Verdict.WARN
    assert "'empty' (warn)" in boundaries.evidence and "Passes in 'inside'." in boundaries.evidence
    assert [s["verdict"] for s in boundaries.data["studies"]] == ["warn", "warn", "pass"]
    assert "'broken':" in boundaries.next_step
    assert {i.verdict for i in experiment_checklist(session, ())} == {Verdict.WARN}


def test_a_thousand_trial_study_checks_within_a_second(session: Session) -> None:
    rng = np.random.default_rng(0)
    rates = 10 ** rng.uniform(-4, -1, 1000)
    trials = [
        {
            "params": {"learning_rate": lr, "width": int(w)},
            "best": (math.log10(lr) + 2.5) ** 2,
            "best_step": int(s),
            "status": TrialStatus.INFEASIBLE if lr > 0.05 else TrialStatus.COMPLETED,
        }
        for lr, w, s in zip(rates, rng.integers(16, 257, 1000), rng.integers(1, STEPS, 1000))
    ]
    best = sorted(range(1000), key=lambda i: trials[i]["best"])[:3]
    for i in best:
        steps, train, val_steps, val = curve("clean")
        trials[i]["curves"] = {"train/loss": (steps, train), "validation/error": (val_steps, val)}
    study = add_study(session, "big", trials, {"learning_rate": LR, "width": WIDTH})
    start = time.perf_counter()
    items = study_checklist(session, load_study(session, study))
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0
    assert len(items) == len(ITEMS) and items[3].verdict is Verdict.PASS
