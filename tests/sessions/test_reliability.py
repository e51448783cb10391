"""The session file under abuse: SIGKILL, a concurrent reader, bad files, read-only files,
hostile payloads and schema migrations. Real files and real processes, no mocks."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from tests.sessions import writer_process
from tests.sessions.helpers import run_cli, run_parallel, sha256, sidecars
from tunebook.sessions import (
    DecisionKind,
    ReadOnlySession,
    Session,
    SessionFileError,
    TrialStatus,
)
from tunebook.sessions.connection import open_database
from tunebook.sessions.report import status_data
from tunebook.sessions.schema import v1_initial, v2_sampler_and_workload_facts

EXPORTS = (("export", "--format", "csv"), ("export", "--format", "json"), ("export", "-f", "md"))


def _running_trial(path: Path) -> int:
    """A new session at `path` with one running trial; returns the trial id."""
    with Session.create(path, "tabular") as session:
        experiment = session.add_experiment("kill", "survive SIGKILL", {}, 10**6)
        study = session.add_study(experiment.id, "s", {}, "random", 1, 0, "eval/error", "min")
        trial = session.add_trial(study.id, {"lr": 0.1}, 0, 0)
        session.start_trial(trial.id)
        return trial.id


def _kill_repeatedly(path: Path, trial_id: int, mode: str, kills: int) -> int:
    """Kill `kills` fresh writers on `path`, checking the file after each; returns flushes.

    About 3 kills in 4 land inside `flush()`; at least one of them must (else the test
    would not have tested a commit cut short)."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    flushes = in_flush = 0
    for kill in range(kills):
        report = writer_process.kill_once(path, trial_id, mode, rng)
        where = f"kill {kill} (seed {seed})"
        assert report.returncode == -signal.SIGKILL, f"{where}: child died early: {report.stderr}"
        flushes += len(report.flushes)
        in_flush += report.killed_in_flush
        with Session.open(path) as session:
            assert session.integrity_check() == "ok", where
            last_stored = writer_process.check_trial(session, trial_id)
            assert last_stored >= report.last_step, f"{where}: reported flushes are missing"
            reported = report.flushes[-1].split() if report.flushes else []
            if reported:
                assert session.metric_count(trial_id) >= int(reported[1]), where
            if report.last_resume_step >= 0:
                resume_step = session.trial(trial_id).resume_step
                assert resume_step is not None, f"{where}: committed resume state lost"
                assert resume_step >= report.last_resume_step, where
    assert in_flush >= 1, f"no kill landed inside flush() (seed {seed})"
    return flushes


def test_sigkill_never_loses_a_reported_flush_nor_tears_one(tmp_path: Path) -> None:
    """Writers killed at random: the file is sound and holds every flush they reported."""
    path = tmp_path / "killed.tunebook"
    trial_id = _running_trial(path)
    flushes = _kill_repeatedly(path, trial_id, "metrics", kills=10)
    assert flushes > 0, "no child lived long enough to commit anything"
    with Session.open(path) as session:
        assert session.metric_count(trial_id) >= flushes * writer_process.STEPS_PER_FLUSH * 4


def test_sigkill_during_resume_commits_keeps_state_and_metrics_in_step(tmp_path: Path) -> None:
    """Killed mid `flush(resume_state=...)`: checkpoint, resume_step and metrics agree."""
    path = tmp_path / "resumed.tunebook"
    trial_id = _running_trial(path)
    flushes = _kill_repeatedly(path, trial_id, "resume", kills=10)
    assert flushes > 0, "no child lived long enough to commit anything"
    with Session.open(path) as session:
        assert session.trial(trial_id).resume_step is not None


