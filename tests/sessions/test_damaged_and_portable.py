"""Damaged session files are refused in one sentence and never written (issue #7, item 8),
and a session file that no process holds is complete on its own (issue #8, item 3).

Real files damaged the way disks and hand edits damage them, the real `tunebook` command.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.execution.conftest import cli, new_session, spec_text
from tests.execution.workloads import TINY_REF
from tests.sessions.helpers import run_parallel, sha256, sidecars
from tunebook.core import api
from tunebook.core.execution.runner import Runner
from tunebook.core.experiments import add_experiment_from_spec
from tunebook.sessions import Session, SessionFileError


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Tiny session: experiment `tiny` run to the end, experiment `more` still to run."""
    folder = tmp_path_factory.mktemp("finished")
    path = new_session(folder, spec_text(steps=6, trials=2, eval_every=3))
    Runner(path, executor="inline").run()
    spec = folder / "more.toml"
    spec.write_text(spec_text(name="more", steps=6, trials=2))
    with Session.open(path) as session:
        add_experiment_from_spec(session, spec)
    assert sidecars(path) == []
    return path


def _sql(statement: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        """Apply one SQL statement as a hand edit would."""
        conn = sqlite3.connect(path)
        conn.execute(statement)
        conn.commit()
        conn.close()

    return damage


def _overwrite_text(table: str, needle: bytes) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        """Overwrite `needle` in the table's root page with bytes that are not UTF-8."""
        conn = sqlite3.connect(path)
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,))
        page = root.fetchone()[0]
        conn.close()
        data = bytearray(path.read_bytes())
        size = int.from_bytes(data[16:18], "big")
        start = (page - 1) * size
        where = data.index(needle, start, start + size)
        data[where : where + len(needle)] = b"\xff" * len(needle)
        path.write_bytes(bytes(data))

    return damage


DAMAGE = {
    "bogus_status": (_sql("UPDATE trials SET status = 'bogus' WHERE id = 1"), "trials"),
    "budget_lots": (_sql("UPDATE studies SET budget = 'lots' WHERE id = 1"), "studies"),
    "dropped_trials": (_sql("DROP TABLE trials"), "trials"),
    "bad_experiment_text": (_overwrite_text("experiments", b"Does it run?"), "experiments"),
    "bad_trial_text": (_overwrite_text("trials", b"learning_rate"), "trials"),
    "bad_study_text": (_overwrite_text("studies", b"learning_rate"), "studies"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_file_is_refused_in_one_sentence_and_never_written(
    kind: str, finished: Path, tmp_path: Path
) -> None:
    """status / export: exit 2, one line naming the file and the table; a run and adding an
    experiment refuse it the same way, with the file's bytes unchanged, nothing beside it."""
    path = tmp_path / "damaged.tunebook"
    shutil.copy(finished, path)
    damage, table = DAMAGE[kind]
    damage(path)
    before = sha256(path)
    commands = [("status", str(path)), ("export", "--format", "json", str(path))]
    for result in run_parallel(commands):
        where = result.args[1]
        assert result.returncode == 2, f"{where}: {result.stderr}"
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert f"'{path}' is damaged" in result.stderr and f"'{table}'" in result.stderr, where
    spec = {"name": "third", "goal": "", "max_train_steps": 6}
    writers = [
        lambda: Runner(path, executor="inline").run(),
        lambda: api.add_experiment(path, spec),
    ]
    for write in writers:
        with pytest.raises(SessionFileError, match=f"is damaged: table '{table}'") as caught:
            write()
        assert "\n" not in str(caught.value)
    assert sha256(path) == before, "a writer changed a damaged file"
    assert sidecars(path) == []


def test_damage_found_while_reading_names_the_table(finished: Path, tmp_path: Path) -> None:
    """Metrics are not scanned on open; undecodable text there is found on reading, and it
    is a SessionFileError naming the file and the `metrics` table, not a crash."""
    path = tmp_path / "damaged.tunebook"
    shutil.copy(finished, path)
    conn = sqlite3.connect(path)
    series = conn.execute("SELECT trial_id, series FROM metrics LIMIT 1").fetchone()
    conn.close()
    data = path.read_bytes()
    needle = series[1].encode()
    assert data.count(needle) >= 1
    path.write_bytes(data.replace(needle, b"\xff" * len(needle)))
    with pytest.raises(SessionFileError) as caught:
        api.curves(path, series[0])
    assert f"session file '{path}' is damaged: table 'metrics'" in str(caught.value)


def test_after_every_command_the_session_is_in_its_one_file(tmp_path: Path) -> None:
    """new, experiment add, run, status, export, trial rerun and the read API: after each,
    no -wal/-shm is left, and the file copied alone elsewhere holds every result."""
    work = tmp_path / "work"
    work.mkdir()
    path = work / "s.tunebook"
    spec = work / "spec.toml"
    spec.write_text(spec_text(steps=6, trials=2, eval_every=3))
    commands = [
        ("new", path, "--workload", TINY_REF),
        ("experiment", "add", path, spec),
        ("run", path, "-j", "2"),
        ("status", path),
        ("status", path, "--json"),
        *(("export", "--format", f, path) for f in ("json", "csv", "md")),
        ("trial", "rerun", path, "1"),
    ]
    for command in commands:
        result = cli(*command)
        assert result.returncode == 0, f"{command[:2]}: {result.stderr}"
        assert sidecars(path) == [], f"{' '.join(map(str, command[:2]))} left {sidecars(path)}"
    results = [(s.study.name, s.best_trial_id, s.best_value) for s in api.results(path)]
    trials = api.trials(path)
    curves = {t.id: api.curves(path, t.id) for t in trials}
    assert sidecars(path) == [] and len(trials) == 2 and all(curves.values())
    alone = tmp_path / "elsewhere" / "s.tunebook"
    alone.parent.mkdir()
    shutil.copy(path, alone)
    shutil.rmtree(work)
    assert [(s.study.name, s.best_trial_id, s.best_value) for s in api.results(alone)] == results
    assert api.trials(alone) == trials
    assert {t.id: api.curves(alone, t.id) for t in trials} == curves
