"""`tunebook promote` (PB-20) end to end with real training on a tiny tabular session:
run a short round → promote its best two trials to twice the steps → run the longer
round → its trials ran the new step budget with the extended schedules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunebook.core.design.draft import check, draft_from_experiment
from tunebook.core.experiments import add_experiment_from_dict
from tunebook.core.training.schedules import Schedule
from tunebook.sessions import Session
from tunebook.tui.cli import main

SHORT = {
    "name": "short",
    "goal": "Which learning rate trains the MLP in 12 steps?",
    "max_train_steps": 12,
    "eval_every": 4,
    "fixed": {
        "batch_size": 32,
        "depth": 1,
        "width": 8,
        "schedule": "linear",
        "warmup_steps": 2,
        "decay_start": 6,
    },
    "nuisance": {"learning_rate": {"low": 1e-3, "high": 0.1, "scale": "log"}},
    "search": {"algorithm": "quasi-random", "trials": 3},
}


def test_promote_then_run_the_longer_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.tunebook"
    with Session.create(path, "tabular", {}) as session:
        add_experiment_from_dict(session, SHORT, "test")
    assert main(["run", str(path), "--executor", "inline"]) == 0
    capsys.readouterr()

    for bad in (["--factor", "1"], ["--steps", "12"], ["--top", "0"]):
        assert main(["promote", str(path), "short", *bad]) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert main(["promote", str(path), "nope"]) == 2
    assert main(["promote", str(path), "short", "--top", "2", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["experiment"] is None and dry["spec"]["max_train_steps"] == 24
    assert dry["spec"]["fixed"]["decay_start"] == 18 and dry["plan"]["factor"] == 2.0
    with Session.open(path, read_only=True) as session:
        assert [e.name for e in session.experiments()] == ["short"]

    assert main(["promote", str(path), "short", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "longer round of 'short'" in out and "max_train_steps 12 → 24 (×2)" in out
    assert "learning_rate=" in out and "eval_every 4 → 8" in out
    assert "added experiment 'short-long'" in out
    with Session.open(path, read_only=True) as session:
        draft = draft_from_experiment(session.experiment("short-long"))
    # "New experiment from this one" in the designer: the same space, searched quasi-randomly.
    draft.name, draft.goal = "again", "Which learning rate trains it in 24 steps?"
    assert check(draft, None) == []
    assert draft.search["algorithm"] == "quasi-random" and draft.search["trials"] == 2

    assert main(["run", str(path), "--experiment", "short-long", "--executor", "inline"]) == 0
    with Session.open(path, read_only=True) as session:
        (study,) = session.studies(session.experiment("short-long").id)
        trials = session.trials(study_id=study.id)
        lrs = session.study_series(study.id, "train/lr")
        losses = session.study_series(study.id, "validation/loss")
    planned = [p["learning_rate"] for p in dry["spec"]["search"]["points"]]
    assert sorted(t.params["learning_rate"] for t in trials) == sorted(planned)
    extended = Schedule("linear", 24, warmup_steps=2, decay_start=18)
    for trial in trials:
        assert study.fixed["decay_start"] == 18 and trial.status.value == "completed"
        series = lrs[trial.id]
        assert series.steps == list(range(1, 25))
        base = trial.params["learning_rate"]
        assert series.values == pytest.approx([extended.lr(s, base) for s in series.steps])
        # eval_every scaled with the budget: evaluations at 8, 16, 24 (as many as before).
        assert losses[trial.id].steps[-3:] == [8, 16, 24]
