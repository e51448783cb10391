"""Opening a session file safely: validate before touching, migrate after backing up.

A path is checked byte-for-byte before SQLite opens it for writing, so a wrong file
(a directory, an empty file, random bytes, a database from a newer tunebook) is reported in
one sentence and left exactly as it was. Every connection gets WAL, `synchronous=NORMAL`,
`foreign_keys=ON` and a busy timeout.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from tunebook.sessions.errors import SessionFileError
from tunebook.sessions.schema import MIGRATIONS, SCHEMA_VERSION

SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 30_000


def is_read_only_file(path: Path) -> bool:
    """True when the user cannot (or has marked that nobody should) write the file."""
    mode = path.stat().st_mode
    no_write_bits = not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    return no_write_bits or not os.access(path, os.W_OK)


def check_session_path(path: Path) -> None:
    """Raise `SessionFileError` unless `path` is an existing SQLite file; reads 16 bytes."""
    if not path.exists():
        raise SessionFileError(f"session file '{path}' does not exist")
    if path.is_dir():
        raise SessionFileError(f"'{path}' is a directory, not a session file")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise SessionFileError(f"session file '{path}' cannot be read: {exc.strerror}") from exc
    if not header:
        raise SessionFileError(f"'{path}' is empty, not a tunebook session file")
    if header != SQLITE_HEADER:
        raise SessionFileError(f"'{path}' is not a tunebook session file (not an SQLite database)")


def configure(conn: sqlite3.Connection, *, read_only: bool) -> None:
    """Per-connection settings; WAL is switched on only by a writer and only once."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not read_only:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")


def connect(path: Path, *, read_only: bool) -> Database:
    """A configured sqlite-utils `Database` on `path` (no validation; see `open_database`)."""
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    configure(conn, read_only=read_only)
    return Database(conn, execute_plugins=False)


def stored_schema_version(db: Database, path: Path) -> int:
    """The file's schema version; a clear error if it is SQLite but not a tunebook session."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            raise SessionFileError(
                f"'{path}' is an SQLite database but not a tunebook session file"
            ) from exc
        raise SessionFileError(f"session file '{path}' is damaged: {exc}") from exc
    if row is None:
        raise SessionFileError(f"session file '{path}' has no schema version in its meta table")
    try:
        return int(row[0])
    except ValueError as exc:
        raise SessionFileError(
            f"session file '{path}' has an unreadable schema version {row[0]!r}"
        ) from exc


def _probe_schema_version(path: Path, schema_version: int) -> int:
    """Read the schema version read-only and refuse a newer one; if the file turns out not
    to be usable, remove the -wal/-shm files SQLite created beside it (left as found)."""
    sidecars = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    existed = {p for p in sidecars if p.exists()}
    probe = connect(path, read_only=True)
    try:
        try:
            version = stored_schema_version(probe, path)
        except sqlite3.DatabaseError as exc:
            raise SessionFileError(f"session file '{path}' is damaged: {exc}") from exc
        if version > schema_version:
            raise SessionFileError(
                f"session file '{path}' has schema version {version}, newer than this "
                f"tunebook reads ({schema_version}); upgrade tunebook to open it"
            )
        return version
    except SessionFileError:
        probe.close()
        for sidecar in sidecars:
            if sidecar not in existed:
                sidecar.unlink(missing_ok=True)
        raise
    finally:
        probe.close()


def backup_path(path: Path, version: int) -> Path:
    """Where the pre-migration copy of a schema-`version` file goes (never overwritten)."""
    candidate = path.with_name(f"{path.name}.v{version}.bak")
    counter = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.v{version}.{counter}.bak")
        counter += 1
    return candidate


def open_database(
    path: Path,
    *,
    read_only: bool,
    migrations: Migrations = MIGRATIONS,
    schema_version: int = SCHEMA_VERSION,
) -> tuple[Database, bool]:
    """Validate, then open `path`; returns the database and whether it is read-only.

    Files the user cannot write open read-only automatically. An older schema is copied
    aside (SQLite's backup API) before its migrations run; a newer one is refused.
    """
    check_session_path(path)
    read_only = read_only or is_read_only_file(path)
    version = _probe_schema_version(path, schema_version)
    if version < schema_version:
        if read_only:
            raise SessionFileError(
                f"session file '{path}' has the old schema version {version} and is read-only; "
                "copy it somewhere writable so it can be upgraded"
            )
        backup = backup_path(path, version)
        source = connect(path, read_only=True)
        target = sqlite3.connect(str(backup))
        try:
            source.conn.backup(target)
        finally:
            target.close()
            source.close()
    db = connect(path, read_only=read_only)
    if version < schema_version:
        migrations.apply(db)
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(schema_version)])
        db.conn.commit()
    return db, read_only


def create_database(path: Path, migrations: Migrations = MIGRATIONS) -> Database:
    """A new file at `path` with every migration applied; `path` must not exist yet."""
    db = connect(path, read_only=False)
    migrations.apply(db)
    return db
