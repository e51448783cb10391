"""Sessions move: files stored relative to the session's folder, a missing one named with
the command that fixes it, `tunebook relocate`, and the notice before someone else's
workload code runs (issue #8 item 3, issue #7 item 10). Real files, real `tunebook`
processes, real tiny training."""

from __future__ import annotations

import json
import random
import shutil
import socket
from pathlib import Path

import pytest

from tests.execution.conftest import cli, new_session, spec_text, start_cli, wait_for
from tests.execution.workloads import TINY_REF
from tunebook.core import api
from tunebook.core.workload_source import WorkloadSource, foreign_code_notice, stored_path
from tunebook.sessions import Session
from tunebook.tui.cli import main

#: A user's workload file: the tabular MLP on the CSV given by `csv=`; it says on stderr
#: when it is imported, so a test can see the notice comes first.
MODEL_PY = '''
import sys

from tunebook.core.workloads.tabular import TabularWorkload

print("model.py imported", file=sys.stderr, flush=True)


class Rows(TabularWorkload):
    """The tabular MLP, from a workload file beside the session."""
'''

SPEC = {
    "name": "lr",
    "goal": "Which learning rate?",
    "max_train_steps": 20,
    "eval_every": 10,
    "fixed": {"optimizer": "adam", "batch_size": 16},
    "nuisance": {"learning_rate": {"low": 1e-3, "high": 1e-1, "scale": "log"}},
    "search": {"algorithm": "quasi-random", "trials": 2, "seed": 0},
}


def write_project(folder: Path) -> None:
    """`model.py` and `data/points.csv` (60 rows: two features, a text label)."""
    (folder / "data").mkdir(parents=True)
    (folder / "model.py").write_text(MODEL_PY)
    rng = random.Random(0)
    rows = ["x,y,label"]
    for _ in range(60):
        x, y = rng.gauss(0, 1), rng.gauss(0, 1)
        rows.append(f"{x:.4f},{y:.4f},{'up' if x + 0.5 * y > 0 else 'down'}")
    (folder / "data" / "points.csv").write_text("\n".join(rows) + "\n")


def write_spec(path: Path, name: str) -> Path:
    """A one-trial spec file named `name`."""
    path.write_text(
        spec_text(name=name, steps=20, trials=1, fixed={"batch_size": 16}, eval_every=10)
    )
    return path