def test_status_runs_beside_a_writing_runner_without_lock_errors(tmp_path: Path) -> None:
    """`tunebook status --json` every 50 ms (and an in-process reader) while a runner writes."""
    path = tmp_path / "busy.tunebook"
    with Session.create(path, "tabular") as session:
        experiment = session.add_experiment("busy", "", {}, 200)
        study = session.add_study(experiment.id, "s", {}, "random", 10**6, 0, "loss", "min")
    writer = subprocess.Popen(
        # Long enough for three `status` processes even on a loaded machine (-n 2).
        [sys.executable, str(writer_process.SCRIPT), "busy", str(path), str(study.id), "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader_errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def read_in_process() -> None:
        """Open read-only, compute the status, read a curve; again until stopped."""
        nonlocal reads
        while not stop.is_set():
            try:
                with Session.open(path, read_only=True) as reader:
                    status_data(reader)
                    for trial in reader.trials()[-1:]:
                        reader.trial_series(trial.id)
                reads += 1
            except BaseException as exc:  # collected, asserted below
                reader_errors.append(exc)
            time.sleep(0.01)

    thread = threading.Thread(target=read_in_process)
    thread.start()
    totals: list[int] = []
    try:
        while writer.poll() is None:
            result = run_cli("status", str(path), "--json")
            assert result.returncode == 0, result.stderr
            assert result.stderr == ""
            totals.append(json.loads(result.stdout)["trials"]["total"])
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert "locked" not in err and err == ""
    assert reader_errors == []
    assert len(totals) >= 3 and reads >= 20, (len(totals), reads)
    assert totals == sorted(totals), "a reader saw the trial count go backwards"
    finished = int(out.split()[-1])
    with Session.open(path) as session:
        assert len(session.trials(status=TrialStatus.COMPLETED)) == finished
        assert session.metric_count() == finished * 200 * 4
        assert session.runner() is None


# -- bad files ---------------------------------------------------------------------------

BAD_KINDS = (
    "random",
    "empty",
    "directory",
    "missing",
    "newer",
    "not_session",
    "not_session_wal",
    "truncated",
)
NOT_SESSIONS = {"random", "empty", "not_session", "not_session_wal"}


def _make_bad(kind: str, folder: Path, session_path: Path) -> Path:
    """A file (or not) of the given kind of wrongness."""
    path = folder / f"{kind}.tunebook"
    if kind == "random":
        path.write_bytes(random.Random(7).randbytes(10_000))
    elif kind == "empty":
        path.touch()
    elif kind == "directory":
        path.mkdir()
    elif kind == "newer":
        shutil.copy(session_path, path)
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        conn.close()
    elif kind in ("not_session", "not_session_wal"):
        conn = sqlite3.connect(path)
        if kind == "not_session_wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("INSERT INTO photos (title) VALUES ('holiday')")
        conn.commit()
        conn.close()
    elif kind == "truncated":
        data = session_path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    assert sidecars(path) == []
    return path


def _bad_params() -> list[Any]:
    """One parameter per bad kind."""
    return [pytest.param(kind, id=kind) for kind in BAD_KINDS]


@pytest.mark.parametrize("kind", _bad_params())
def test_bad_file_is_refused_in_one_sentence_and_left_untouched(
    kind: str, tmp_path: Path, session_path: Path
) -> None:
    """status / export (3 formats) / Session.open: exit 2, one line naming the file, no change."""
    path = _make_bad(kind, tmp_path, session_path)
    before = sha256(path) if path.is_file() else None
    commands = [("status", str(path)), *((*e, str(path)) for e in EXPORTS)]
    results = run_parallel([*commands, ("--debug", "status", str(path))])
    for result in results[:-1]:
        where = " ".join(result.args[1:])
        assert result.returncode == 2, f"{where}: {result.stderr}"
        assert result.stdout == "", where
        assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
        assert str(path) in result.stderr and "Traceback" not in result.stderr, result.stderr
    debug = results[-1]
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr
    assert str(path) in debug.stderr.splitlines()[-1]
    for read_only in (False, True):
        with pytest.raises(SessionFileError) as caught:
            Session.open(path, read_only=read_only)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    if kind == "newer":
        assert "newer" in str(caught.value)
    if kind == "missing":
        assert not path.exists(), "opening a missing path created it"
    elif kind == "directory":
        assert path.is_dir() and list(path.iterdir()) == []
    else:
        assert sha256(path) == before, "the bad file was modified"
    if kind in NOT_SESSIONS:
        assert sidecars(path) == [], "SQLite files were left beside a file that is not ours"


# -- read-only ---------------------------------------------------------------------------


def _assert_writes_refused(session: Session) -> None:
    """Every kind of write raises ReadOnlySession with one sentence naming the file."""
    attempts = [
        lambda: session.add_experiment("new", "", {}, 10),
        lambda: session.add_note("session", "hello"),
        lambda: session.finish_trial(1, TrialStatus.FAILED),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlySession) as caught:
            attempt()
        message = str(caught.value)
        assert str(session.path) in message and "\n" not in message
    writer = session.metrics_writer(1)
    writer.add(1000, {"x": 1.0})
    with pytest.raises(ReadOnlySession):
        writer.flush()
    assert writer.pending == 1 and writer.committed == 0


def test_read_only_file_opens_read_only_with_no_wal_beside_it(session_path: Path) -> None:
    """A 0o444 file after a clean close: status and export work, writes are refused."""
    assert sidecars(session_path) == [], "the fixture should close cleanly"
    before = sha256(session_path)
    session_path.chmod(0o444)
    try:
        commands = [("status", str(session_path)), ("status", str(session_path), "--json")]
        commands += [(*e, str(session_path)) for e in EXPORTS]
        results = run_parallel(commands)
        for result in results:
            assert result.returncode == 0 and result.stderr == "", result.stderr
        status = json.loads(results[1].stdout)
        assert status["trials"]["total"] == 4  # 3 trials and 1 more planned (budget 4)
        assert status["read_only"] is True  # this user cannot write it
        assert json.loads(results[3].stdout)["decisions"][0]["value"] == "adam"
        with Session.open(session_path) as session:
            assert session.read_only and session.info().read_only
            assert len(session.trials()) == 3
            _assert_writes_refused(session)
        assert sha256(session_path) == before
    finally:
        session_path.chmod(0o644)


def test_read_only_on_request_leaves_a_writable_file_unchanged(session_path: Path) -> None:
    """`read_only=True` on a writable file reads everything and writes nothing."""
    before = sha256(session_path)
    with Session.open(session_path, read_only=True) as session:
        assert session.read_only
        assert [e.name for e in session.experiments()] == ["depth"]
        _assert_writes_refused(session)
    assert sha256(session_path) == before
    with Session.open(session_path) as session:
        assert not session.read_only
        session.add_note("session", "still writable")


def test_read_only_file_sees_data_left_in_the_wal_by_a_crash(tmp_path: Path) -> None:
    """A 0o444 copy of a session taken mid-run (data only in the -wal) reads in full."""
    live = tmp_path / "live.tunebook"
    with Session.create(live, "tabular") as session:
        session.db.conn.execute("PRAGMA wal_autocheckpoint = 0")
        session.add_experiment("only-in-wal", "", {}, 10)
        copy = tmp_path / "copy.tunebook"
        shutil.copy(live, copy)
        shutil.copy(f"{live}-wal", f"{copy}-wal")
    assert Path(f"{copy}-wal").stat().st_size > 0
    copy.chmod(0o444)
    try:
        result = run_cli("status", str(copy), "--json")
        assert result.returncode == 0, result.stderr
        assert [e["name"] for e in json.loads(result.stdout)["experiments"]] == ["only-in-wal"]
        with Session.open(copy) as session:
            assert session.read_only and session.experiment("only-in-wal").max_train_steps == 10
    finally:
        copy.chmod(0o644)


# -- hostile payloads --------------------------------------------------------------------


class _Exploit:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path) -> None:
        """Remember where the exploit would leave its mark."""
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """What pickle calls on load: os.system(touch marker)."""
        return (os.system, (f"touch '{self.marker}'",))


WEIRD_STRINGS = [
    "__import__('os').system('touch /tmp/tunebook-pwned')",
    "!!python/object/apply:os.system ['touch /tmp/tunebook-pwned']",
    "{{7*7}} ${7*7} `id` $(id) \x00 \u2028 \ud7ff | # <script>",
    "cos\nsystem\n(S'touch /tmp/tunebook-pwned'\ntR.",
]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_pickle_payloads_are_never_unpickled(tmp_path: Path, session_path: Path) -> None:
    """Blobs and JSON holding exploits: nothing that reads a session ever executes them."""
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    weird = {"strings": WEIRD_STRINGS, "pickle": payload.decode("latin-1")}
    with Session.open(session_path) as session:
        session.save_best_checkpoint(1, 100, 0.01, payload, keep=5, mode="min")
        writer = session.metrics_writer(2)
        writer.add(500, {"train/loss": 0.1})
        writer.flush(resume_state=(500, payload))
        session.add_experiment("weird", WEIRD_STRINGS[0], weird, 10)
        session.add_launch(weird, weird, WEIRD_STRINGS[2])
        session.add_note("trial:1", WEIRD_STRINGS[3])
        session.log_event("user", "weird", WEIRD_STRINGS[1], weird)
    results = run_parallel(
        [("status", str(session_path)), ("status", str(session_path), "--json")]
        + [(*e, str(session_path)) for e in EXPORTS]
    )
    for result in results:
        assert result.returncode == 0, result.stderr
    exported = json.loads(results[3].stdout)
    assert exported["experiments"][1]["design"] == weird
    assert exported["launches"][1]["config"] == weird
    with Session.open(session_path, read_only=True) as session:
        stored = [session.checkpoint_data(c.id) for c in session.checkpoints(1)]
        assert payload in stored
        assert session.resume_state(2) == (500, payload)
        assert session.experiment("weird").design == weird
        assert session.events()[-1].data == weird
        assert session.notes("trial:1")[0].text == WEIRD_STRINGS[3]
    assert not marker.exists(), "reading the session executed a pickle"

    import torch

    for blob in (payload, _torch_saved(_Exploit(marker))):
        with pytest.raises(pickle.UnpicklingError):
            torch.load(io.BytesIO(blob), weights_only=True)
    assert not marker.exists(), "torch.load(weights_only=True) executed a pickle"
    benign = _torch_saved({"w": torch.ones(2)})
    assert torch.load(io.BytesIO(benign), weights_only=True)["w"].tolist() == [1.0, 1.0]
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Exploit(control)))  # the payload is live: plain pickle runs it
    assert control.exists()


