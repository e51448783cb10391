"""Opening a session file safely: validate through SQLite, migrate after backing up.

Only SQLite ever opens the session file. A plain `open()`/`close()` of a database that the
process already holds would silently drop every POSIX lock SQLite holds on it (SQLite's
"How To Corrupt An SQLite Database File", § 2.2), after which another process may
checkpoint and delete the live write-ahead log. So a path is first checked with `stat()`
alone (missing, a directory, a FIFO or device, empty), then SQLite reads it; a wrong file is
reported in one sentence and left exactly as it was, and nothing here ever deletes a `-wal`
or `-shm` file: SQLite removes them itself when the last connection closes.

Every connection that can write gets WAL, `synchronous=NORMAL`, `foreign_keys=ON` and a busy
timeout. A reader of a writable file opens it read-write with `query_only`, so that when it
is the last to close, SQLite checkpoints the log and the session is in the one file again.
Where nobody can write (a read-only folder or file system, a file without write bits) and no
log exists, the file is opened `immutable`: SQLite then needs no `-shm` beside it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from tunebook.sessions.checks import check_session_contents
from tunebook.sessions.errors import SessionFileError
from tunebook.sessions.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 30_000


def _marked_read_only(path: Path) -> bool:
    """True when the file has no write permission bits: nobody should write it."""
    return not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def is_read_only_file(path: Path) -> bool:
    """True when the user cannot (or has marked that nobody should) write the file."""
    return _marked_read_only(path) or not os.access(path, os.W_OK)


def read_only_reason(path: Path) -> str:
    """Why this user cannot write the session at `path` (empty when they can); a file
    deleted since its path was checked is the session-file error, not an OSError."""
    try:
        on_read_only_file_system = os.statvfs(path).f_flag & os.ST_RDONLY
    except FileNotFoundError as exc:
        raise SessionFileError(f"session file '{path}' does not exist") from exc
    if on_read_only_file_system:
        return f"'{path}' is on a read-only file system"
    if is_read_only_file(path):
        return f"'{path}' is not writable"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"its folder '{path.parent}' is not writable, and SQLite keeps its log beside it"
    return ""


def check_session_path(path: Path) -> None:
    """Raise `SessionFileError` unless `path` is a non-empty regular file; `stat()` only."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise SessionFileError(f"session file '{path}' does not exist") from exc
    except OSError as exc:
        raise SessionFileError(f"session file '{path}' cannot be read: {exc.strerror}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise SessionFileError(f"'{path}' is a directory, not a session file")
    if not stat.S_ISREG(info.st_mode):
        raise SessionFileError(
            f"'{path}' is not a regular file (a FIFO, socket or device), not a session file"
        )
    if info.st_size == 0:
        raise SessionFileError(f"'{path}' is empty, not a tunebook session file")


def configure(conn: sqlite3.Connection) -> None:
    """Settings of every connection: a busy timeout and enforced foreign keys."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")


def enable_wal(conn: sqlite3.Connection) -> None:
    """Writer settings; WAL is switched on only once, the first time a writer opens it."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(path: Path, writable: bool) -> Database:
    """A configured connection on `path` that cannot write yet (see `open_database`).

    On a file this user can write (`writable`, from `read_only_reason`) it is read-write
    with `query_only`, so that closing the last connection checkpoints the log; where
    nobody can write, `immutable` or `mode=ro`. Never creates the file (`mode=rw`): one
    deleted after its checks raises, where a plain connect would put an empty file in its
    place.
    """
    if writable:
        uri = f"{path.resolve().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        configure(conn)
        conn.execute("PRAGMA query_only = ON")
    else:
        conn = sqlite3.connect(_read_only_uri(path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        configure(conn)
    return Database(conn, execute_plugins=False)


def _read_only_uri(path: Path) -> str:
    """`immutable=1` when no process can be writing (no log, nobody may write), else `mode=ro`."""
    nobody_writes = not os.access(path.parent, os.W_OK | os.X_OK) or _marked_read_only(path)
    log_exists = Path(f"{path}-wal").exists()
    query = "immutable=1" if nobody_writes and not log_exists else "mode=ro"
    return f"{path.resolve().as_uri()}?{query}"


def stored_schema_version(db: Database, path: Path) -> int:
    """The file's schema version; a clear error if it is SQLite but not a tunebook session."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from exc
    if row is None:
        raise SessionFileError(f"session file '{path}' has no schema version in its meta table")
    try:
        return int(row[0])
    except ValueError as exc:
        raise SessionFileError(
            f"session file '{path}' has an unreadable schema version {row[0]!r}"
        ) from exc


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> SessionFileError:
    """The one sentence for a file whose first read through SQLite failed."""
    message = str(exc)
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
        return SessionFileError(f"'{path}' is not a tunebook session file (not an SQLite database)")
    if message.startswith("no such table"):
        return SessionFileError(f"'{path}' is an SQLite database but not a tunebook session file")
    log, shared_memory = Path(f"{path}-wal"), Path(f"{path}-shm")
    if message == "unable to open database file" and log.exists() and not shared_memory.exists():
        return SessionFileError(
            f"session file '{path}' has changes in its write-ahead log '{log}' that SQLite "
            f"cannot read here: {read_only_reason(path)} and '{shared_memory}' is missing; "
            "copy the file together with its -wal to a writable folder and open it there"
        )
    return SessionFileError(f"session file '{path}' is damaged: {message}")


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

    Files the user cannot write open read-only automatically. Nothing is written before
    the file proves to be a sound tunebook session: a newer schema is refused, an older one
    is copied aside (SQLite's backup API) before its migrations run, and the tables, columns
    and stored values are checked (`checks.check_session_contents`) before WAL is enabled.
    An older file is upgraded even by a reader (`status`) when this user can write it: the
    code reads only the current schema.
    """
    check_session_path(path)
    writable = not read_only_reason(path)
    read_only = read_only or not writable
    try:
        db = connect(path, writable)
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from exc
    try:
        version = stored_schema_version(db, path)
        if version > schema_version:
            raise SessionFileError(
                f"session file '{path}' has schema version {version}, newer than this "
                f"tunebook reads ({schema_version}); upgrade tunebook to open it"
            )
        if version < schema_version:
            if not writable:
                raise SessionFileError(
                    f"session file '{path}' has the old schema version {version} and "
                    f"{read_only_reason(path)}; copy it somewhere writable so it can be upgraded"
                )
            _migrate(db, path, version, migrations, schema_version)
            if read_only:
                db.execute("PRAGMA query_only = ON")
        check_session_contents(db.conn, path, migrations)
        if not read_only:
            db.execute("PRAGMA query_only = OFF")
            enable_wal(db.conn)
    except BaseException:
        db.close()
        raise
    return db, read_only


def _migrate(
    db: Database, path: Path, version: int, migrations: Migrations, schema_version: int
) -> None:
    """Copy the file aside, then apply the missing migrations and record the new version."""
    target = sqlite3.connect(str(backup_path(path, version)))
    try:
        db.conn.backup(target)
    finally:
        target.close()
    db.execute("PRAGMA query_only = OFF")
    enable_wal(db.conn)
    migrations.apply(db)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(schema_version)])
    db.conn.commit()


def create_database(path: Path, migrations: Migrations = MIGRATIONS) -> Database:
    """A new file at `path` with every migration applied; `path` must not exist yet."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    configure(conn)
    enable_wal(conn)
    db = Database(conn, execute_plugins=False)
    migrations.apply(db)
    return db
