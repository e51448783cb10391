"""The README's code examples run as written (STYLE.md: docs that cannot drift)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tunebook.core import api
from tunebook.sessions import TrialStatus
from tunebook.tui.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def example(name: str) -> str:
    """The fenced block right after `<!-- test: NAME -->`."""
    match = re.search(rf"<!-- test: {name} -->\n```(?:python|toml)\n(.*?)```", README, re.S)
    assert match, f"README has no example marked {name}"
    return match.group(1)


def test_workload_example_trains_as_a_user_workload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("spirals.py").write_text(example("workload-example"))
    assert main(["new", "spirals.tunebook", "--workload", "spirals.py:Spirals"]) == 0
    api.add_experiment(
        "spirals.tunebook",
        {
            "name": "lr",
            "goal": "a learning rate for the spirals MLP",
            "max_train_steps": 150,
            "fixed": {"optimizer": "adam", "batch_size": 64},
            "nuisance": {"learning_rate": {"low": 3e-3, "high": 3e-2, "scale": "log"}},
            "search": {"trials": 2},
        },
    )
    result = api.run("spirals.tunebook", executor="inline")
    assert result.progress.completed == 2
    best = min(t.best_value for t in api.trials("spirals.tunebook"))
    assert best < 0.55  # chance is 2/3 for three balanced classes: it learned something


def test_python_api_example_runs_twice_in_a_row(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example("python-api"))
    outputs = [
        subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        for _ in range(2)
    ]
    for out in outputs:
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr
        assert "best validation error" in out.stdout
    assert "4/4 trials" in outputs[0].stdout
    assert "mlp.tunebook exists" in outputs[1].stdout  # the second run says what it does
    trials = api.trials(tmp_path / "mlp.tunebook")
    assert len(trials) == 4  # the second run added nothing and re-ran nothing
    assert {t.status for t in trials} == {TrialStatus.COMPLETED}


def test_python_api_example_read_from_stdin_is_refused_in_one_sentence(tmp_path: Path) -> None:
    # Workers run the main script's file again; `python - < example.py` has none, so a run
    # would fail every trial. It is refused before the runner registers, with the way out.
    out = subprocess.run(
        [sys.executable, "-"],
        input=example("python-api"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1  # the script's own uncaught exception
    assert out.stderr.strip().splitlines()[-1] == (
        "tunebook.sessions.errors.BadInput: worker processes run the script that started "
        "them again, and its file '<stdin>' does not exist: save the script to a file and "
        "run that file"
    )
    assert "FileNotFoundError" not in out.stderr  # no worker was started
    assert api.trials(tmp_path / "mlp.tunebook") == []  # no trial started, none failed