def _torch_saved(obj: object) -> bytes:
    """`obj` as `torch.save` writes it (a zip archive around a pickle)."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# -- schema migrations -------------------------------------------------------------------


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, read with plain sqlite3."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        conn.close()


def _migrations_v3() -> Migrations:
    """The real v1 and v2 plus a test-only v3 (a column and a table)."""
    migrations = Migrations("tunebook")
    migrations(name="v1_initial")(v1_initial)
    migrations(name="v2_sampler_and_workload_facts")(v2_sampler_and_workload_facts)

    @migrations(name="v3_tags")
    def v3_tags(db: Database) -> None:
        """A new column with a default, and a new table."""
        db.execute("ALTER TABLE trials ADD COLUMN tag TEXT NOT NULL DEFAULT 'untagged'")
        db.execute("CREATE TABLE tags (name TEXT PRIMARY KEY)")

    return migrations


def test_migration_backs_up_then_upgrades_and_newer_is_refused(session_path: Path) -> None:
    """v2 → v3: a `.v2.bak` equal to the old file, then v3 applied; v2 code refuses v3."""
    before = _tables(session_path)
    db, read_only = open_database(
        session_path, read_only=False, migrations=_migrations_v3(), schema_version=3
    )
    try:
        assert not read_only
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version == ("3",)
        tags = [r[0] for r in db.execute("SELECT tag FROM trials")]
        assert tags == ["untagged"] * 3
    finally:
        db.close()
    backup = session_path.with_name(f"{session_path.name}.v2.bak")
    assert backup.exists()
    assert _tables(backup) == before
    after = _tables(session_path)
    assert after["metrics"] == before["metrics"] and after["tags"] == []

    db, _ = open_database(
        session_path, read_only=False, migrations=_migrations_v3(), schema_version=3
    )
    db.close()
    assert sorted(p.name for p in session_path.parent.glob("*.bak")) == [backup.name]

    with pytest.raises(SessionFileError, match="newer") as caught:
        Session.open(session_path)
    assert str(session_path) in str(caught.value)
    result = run_cli("status", str(session_path))
    assert result.returncode == 2 and "newer" in result.stderr


def test_old_read_only_file_is_refused_not_migrated(session_path: Path) -> None:
    """An older file that cannot be written is not migrated (and not backed up)."""
    before = sha256(session_path)
    session_path.chmod(0o444)
    try:
        with pytest.raises(SessionFileError, match="old schema"):
            open_database(
                session_path, read_only=False, migrations=_migrations_v3(), schema_version=3
            )
    finally:
        session_path.chmod(0o644)
    assert sha256(session_path) == before
    assert list(session_path.parent.glob("*.bak")) == []


def _strict_json(text: str) -> Any:
    """Parse as standard JSON: NaN / Infinity tokens are an error, as they are for jq or JS."""

    def refuse(token: str) -> Any:
        """Reject NaN / Infinity / -Infinity."""
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_standard_json_even_with_non_finite_values(tmp_path: Path) -> None:
    """`status --json` and `export --format json` stay parseable by strict JSON readers."""
    path = tmp_path / "inf.tunebook"
    with Session.create(path, "tabular") as session:
        session.record_decision(DecisionKind.MAX_TRAIN_STEPS, math.inf)
        experiment = session.add_experiment("x", "", {"lr": [math.nan, 1.0]}, 10)
        study = session.add_study(experiment.id, "s", {}, "random", 1, 0, "loss", "min")
        session.add_trial(study.id, {"lr": -math.inf}, 0, 0)
    results = run_parallel([("status", str(path), "--json"), ("export", "-f", "json", str(path))])
    for result in results:
        assert result.returncode == 0, result.stderr
        _strict_json(result.stdout)


# -- query plans -------------------------------------------------------------------------


def _plans_of(session: Session, call: Callable[[], object]) -> list[str]:
    """EXPLAIN QUERY PLAN of every SELECT on the metrics table that `call` runs."""
    statements: list[str] = []
    session.db.conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        session.db.conn.set_trace_callback(None)
    plans = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT") and "metrics" in sql:
            rows = session.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            plans.append(" | ".join(row[3] for row in rows))
    assert plans, "the call ran no query on metrics"
    return plans


def test_metric_reads_search_the_primary_key_and_never_scan_metrics(session_path: Path) -> None:
    """Curves of a trial and a metric at every trial's best step cost O(rows read), not O(file)."""
    with Session.open(session_path, read_only=True) as session:
        for call in (
            lambda: session.trial_series(1),
            lambda: session.values_at_best_step("eval/error"),
            lambda: session.values_at_best_step("eval/error", study_id=1),
            lambda: session.study_series(1, "eval/error"),
        ):
            for plan in _plans_of(session, call):
                assert "SCAN m" not in plan and "SCAN metrics" not in plan, plan
                assert "PRIMARY KEY" in plan, plan
