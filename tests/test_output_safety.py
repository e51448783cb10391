"""Text from a session or a spec never reaches a terminal or an export raw (issue 7.5).

`safe_text` is checked with hypothesis; then every command that shows data runs as a real
`tunebook` process on a real session file full of hostile names, goals and errors.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.execution.conftest import new_session, spec_text
from tunebook.sessions import DecisionKind, Session, TrialStatus
from tunebook.sessions.text import UNSAFE_CATEGORIES, plural, safe_text

TUNEBOOK = (sys.executable, "-m", "tunebook.tui.cli")
#: Terminal escapes (OSC title, clear screen), a C1 CSI, bidi overrides and isolates, NUL,
#: line breaks, DEL and a Unicode line separator; plus rich markup that must stay text.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\u2066\x00\r\n\x7f\u2028|"
MARKUP = "[/] [link=https://evil.example]click[/link] [bold red]"


def _unsafe(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES and c != "\n"]


@given(st.text())
def test_no_control_or_bidi_character_survives(text: str) -> None:
    shown = safe_text(text)
    assert not [c for c in shown if unicodedata.category(c) in UNSAFE_CATEGORIES]


@given(st.text(alphabet=st.characters(blacklist_categories=tuple(UNSAFE_CATEGORIES))))
def test_safe_text_keeps_ordinary_text(text: str) -> None:
    assert safe_text(text) == text


def test_escapes_are_visible_and_named() -> None:
    assert safe_text("a\x1b[2Jb\u202ec\x00\n") == "a\\x1b[2Jb\\u202ec\\x00\\x0a"
    assert safe_text("\U000e0001") == "\\U000e0001"  # a language tag (Cf), outside the BMP


def test_plural() -> None:
    assert [plural(n, "study") for n in (0, 1, 2)] == ["0 studies", "1 study", "2 studies"]
    assert plural(1, "nuisance hyperparameter") == "1 nuisance hyperparameter"
    assert plural(3, "day") == "3 days"


def hostile_session(path: Path) -> Path:
    """A session whose every text field a person sees is hostile."""
    with Session.create(path, "tabular", {"rows": 100}, name=f"s{HOSTILE}{MARKUP}") as session:
        session.record_decision(DecisionKind.BATCH_SIZE, f"64{HOSTILE}", "x")
        experiment = session.add_experiment(f"e{HOSTILE}", MARKUP + HOSTILE, {"fixed": {}}, 10)
        study = session.add_study(
            experiment.id,
            f"st{HOSTILE}{MARKUP}",
            {},
            "quasi-random",
            3,
            0,
            "error",
            "min",
            {f"k{HOSTILE}": f"v{HOSTILE}"},
        )
        for status, error in (
            (TrialStatus.FAILED, f"boom{HOSTILE}{MARKUP}"),
            (TrialStatus.FAILED, f"boom{HOSTILE}{MARKUP}"),
            (TrialStatus.COMPLETED, ""),
        ):
            trial = session.add_trial(study.id, {"learning_rate": 0.1}, 1, 2)
            session.start_trial(trial.id)
            session.finish_trial(
                trial.id, status, best_step=1, best_value=0.5 if error == "" else None, error=error
            )
            session.set_reproduce(trial.id, f"tunebook trial rerun `{HOSTILE}` {trial.id}")
        session.add_note("session", f"note{HOSTILE}")
    return path


def run_cli(*args: object) -> subprocess.CompletedProcess[bytes]:
    """`tunebook ARGS` with its raw output bytes (no decoding that could hide anything)."""
    return subprocess.run([*TUNEBOOK, *map(str, args)], capture_output=True, timeout=120)


def assert_clean(result: subprocess.CompletedProcess[bytes]) -> str:
    """No control, bidi or separator character in stdout or stderr, except line ends."""
    for stream in (result.stdout, result.stderr):
        text = stream.decode("utf-8")
        assert not _unsafe(text), f"raw characters reached the terminal: {_unsafe(text)!r}"
    return result.stdout.decode("utf-8")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    return hostile_session(tmp_path / "h.tunebook")


def test_status_shows_hostile_text_escaped_and_markup_as_text(hostile: Path) -> None:
    result = run_cli("status", hostile)
    assert result.returncode == 0, result.stderr
    out = assert_clean(result)
    assert "\\x1b]0;pwned\\x07" in out and "\\u202e" in out
    assert "[link=https://evil.example]" in out  # shown, not turned into a link
    assert "2 trials failed: boom" in out


def test_status_json_and_export_json_escape_bidi_and_controls(hostile: Path) -> None:
    for args in (("status", hostile, "--json"), ("export", hostile, "-f", "json")):
        result = run_cli(*args)
        assert result.returncode == 0, result.stderr
        out = assert_clean(result)
        assert "\\u202e" in out
        data = json.loads(out)  # and the text comes back exactly as stored
        assert data["experiments"][0]["name"] == f"e{HOSTILE}"


def test_export_markdown_escapes_and_keeps_tables_whole(hostile: Path) -> None:
    result = run_cli("export", hostile, "-f", "md")
    assert result.returncode == 0, result.stderr
    out = assert_clean(result)
    table = [line for line in out.splitlines() if line.startswith("| st\\x1b")]
    assert len(table) == 1
    assert table[0].replace("\\|", "").count("|") == 8  # 7 cells: no '|' broke out
    assert "2 trials failed: boom" in out


def test_export_csv_is_valid_and_escaped(hostile: Path) -> None:
    result = run_cli("export", hostile, "-f", "csv")
    assert result.returncode == 0, result.stderr
    out = assert_clean(result)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3
    assert rows[0]["error"].startswith("boom\\x1b]0;pwned\\x07")
    assert rows[0][safe_text(f"param.k{HOSTILE}")] == safe_text(f"v{HOSTILE}")


def test_errors_escape_paths_and_values(tmp_path: Path) -> None:
    argv_safe = HOSTILE.replace("\x00", "")  # a command-line argument cannot hold NUL
    missing = tmp_path / f"m{argv_safe}.tunebook"
    for args in (("status", missing), ("export", missing, "-f", f"x{argv_safe}")):
        result = run_cli(*args)
        assert result.returncode == 2
        assert_clean(result)
        assert result.stderr.decode().count("\n") == 1
    debug = run_cli("--debug", "status", missing)
    assert_clean(debug)
    assert b"Traceback" in debug.stderr


def test_experiment_add_escapes_spec_text(tmp_path: Path) -> None:
    session = tmp_path / "s.tunebook"
    Session.create(session, "tabular", {}).close()
    spec = tmp_path / "spec.toml"
    name = json.dumps(f"n{HOSTILE}{MARKUP}")  # a TOML basic string with \u escapes
    spec.write_text(
        f"name = {name}\ngoal = {name}\nmax_train_steps = 10\n"
        "[fixed]\nbatch_size = 16\n[scientific]\nwidth = [8, 16]\n"
        '[nuisance]\nlearning_rate = { low = 1e-3, high = 1e-1, scale = "log" }\n'
        "[search]\ntrials = 2\n"
    )
    result = run_cli("experiment", "add", session, spec)
    out = assert_clean(result)
    if result.returncode == 0:  # names are data: accepted, then shown escaped
        assert "with 2 studies" in out and "\\x1b]0;pwned" in out
        assert "1 nuisance hyperparameter gets 2 trials for width=8" in out
    else:  # or refused in one escaped sentence
        assert result.returncode == 2 and result.stderr.decode().count("\n") == 1


def test_run_and_trial_rerun_escape_a_hostile_error(tmp_path: Path) -> None:
    """A real trial fails with an error that quotes a hostile file name: `run`, `status`
    and `trial rerun` show it escaped."""
    flag = tmp_path / f"flag{HOSTILE.replace(chr(0), '')}"  # a file name cannot hold NUL
    path = new_session(tmp_path, spec_text(steps=5, trials=1), config={"fail_if_exists": str(flag)})
    flag.touch()  # after `experiment add`, whose one-step check would refuse the workload
    run = run_cli("run", path, "--executor", "inline")
    assert run.returncode == 1
    assert "1 trial failed: " in assert_clean(run)
    assert "flag\\x1b]0;pwned\\x07" in run.stdout.decode()
    assert "flag\\x1b]0;pwned\\x07" in assert_clean(run_cli("status", path))
    rerun = run_cli("trial", "rerun", path, 1)
    assert rerun.returncode == 0, rerun.stderr
    assert "now    failed, no best value: WorkloadError" in assert_clean(rerun)
