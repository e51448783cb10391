"""`tunebook probe` and `tunebook decide`: real sessions, real (tiny) measurements, the
exit-code contract and the same numbers in `--json` and in the decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunebook.sessions import DecisionKind, Session
from tunebook.tui.cli import main

TINY = ["--executor", "inline", "--min-steps", "3", "--min-seconds", "0.01", "--max-size", "64"]


@pytest.fixture
def session_path(tmp_path: Path) -> Path:
    path = tmp_path / "p.tunebook"
    Session.create(path, "tabular", {}).close()
    return path


def test_batch_size_probe_json_and_decide_take_its_recommendation(
    session_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", "batch-size", str(session_path), "--json", *TINY]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "completed"
    assert list(data["points"]) == ["b16", "b32", "b64"]
    rows = data["summary"]["rows"]
    assert [r["batch_size"] for r in rows] == [16, 32, 64]
    assert all(r["examples_per_second"] > 0 and r["steps_timed"] >= 3 for r in rows)
    recommended = data["summary"]["recommendation"]["value"]
    assert recommended in (16, 32, 64)
    assert main(["probe", "batch-size", str(session_path), "--show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == data["id"]  # shown, not measured again

    assert main(["decide", str(session_path), "batch-size"]) == 0
    assert f"decided batch-size: {recommended}" in capsys.readouterr().out
    with Session.open(session_path, read_only=True) as session:
        decision = session.decision(DecisionKind.BATCH_SIZE)
    assert decision is not None and decision.value == recommended
    assert decision.evidence["probe"] == data["id"]

    assert main(["decide", str(session_path), "optimizer", "nesterov"]) == 0
    assert "now stale (decide again after a new probe): batch_size" in capsys.readouterr().out


def test_the_human_output_has_the_table_chart_and_recommendation(
    session_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", "batch-size", str(session_path), *TINY]) == 0
    out = capsys.readouterr().out
    assert "examples/s" in out and "throughput by batch size" in out
    assert "recommended: " in out and "Gradient accumulation is not offered" in out
    assert "\x1b" not in out  # the plotext chart comes without colour codes


def test_model_and_optimizer_show_the_choices(
    session_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", "model", str(session_path), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert [h["name"] for h in model["hparams"]][:2] == ["width", "depth"]
    assert "family" in model["advice"]
    assert main(["probe", "optimizer", str(session_path), "--json"]) == 0
    optimizers = json.loads(capsys.readouterr().out)
    assert len(optimizers["optimizers"]) == 7
    assert optimizers["suggestion"]["name"] == "adam"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["probe", "training-length", "{path}", "--start", "8"],
            "--start applies to the batch-size",
        ),
        (["decide", "{path}", "batch-size"], "no completed batch-size probe"),
        (["decide", "{path}", "batch-size", "0"], "must be a positive integer"),
        (["decide", "{path}", "model", "width=wide"], "must be a number"),
        (["decide", "{path}", "model", "colour=red"], "not NAME=VALUE for one of the model's"),
        (
            ["decide", "{path}", "optimizer", "adam", "--freeze", "learning_rate"],
            "cannot be frozen",
        ),
        (["decide", "{path}", "stability", "warmup_steps=-1"], "non-negative integer"),
        (["probe", "batch-size", "{path}", "--start", "12"], "power of two"),
        (["probe", "batch-size", "{path}", "--device", "bogus"], "is not a torch device"),
        (["probe", "batch-size", "{path}", "--memory-budget", "-5"], "positive number of MB"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(
    session_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    args = [a.replace("{path}", str(session_path)) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    with Session.open(session_path, read_only=True) as session:
        assert session.decisions() == [] and session.probes() == []
