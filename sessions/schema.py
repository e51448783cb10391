"""The session file's schema, as registered sqlite-utils migrations.

Each migration moves the file one schema version forward and records that version in
`meta`. v2 adds `trials.sampler` (the algorithm that chose the trial's point) and
`session.workload_facts` (the split sizes measured at `new`, JSON; NULL = unknown).
A file whose `meta.schema_version` is above `SCHEMA_VERSION` was written by a newer
tunebook and is refused; one below it is backed up, then migrated (see `connection.py`).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

SCHEMA_VERSION = 2

MIGRATIONS = Migrations("tunebook")

_V1 = [
    """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE session (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        workload TEXT NOT NULL,
        workload_config TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        rationale TEXT NOT NULL DEFAULT '',
        evidence TEXT NOT NULL DEFAULT '{}',
        stale INTEGER NOT NULL DEFAULT 0,
        stale_reason TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE probes (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        config TEXT NOT NULL DEFAULT '{}',
        results TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE experiments (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        goal TEXT NOT NULL DEFAULT '',
        design TEXT NOT NULL DEFAULT '{}',
        max_train_steps INTEGER NOT NULL,
        status TEXT NOT NULL,
        conclusion TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE studies (
        id INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        search_space TEXT NOT NULL DEFAULT '{}',
        algorithm TEXT NOT NULL,
        budget INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        next_index INTEGER NOT NULL DEFAULT 0,
        objective_metric TEXT NOT NULL,
        objective_mode TEXT NOT NULL CHECK (objective_mode IN ('min', 'max')),
        fixed TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        UNIQUE (experiment_id, name)
    )""",
    """CREATE TABLE trials (
        id INTEGER PRIMARY KEY,
        study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        sequence_index INTEGER NOT NULL DEFAULT 0,
        params TEXT NOT NULL DEFAULT '{}',
        init_seed INTEGER NOT NULL,
        data_seed INTEGER NOT NULL,
        status TEXT NOT NULL,
        best_step INTEGER,
        best_value REAL,
        final_value REAL,
        error TEXT NOT NULL DEFAULT '',
        reproduce TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        resume_step INTEGER,
        compute_seconds REAL NOT NULL DEFAULT 0,
        data_seconds REAL NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        UNIQUE (study_id, number)
    )""",
    "CREATE INDEX trials_by_status ON trials (status, study_id)",
    # The hot path: one row per (trial, series, step). The primary key is the index that
    # makes "all series of trial T" and "series M of these trials" range scans.
    """CREATE TABLE metrics (
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        series TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (trial_id, series, step)
    ) WITHOUT ROWID""",
    """CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY,
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL,
        data BLOB NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX checkpoints_by_trial ON checkpoints (trial_id, kind)",
    """CREATE TABLE launches (
        id INTEGER PRIMARY KEY,
        trial_id INTEGER REFERENCES trials(id) ON DELETE SET NULL,
        experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
        config TEXT NOT NULL DEFAULT '{}',
        evidence TEXT NOT NULL DEFAULT '{}',
        note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE runner (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at REAL NOT NULL,
        heartbeat REAL NOT NULL,
        detached INTEGER NOT NULL DEFAULT 0,
        command TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        handled_at REAL
    )""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        target TEXT NOT NULL,
        text TEXT NOT NULL
    )""",
]


@MIGRATIONS(name="v1_initial")
def v1_initial(db: Database) -> None:
    """Every concept of DESIGN.md: session, decisions, probes, experiments … notes."""
    for statement in _V1:
        db.execute(statement)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")


#: Bayesian studies of v1 drew this many quasi-random start-up trials (it was not settable).
V1_STARTUP_TRIALS = 10


@MIGRATIONS(name="v2_sampler_and_workload_facts")
def v2_sampler_and_workload_facts(db: Database) -> None:
    """Which algorithm chose each trial's point, and the workload's split sizes.

    Existing trials get the sampler derived from their study's algorithm and their sequence
    index: a bayesian study's first `V1_STARTUP_TRIALS` points were quasi-random, the later
    ones the model's. Existing sessions' workload facts stay NULL (unknown).
    """
    db.execute("ALTER TABLE trials ADD COLUMN sampler TEXT")
    db.execute("ALTER TABLE session ADD COLUMN workload_facts TEXT")
    db.execute(
        "UPDATE trials SET sampler = (SELECT CASE WHEN s.algorithm = 'bayesian' "
        "AND trials.sequence_index < ? THEN 'quasi-random' ELSE s.algorithm END "
        "FROM studies s WHERE s.id = trials.study_id)",
        [V1_STARTUP_TRIALS],
    )
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
