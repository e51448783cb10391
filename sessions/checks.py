"""Cheap checks that a session file holds what tunebook will read, run on every open.

A full `PRAGMA integrity_check` reads every page (seconds on a big session), so opening
checks instead what the code relies on, with small or indexed queries: every table and column
of the schema exists, every enum column holds one of its values, every typed column of the
small tables holds its type, and the text of the small tables decodes. The metrics and the
checkpoint blobs are not read here; damage there surfaces when they are read, as a
`SessionFileError` naming the file and the table (`damage`).
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from tunebook.sessions.errors import SessionFileError
from tunebook.sessions.records import (
    CheckpointKind,
    DecisionKind,
    ExperimentStatus,
    ProbeKind,
    TrialStatus,
)

#: The allowed values of the columns the code turns into enums or branches on.
ENUM_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("trials", "status"): tuple(s.value for s in TrialStatus),
    ("experiments", "status"): tuple(s.value for s in ExperimentStatus),
    ("decisions", "kind"): tuple(k.value for k in DecisionKind),
    ("probes", "kind"): tuple(k.value for k in ProbeKind),
    ("checkpoints", "kind"): tuple(k.value for k in CheckpointKind),
    ("studies", "objective_mode"): ("min", "max"),
}
#: Tables too big to scan on every open: only their enum columns are checked (by index).
LARGE_TABLES = frozenset({"metrics", "checkpoints", "events"})
#: The storage classes SQLite's `typeof()` may report for a column of each declared type.
ALLOWED_TYPES = {
    "INTEGER": ("integer",),
    "REAL": ("real", "integer"),
    "TEXT": ("text",),
    "BLOB": ("blob",),
}
TYPE_NAMES = {"INTEGER": "an integer", "REAL": "a number", "TEXT": "text", "BLOB": "bytes"}


def damage(path: Path, table: str, exc: sqlite3.Error) -> SessionFileError | None:
    """The one sentence for an SQLite error that means the file is damaged, else None.

    Corruption, undecodable text and missing tables or columns are damage; a busy file, a
    full disk or an I/O error are not (the caller lets those through as failures).
    """
    message = str(exc)
    if message.startswith("Could not decode to UTF-8"):
        reason = "a text value is not valid UTF-8"  # the message quotes the raw bytes
    elif getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or (
        message.startswith(("no such table", "no such column"))
    ):
        reason = message
    else:
        return None
    return SessionFileError(f"session file '{path}' is damaged: table '{table}': {reason}")


@functools.cache
def expected_columns(migrations: Migrations) -> dict[str, dict[str, tuple[str, bool, bool]]]:
    """Per table of a new file, each column's (declared type, NOT NULL, primary key)."""
    db = Database(memory=True)
    migrations.apply(db)
    return _columns(db.conn)


def _columns(conn: sqlite3.Connection) -> dict[str, dict[str, tuple[str, bool, bool]]]:
    rows = conn.execute(
        'SELECT m.name, p.name, upper(p.type), p."notnull", p.pk FROM sqlite_master AS m '
        "JOIN pragma_table_info(m.name) AS p WHERE m.type = 'table'"
    )
    tables: dict[str, dict[str, tuple[str, bool, bool]]] = {}
    for table, column, declared, not_null, primary_key in rows:
        tables.setdefault(table, {})[column] = (declared, bool(not_null), bool(primary_key))
    return tables


def check_session_contents(conn: sqlite3.Connection, path: Path, migrations: Migrations) -> None:
    """Raise `SessionFileError` (one sentence: the file, table, row, column) on damage."""
    expected = expected_columns(migrations)
    try:
        found = _columns(conn)
    except sqlite3.DatabaseError as exc:
        raise damage(path, "sqlite_master", exc) or exc from exc
    for table, columns in expected.items():
        if table not in found:
            raise SessionFileError(f"session file '{path}' is damaged: table '{table}' is missing")
        missing = [c for c in columns if c not in found[table]]
        if missing:
            raise SessionFileError(
                f"session file '{path}' is damaged: table '{table}' has no column '{missing[0]}'"
            )
    for table, columns in expected.items():
        try:
            _check_values(conn, path, table, columns)
        except sqlite3.DatabaseError as exc:
            raise damage(path, table, exc) or exc from exc


def _check_values(
    conn: sqlite3.Connection, path: Path, table: str, columns: dict[str, tuple[str, bool, bool]]
) -> None:
    """One query per table finds the first row whose value breaks its column's rule."""
    rules = {
        column: _rule(table, column, declared, not_null)
        for column, (declared, not_null, primary_key) in columns.items()
        if not (declared == "INTEGER" and primary_key)
        and (table not in LARGE_TABLES or (table, column) in ENUM_COLUMNS)
    }
    rules = {column: rule for column, rule in rules.items() if rule}
    if not rules:
        return
    row = conn.execute(
        f"SELECT rowid FROM {table} WHERE {' OR '.join(rules.values())} LIMIT 1"
    ).fetchone()
    if row is None:
        text = [c for c in rules if columns[c][0] == "TEXT"]
        if text and table not in LARGE_TABLES:
            conn.execute(f"SELECT {', '.join(text)} FROM {table}").fetchall()  # decodes
        return
    cases = " ".join(f"WHEN {rule} THEN '{column}'" for column, rule in rules.items())
    bad = conn.execute(
        f"SELECT rowid, CASE {cases} END FROM {table} WHERE rowid = ?", (row[0],)
    ).fetchone()
    row_id, column = bad
    value = conn.execute(f"SELECT {column} FROM {table} WHERE rowid = ?", (row_id,)).fetchone()[0]
    declared = columns[column][0]
    allowed = ENUM_COLUMNS.get((table, column))
    wanted = f"one of {', '.join(allowed)}" if allowed else TYPE_NAMES.get(declared, declared)
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise SessionFileError(
        f"session file '{path}' is damaged: table '{table}' row {row_id} has {column} = "
        f"{shown} (expected {wanted})"
    )


def _rule(table: str, column: str, declared: str, not_null: bool) -> str:
    """An SQL condition true when the column's value is wrong (empty: no rule)."""
    allowed_types = ALLOWED_TYPES.get(declared)
    if allowed_types is None:
        return ""
    types = [*allowed_types, *(() if not_null else ("null",))]
    quoted = ", ".join(f"'{t}'" for t in types)
    rule = f"typeof({column}) NOT IN ({quoted})"
    values = ENUM_COLUMNS.get((table, column))
    if values:
        rule += f" OR {column} NOT IN ({', '.join(repr(v) for v in values)})"
    return rule
