"""Wording (issue 8.8): counts agree with their nouns, and advice names only things the
user can do (there is no batch-size probe command: it says to set batch_size instead)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.execution.conftest import spec_text
from tests.execution.workloads import TINY_REF
from tunebook.sessions import Session
from tunebook.tui.cli import main


def test_experiment_add_counts_in_the_singular_and_points_to_a_spec_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.tunebook"
    Session.create(path, TINY_REF).close()
    one = tmp_path / "one.toml"
    one.write_text(spec_text(trials=3))
    assert main(["experiment", "add", str(path), str(one)]) == 0
    out = capsys.readouterr().out
    assert "added experiment 'tiny' with 1 study:" in out
    assert "1 nuisance hyperparameter gets 3 trials;" in out

    varied = tmp_path / "varied.toml"
    spec = spec_text(name="bs", scientific={"batch_size": [16, 32]})
    varied.write_text(spec.replace("batch_size = 32\n", ""))  # not also in [fixed]
    assert main(["experiment", "add", str(path), str(varied)]) == 0
    out = capsys.readouterr().out
    assert "with 2 studies:" in out
    [advice] = [line for line in out.splitlines() if "batch_size is scientific" in line]
    assert "set batch_size under [fixed]" in advice and "probe" not in advice
