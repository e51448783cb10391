"""The session watcher: cheap polls that notice commits, runners, and a file gone bad."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.filled_session import fill_session
from tunebook.sessions import Session
from tunebook.sessions.report import RUNNER_STALE_AFTER
from tunebook.sessions.watch import FileIdentity, SessionWatcher


def test_a_commit_by_another_connection_is_one_change(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "s.tunebook")
    watcher = SessionWatcher(path)
    try:
        assert watcher.poll() is None
        with Session.open(path) as writer:
            writer.add_note("session", "a")
            change = watcher.poll()
            assert change is not None and change.version == 1 and not change.problem
            assert watcher.poll() is None  # nothing new since
            writer.claim_runner(RUNNER_STALE_AFTER)
            change = watcher.poll()
            assert change is not None and change.runner_alive and change.version == 2
            writer.release_runner()
            change = watcher.poll()
            assert change is not None and not change.runner_alive
    finally:
        watcher.close()


def test_a_deleted_file_is_a_problem(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "s.tunebook")
    watcher = SessionWatcher(path)
    try:
        path.unlink()
        change = watcher.poll()
        assert change is not None
        assert change.problem == f"session file '{path}' was deleted while open"
    finally:
        watcher.close()


def test_a_replaced_file_is_a_problem(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "s.tunebook")
    other = fill_session(tmp_path / "other.tunebook")
    watcher = SessionWatcher(path)
    try:
        os.replace(other, path)
        change = watcher.poll()
        assert change is not None and "was replaced by another file" in change.problem
    finally:
        watcher.close()


def test_a_truncated_file_is_a_problem(tmp_path: Path) -> None:
    path = fill_session(tmp_path / "s.tunebook")
    shutil.copy(path, tmp_path / "backup")
    watcher = SessionWatcher(path)
    try:
        with path.open("r+b") as handle:  # what a broken copy or a full disk leaves behind
            handle.truncate(4096)
        change = watcher.poll()
        assert change is not None and "truncated" in change.problem
    finally:
        watcher.close()


def test_a_change_before_the_watcher_started_is_measured_from_what_the_caller_saw(
    tmp_path: Path,
) -> None:
    # The app checks the file opens, then starts its watcher in a thread: a replacement in
    # between is reported at the first poll, against the file as the app saw it.
    path = fill_session(tmp_path / "s.tunebook")
    seen = FileIdentity.of(path)
    os.replace(fill_session(tmp_path / "other.tunebook"), path)
    watcher = SessionWatcher(path, seen)
    try:
        change = watcher.poll()
        assert change is not None and "was replaced by another file" in change.problem
    finally:
        watcher.close()
    fresh = SessionWatcher(path)  # by default: the file as it is now
    try:
        assert fresh.poll() is None
    finally:
        fresh.close()
