"""`tunebook review`: the JSON document is the core.analysis numbers, the text shows the
checklist and plots, names from the file are shown as typed, bad input is one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.analysis.sessions import per_value_experiment
from tunebook.core.analysis.checklist import ITEMS
from tunebook.sessions import Session
from tunebook.tui.cli import main


def review_json(path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["review", str(path), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_json_document_holds_the_experiments_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, trials = per_value_experiment(tmp_path / "s.tunebook")
    document = review_json(path, capsys)
    assert document["experiment"]["name"] == "depth"
    assert [i["key"] for i in document["checklist"]] == [key for key, *_ in ITEMS]
    assert all(i["verdict"] in ("pass", "warn", "fail") for i in document["checklist"])
    isolation = {p["label"]: p for p in document["isolation"][0]["points"]}
    for depth, pairs in trials.items():
        study = next(s for s in document["studies"] if s["scientific"] == {"depth": depth})
        feasible = [(tid, v) for tid, v in pairs if v is not None]
        best_id, best_value = min(feasible, key=lambda pair: pair[1])
        assert study["best"]["trial_id"] == best_id and study["best"]["value"] == best_value
        assert isolation[str(depth)]["best"] == best_value
        assert study["trials"]["infeasible"] == len(pairs) - len(feasible)
        ranked = [r["trial_id"] for r in study["ranking"]["trials"]]
        assert ranked == [tid for tid, _ in sorted(feasible, key=lambda pair: pair[1])]
        plot = study["axis_plots"][0]
        assert plot["name"] == "learning_rate" and plot["scale"] == "log"
        assert sum(p["infeasible"] for p in plot["points"]) == len(pairs) - len(feasible)


def test_the_text_review_shows_the_checklist_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = per_value_experiment(tmp_path / "s.tunebook")
    assert main(["review", str(path)]) == 0
    out = capsys.readouterr().out
    assert "checklist (PB-11)" in out and "isolation plot: depth" in out
    assert "axis plot: error by learning_rate" in out and "ranked by validation/error" in out
    assert "\x1b" not in out


def test_names_from_the_file_are_shown_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hostile.tunebook"
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("[bold]x[/]\x1b[2J", "goal [red]y", {}, 10)
        layout = {"space": {}, "scientific": {}}
        session.add_study(experiment.id, "[i]s", layout, "quasi-random", 1, 0, "error", "min")
    assert main(["review", str(path)]) == 0
    out = capsys.readouterr().out
    assert "'[bold]x[/]\\x1b[2J'" in out and "goal [red]y" in out and "'[i]s'" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--experiment", "nope"], "no experiment 'nope'"),
        (["--rank-by", "validation/nope"], "validation/nope"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path, _ = per_value_experiment(tmp_path / "s.tunebook")
    assert main(["review", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_session_without_experiments_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.tunebook"
    Session.create(path, "tabular", {}).close()
    assert main(["review", str(path)]) == 2
    assert "has no experiment to review" in capsys.readouterr().err


def test_conclude_stores_the_note_and_the_evidence_and_the_report_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, trials = per_value_experiment(tmp_path / "s.tunebook")
    best = min((v, depth) for depth, pairs in trials.items() for _, v in pairs if v is not None)
    assert main(["conclude", str(path), "depth", "--note", "depth 2 is enough"]) == 0
    with Session.open(path, read_only=True) as session:
        experiment = session.experiment("depth")
    assert experiment.status.value == "concluded"
    assert experiment.conclusion.startswith("depth 2 is enough Evidence: ")
    assert f"depth={best[1]} won with error {best[0]:.4g}" in experiment.conclusion
    capsys.readouterr()
    assert main(["export", str(path), "--format", "md"]) == 0
    report = capsys.readouterr().out
    assert "Design: scientific depth (1, 2, 3)" in report
    assert "Review checklist (PB-11):" in report and "| Infeasible trials |" in report
    assert "Conclusion: depth 2 is enough Evidence:" in report


def test_conclude_refuses_unfinished_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = per_value_experiment(tmp_path / "s.tunebook")
    with Session.open(path) as session:
        session.add_trial(session.studies()[0].id, {"learning_rate": 0.01}, 1, 2)
    assert main(["conclude", str(path), "depth"]) == 2
    assert "has 1 unfinished trials" in capsys.readouterr().err
    with Session.open(path, read_only=True) as session:
        assert session.experiment("depth").conclusion == ""
