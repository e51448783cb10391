"""The command line's contract: real session files, real output, exit codes (DESIGN.md)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.filled_session import fill_session
from tunebook.sessions import SCHEMA_VERSION
from tunebook.tui.cli import main


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    return fill_session(tmp_path / "s.tunebook")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("tunebook ")


def test_status_json_reports_real_content(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(filled), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["workload"] == {"ref": "tabular", "config": {"rows": 100}}
    assert data["trials"] == {
        "pending": 0,
        "running": 0,
        "completed": 4,
        "infeasible": 2,
        "failed": 2,
        "total": 8,
    }
    studies = data["experiments"][0]["studies"]
    assert [s["name"] for s in studies] == ["depth=2", "depth=3"]
    assert [s["finished"] for s in studies] == [4, 4]
    assert studies[1]["best_value"] == pytest.approx(0.2 / 3)
    assert data["decisions"] == [{"kind": "batch_size", "value": 128, "stale": False}]
    assert data["launches"] == 1


def test_status_text(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(filled)]) == 0
    out = capsys.readouterr().out
    assert "depth=3" in out and "8 total" in out and "batch_size: 128" in out


def test_export_csv_has_one_row_per_trial(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(filled), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 8
    assert {r["status"] for r in rows} == {"completed", "infeasible", "failed"}
    assert rows[0]["param.depth"] == "2" and rows[0]["param.learning_rate"] == "0.02"
    assert rows[0]["reproduce"].startswith("tunebook trial rerun")


def test_export_json_and_md(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.json"
    assert main(["export", str(filled), "-f", "json", "--output", str(target)]) == 0
    data = json.loads(target.read_text())
    assert len(data["trials"]) == 8 and data["launches"][0]["note"] == "adopted"
    assert main(["export", str(filled), "-f", "md"]) == 0
    md = capsys.readouterr().out
    assert "## Experiment: depth" in md and "| depth=3 | quasi-random | 4/4 |" in md


def test_export_to_missing_folder_is_bad_input(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(filled), "--output", str(tmp_path / "no" / "x.md")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_new_refuses_existing_file(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = filled.read_bytes()
    assert main(["new", str(filled), "--workload", "tabular"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err
    assert filled.read_bytes() == before


def test_usage_error_is_one_sentence_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["status"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_real_process_exit_codes_and_debug(tmp_path: Path) -> None:
    missing = tmp_path / "missing.tunebook"
    plain = subprocess.run(
        [sys.executable, "-m", "tunebook.tui.cli", "status", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 2
    assert plain.stderr.strip() == f"tunebook: session file '{missing}' does not exist"
    debug = subprocess.run(
        [sys.executable, "-m", "tunebook.tui.cli", "--debug", "status", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--experiment", "nosuch"], "no experiment 'nosuch'"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_a_refused_run_prints_one_sentence_and_no_progress_bar(
    filled: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(["run", str(filled), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err


def test_notes_go_where_they_belong_in_the_report(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["note", str(filled), "the data is noisy"]) == 0
    assert main(["note", str(filled), "depth 3 | wins?", "--experiment", "depth"]) == 0
    assert main(["note", str(filled), "spiky\x1b[31m", "--trial", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "note 3 on trial 1"
    assert main(["note", str(filled), "x", "--trial", "999"]) == 2
    assert main(["note", str(filled), "   "]) == 2
    assert "the note is empty" in capsys.readouterr().err
    assert main(["export", str(filled), "--format", "md"]) == 0
    report = capsys.readouterr().out
    session_part, experiment_part = report.split("## Experiment: depth", 1)
    assert "- the data is noisy" in session_part
    assert "- depth 3 \\| wins?" in experiment_part
    assert "- trial 1: spiky\\x1b[31m" in experiment_part and "\x1b" not in report


def test_new_and_add_skip_the_teardown_yet_leave_their_output_and_a_whole_file(
    tmp_path: Path,
) -> None:
    """`new` and `experiment add` end without the interpreter's teardown (0.3 s with torch
    loaded): an exit hook never runs, yet their output through a pipe is whole and the
    session file closed (no WAL beside it) with the experiment in it. `status` tears down."""
    from tests.execution.conftest import TINY_REF, spec_text

    path, spec = tmp_path / "s.tunebook", tmp_path / "s.toml"
    spec.write_text(spec_text(trials=2))
    hooked = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
        "from tunebook.tui.cli import entry_point\n"
        "sys.argv[:] = ['tunebook', *sys.argv[1:]]\n"
        "entry_point()\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", hooked, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    created = run("new", str(path), "-w", TINY_REF)
    added = run("experiment", "add", str(path), str(spec))
    status = run("status", str(path))
    assert (created.returncode, added.returncode, status.returncode) == (0, 0, 0)
    assert created.stdout.startswith(f"created {path} for workload ")
    assert added.stdout.startswith("added experiment 'tiny' with 1 study:")
    assert added.stdout.rstrip().endswith(f"run it with 'tunebook run {path}'")
    assert "teardown ran" not in created.stderr + added.stderr
    assert "teardown ran" in status.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml", "s.tunebook"]
    assert "tiny" in status.stdout
