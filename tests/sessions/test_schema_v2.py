"""Schema v2: a real v1 file migrates with a backup and keeps its data; trials record the
algorithm that chose their point; sessions record their split sizes (issue #8 items 5, 6)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.sessions.helpers import run_cli
from tunebook.sessions import (
    SCHEMA_VERSION,
    Session,
    SessionFileError,
    TrialStatus,
    WorkloadFacts,
    below_one_example,
    describe_facts,
    one_example,
)

V1_FILE = Path(__file__).with_name("data") / "v1_bayesian.tunebook"


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "old.tunebook"
    shutil.copyfile(V1_FILE, path)
    return path


def test_the_fixture_is_a_v1_file(v1_copy: Path) -> None:
    # read through a copy: even a read-only connection leaves a -shm beside the file it reads
    assert _rows(v1_copy, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    columns = {row[1] for row in _rows(v1_copy, "PRAGMA table_info(trials)")}
    assert "sampler" not in columns


def test_a_v1_file_migrates_with_a_backup_and_keeps_its_data(v1_copy: Path) -> None:
    trials_before = _rows(v1_copy, "SELECT id, params, best_value, status FROM trials ORDER BY id")
    metrics_before = _rows(v1_copy, "SELECT COUNT(*), SUM(value) FROM metrics")
    assert len(trials_before) == 12

    with Session.open(v1_copy) as session:
        info = session.info()
        trials = session.trials()
        algorithm = session.studies()[0].algorithm

    assert SCHEMA_VERSION == 2 and info.schema_version == 2
    backup = v1_copy.with_name("old.tunebook.v1.bak")
    assert _rows(backup, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]
    assert _rows(backup, "SELECT id, params, best_value, status FROM trials ORDER BY id") == (
        trials_before
    )
    after = _rows(v1_copy, "SELECT id, params, best_value, status FROM trials ORDER BY id")
    assert after == trials_before
    assert _rows(v1_copy, "SELECT COUNT(*), SUM(value) FROM metrics") == metrics_before
    # Derived from the study's algorithm and the sequence index: v1's bayesian start-up was
    # 10 quasi-random points, then the model's.
    assert algorithm == "bayesian"
    assert [t.sampler for t in sorted(trials, key=lambda t: t.sequence_index)] == (
        ["quasi-random"] * 10 + ["bayesian"] * 2
    )
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    # The split sizes were never measured: unknown, and said so.
    assert info.workload_facts is None
    assert "unknown" in describe_facts(info.workload_facts)


def test_status_upgrades_a_writable_v1_file_and_leaves_it_one_file(v1_copy: Path) -> None:
    """`status` reads only the current schema, so on a file this user can write it upgrades
    it first (with the backup); a reader never fails on an old file it could upgrade."""
    result = run_cli("status", str(v1_copy), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema_version"] == SCHEMA_VERSION
    backup = v1_copy.with_name("old.tunebook.v1.bak")
    assert sorted(p.name for p in v1_copy.parent.iterdir()) == [v1_copy.name, backup.name]
    assert _rows(v1_copy, "SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert _rows(backup, "SELECT value FROM meta WHERE key = 'schema_version'") == [("1",)]


def test_a_new_file_stores_the_sampler_and_the_facts(tmp_path: Path) -> None:
    facts = WorkloadFacts("classification", 700, 150, 150, classes=3, notes=("a note",))
    with Session.create(tmp_path / "s.tunebook", "tabular") as session:
        assert session.info().workload_facts is None
        session.record_workload_facts(facts)
        experiment = session.add_experiment("e", "g", {}, 10)
        study = session.add_study(experiment.id, "s", {}, "bayesian", 3, 0, "error", "min")
        trial = session.add_trial(study.id, {"lr": 0.1}, 1, 2, sampler="quasi-random")
    with Session.open(tmp_path / "s.tunebook", read_only=True) as session:
        assert session.info().workload_facts == facts
        assert session.trial(trial.id).sampler == "quasi-random"
    assert describe_facts(facts) == "split sizes: 700 training, 150 validation, 150 test examples"


def test_damaged_facts_are_a_session_file_error(tmp_path: Path) -> None:
    path = tmp_path / "s.tunebook"
    with Session.create(path, "tabular") as session:
        with session.transaction() as conn:
            conn.execute("UPDATE session SET workload_facts = '{\"task\": 1}'")
        with pytest.raises(SessionFileError, match="workload facts are malformed"):
            session.info()


@pytest.mark.parametrize(
    ("a", "b", "metric", "n", "expected"),
    [
        (0.20, 0.205, "error", 100, True),  # half an example apart
        (0.20, 0.21, "error", 100, False),  # exactly one example apart
        (0.20, 0.21, "validation/error", 100, False),
        (0.30, 0.3 + 1 / 150 - 1e-12, "accuracy", 150, False),  # one example, float-rounded
        (0.20, 0.203, "error", 1000, False),  # three examples
        (41.0, 41.5, "correct", 100, True),
        (0.20, 0.201, "loss", 100, None),  # a loss has no per-example step
        (0.20, float("nan"), "error", 100, None),
        (0.20, 0.2, "error", 0, None),
    ],
)
def test_below_one_example(a: float, b: float, metric: str, n: int, expected: bool | None) -> None:
    assert below_one_example(a, b, metric, n) is expected


def test_one_example_is_one_over_the_validation_size() -> None:
    assert one_example("error", 150) == pytest.approx(1 / 150)
    assert one_example("mse", 150) is None