@pytest.fixture
def created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tmp/proj/s.tunebook`, created from `tmp` with paths relative to `tmp` (as a user
    types them), for `proj/model.py:Rows` on `proj/data/points.csv`."""
    write_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    path = Path("proj/s.tunebook")
    api.create_session(
        path, "proj/model.py:Rows", {"csv": "proj/data/points.csv", "target": "label"}
    )
    return tmp_path / path


@pytest.fixture
def finished(created: Path) -> Path:
    """The same session with a two-trial experiment run to the end."""
    api.add_experiment(created, SPEC)
    result = api.run(created, executor="inline")
    assert result.progress.completed == 2
    return created


def stored_workload(path: Path) -> tuple[str, dict]:
    """The workload reference and config as the session file holds them."""
    with Session.open(path, read_only=True) as session:
        info = session.info()
    return info.workload, info.workload_config


def test_a_session_moved_with_its_folder_works_from_anywhere(
    finished: Path, tmp_path: Path
) -> None:
    assert stored_workload(finished) == (
        "model.py:Rows",
        {"csv": "data/points.csv", "target": "label", "task": "classification"},
    )
    moved = tmp_path / "machine2" / "work"
    moved.mkdir(parents=True)
    for name in ("s.tunebook", "model.py", "data"):
        copy = shutil.copytree if name == "data" else shutil.copy2
        copy(finished.parent / name, moved / name)
    shutil.rmtree(finished.parent)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    session = moved / "s.tunebook"

    status = cli("status", session, "--json", cwd=elsewhere)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["trials"]["completed"] == 2
    export = cli("export", session, "--format", "csv", cwd=elsewhere)
    assert export.returncode == 0 and len(export.stdout.splitlines()) == 3, export.stderr

    rerun = cli("trial", "rerun", session, 1, cwd=elsewhere)
    assert rerun.returncode == 0, rerun.stderr
    assert "now    completed" in rerun.stdout and "same numbers" in rerun.stdout

    spec = write_spec(elsewhere / "more.toml", "more")
    added = cli("experiment", "add", session, spec, cwd=elsewhere)
    assert added.returncode == 0, added.stderr
    run = cli("run", session, cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert "3/3 trials finished: 3 completed" in run.stdout  # 2 moved, 1 new


def test_a_session_copied_without_its_files_names_them_and_relocate_fixes_it(
    finished: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    session = other / "s.tunebook"
    shutil.copy2(finished, session)
    with Session.open(session, read_only=True) as opened:
        before = (opened.experiments(), opened.trials(), opened.events())
    spec = write_spec(other / "more.toml", "more")

    missing_model = (
        f"tunebook: the workload file 'model.py' of session '{session}' resolves to "
        f"'{other / 'model.py'}', which does not exist; point the session at it with "
        f"'tunebook relocate {session} --workload NEWPATH.py:Rows'\n"
    )
    for command in (("run", session), ("experiment", "add", session, spec)):
        refused = cli(*command, cwd=other)
        assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", missing_model)
    refused = cli("trial", "rerun", session, 1)
    assert (refused.returncode, refused.stderr) == (2, missing_model)
    with Session.open(session, read_only=True) as opened:
        assert (opened.experiments(), opened.trials(), opened.events()) == before
    for command in (("status", session), ("export", session, "--format", "md")):
        assert cli(*command).returncode == 0

    fixed = cli(
        "relocate",
        "s.tunebook",
        "--workload",
        "../proj/model.py:Rows",
        "-o",
        "csv=../proj/data/points.csv",
        cwd=other,
    )
    assert fixed.returncode == 0, fixed.stderr
    ref, config = stored_workload(session)
    assert (ref, config["csv"]) == ("../proj/model.py:Rows", "../proj/data/points.csv")
    with Session.open(session, read_only=True) as opened:
        event = opened.events()[-1]
    assert event.kind == "workload.relocated"
    assert event.data["from"]["ref"] == "model.py:Rows"
    assert event.data["to"]["csv"] == "../proj/data/points.csv"
    rerun = cli("trial", "rerun", session, 2, cwd=tmp_path)
    assert rerun.returncode == 0 and "now    completed" in rerun.stdout, rerun.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "relocate needs --workload NEWREF or -o OPTION=NEWPATH"),
        (["-o", "target=kind"], "option 'target' of workload 'model.py:Rows' is not a file path"),
        (["--workload", "model.py:Other"], "names class 'Other'"),
        (["-o", "csv=nowhere.csv"], "CSV 'nowhere.csv': cannot be read"),
    ],
)
def test_relocate_refuses_what_is_not_a_move_and_changes_nothing(
    created: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    before = stored_workload(created)
    assert main(["relocate", str(created), *arguments]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert stored_workload(created) == before
    with Session.open(created, read_only=True) as session:
        assert session.runner() is None and session.events()[-1].kind == "session.created"


def test_relocate_moves_a_builtin_workloads_data_not_its_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "b.tunebook"
    api.create_session(path, "tabular")
    assert main(["relocate", str(path), "--workload", "tabular.py:TabularWorkload"]) == 2
    assert "the built-in 'tabular', which has no file to relocate" in capsys.readouterr().err


def test_relocate_learns_the_file_options_of_a_session_that_never_recorded_them(
    tmp_path: Path,
) -> None:
    write_project(tmp_path / "old")
    config = {"csv": str(tmp_path / "old/data/points.csv"), "target": "label"}
    with Session.create(tmp_path / "s.tunebook", "tabular", config) as session:
        assert session.meta_value("workload_path_options") is None
    (tmp_path / "old").rename(tmp_path / "new")
    csv = tmp_path / "new/data/points.csv"
    assert main(["relocate", str(tmp_path / "s.tunebook"), "-o", f"csv={csv}"]) == 0
    with Session.open(tmp_path / "s.tunebook", read_only=True) as session:
        assert session.info().workload_config["csv"] == "new/data/points.csv"
        assert session.meta_value("workload_path_options") == '["csv"]'


def test_relocate_is_refused_while_a_runner_is_alive(
    tmp_path: Path, processes: list, capsys: pytest.CaptureFixture[str]
) -> None:
    path = new_session(tmp_path, spec_text(steps=400, fixed={"sleep_ms": 20.0}))
    processes.append(start_cli("run", path, "--executor", "inline"))

    def runner_alive() -> bool:
        with Session.open(path, read_only=True) as session:
            return session.runner() is not None

    wait_for(runner_alive, 60, "the runner to register")
    assert main(["relocate", str(path), "--workload", TINY_REF]) == 2
    assert "is already being run by process" in capsys.readouterr().err


def test_paths_near_the_session_are_stored_relative_others_absolute(tmp_path: Path) -> None:
    folder = str(tmp_path / "project" / "sessions")
    assert stored_path(str(tmp_path / "project/sessions/d/a.csv"), folder) == "d/a.csv"
    assert stored_path(str(tmp_path / "project/data/a.csv"), folder) == "../data/a.csv"
    assert stored_path(str(tmp_path / "project/sessions/..a.csv"), folder) == "..a.csv"
    assert stored_path(str(tmp_path / "b.csv"), folder) == str(tmp_path / "b.csv")
    assert stored_path("/data/b.csv", "/top") == "/data/b.csv"  # the root anchors nothing


def test_a_module_reference_names_its_file_without_running_any_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    package = tmp_path / "somepkg"
    package.mkdir()
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (package / "model.py").write_text(MODEL_PY)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = WorkloadSource(str(tmp_path / "s.tunebook"), "somepkg.model:Rows", {}, ())
    assert source.imports() == str(package / "model.py")
    missing = WorkloadSource(str(tmp_path / "s.tunebook"), "nopkg.model:Rows", {}, ())
    assert missing.imports() == "module 'nopkg.model' (not found here)"
    assert not marker.exists()


def test_new_records_its_creator_and_another_users_session_names_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOGNAME", "alice")
    config = {"csv": "data/points.csv", "target": "label"}
    own = api.create_session("own.tunebook", "model.py:Rows", config)
    builtin = api.create_session("builtin.tunebook", "tabular")
    host = socket.gethostname()
    with Session.open(own.path) as session:
        assert session.meta_value("created_by") == f"alice@{host}"
        assert foreign_code_notice(session) is None
    monkeypatch.setenv("LOGNAME", "bob")
    with Session.open(builtin.path) as session:
        assert foreign_code_notice(session) is None
    with Session.open(own.path) as session:
        assert foreign_code_notice(session) == (
            f"note: session 'own.tunebook' was created by 'alice@{host}', not bob@{host}; "
            f"its workload 'model.py:Rows' runs the code in '{tmp_path / 'model.py'}' as you"
        )


def test_the_notice_comes_before_someone_elses_code_runs_and_status_never_imports_it(
    finished: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "imported"
    model = finished.parent / "model.py"
    model.write_text(model.read_text() + f"\nopen({str(marker)!r}, 'w').close()\n")
    notice = f"note: session '{finished}' was created by "
    as_alice = {"LOGNAME": "alice"}

    for command in (("status", finished), ("export", finished, "--format", "json")):
        assert cli(*command, env=as_alice).returncode == 0
    assert not marker.exists()

    spec = write_spec(tmp_path / "more.toml", "more")
    runs = [
        cli("experiment", "add", finished, spec, env=as_alice),
        cli("run", finished, env=as_alice),
        cli("trial", "rerun", finished, 3, env=as_alice),
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        lines = done.stderr.splitlines()
        assert lines[0].startswith(notice) and f"runs the code in '{model}'" in lines[0]
        assert lines[1] == "model.py imported"
    assert marker.exists()
