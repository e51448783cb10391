"""Where the session file lives (issue #7, item 7): a read-only file system, a read-only
folder, a FIFO in place of the file, and the hidden files a killed `new` leaves.

The read-only file system is a real read-only bind mount (`mount --bind -o ro`, which needs
root); the read-only folder is a real `chmod 555` folder (as root, the commands run without the
capabilities that let root ignore permissions).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sessions.helpers import TUNEBOOK, run_cli, sha256, sidecars
from tunebook.core import api
from tunebook.sessions import Session
from tunebook.sessions.errors import SessionFileError

EXPORTS = [("export", "--format", f) for f in ("json", "csv", "md")]


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """`(source, view)`: `view` shows `source`'s files on a read-only file system."""
    source, view = tmp_path / "source", tmp_path / "view"
    source.mkdir()
    view.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", "-o", "ro", str(source), str(view)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"a read-only bind mount needs root here: {mounted.stderr.strip()}")
    try:
        with contextlib.suppress(OSError):
            (view / "probe").touch()
        if (source / "probe").exists():
            pytest.skip("this kernel mounted the bind mount writable")
        yield source, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=True)


def _outputs(path: Path) -> list[str]:
    """stdout of status --json and of each export, each required to succeed."""
    results = [run_cli("status", str(path), "--json")]
    results += [run_cli(*export, str(path)) for export in EXPORTS]
    for result in results:
        assert result.returncode == 0 and result.stderr == "", result.stderr
    return [r.stdout.replace(str(path), "PATH") for r in results]


def test_status_and_export_work_on_a_read_only_file_system(
    session_path: Path, read_only_mount: tuple[Path, Path]
) -> None:
    """Same output as on a writable copy; writing commands say the file system is read-only."""
    source, view = read_only_mount
    shutil.copy(session_path, source / "s.tunebook")
    path = view / "s.tunebook"
    expected = _outputs(session_path)
    got = _outputs(path)
    for index in (0, 1):  # status --json and export --format json differ in read_only only
        document = json.loads(expected[index])
        assert document["read_only"] is False
        document["read_only"] = True
        assert json.loads(got[index]) == document
    assert got[2:] == expected[2:]
    assert [s.study.name for s in api.results(path)] == ["depth-2"]
    assert len(api.trials(path)) == 3 and "train/loss" in api.curves(path, 1)
    result = run_cli("run", str(path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and str(path) in result.stderr
    assert "read-only file system" in result.stderr and "Errno" not in result.stderr
    assert [p.name for p in source.iterdir()] == ["s.tunebook"]


def test_a_log_on_a_read_only_file_system_is_read_or_explained(
    tmp_path: Path, read_only_mount: tuple[Path, Path]
) -> None:
    """Data only in a -wal: read when its -shm is there too; without it, one true sentence."""
    source, view = read_only_mount
    live = tmp_path / "live.tunebook"
    with Session.create(live, "tabular") as session:
        session.db.conn.execute("PRAGMA wal_autocheckpoint = 0")
        session.add_experiment("only-in-wal", "", {}, 10)
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(f"{live}{suffix}", source / f"with-shm.tunebook{suffix}")
        for suffix in ("", "-wal"):
            shutil.copy(f"{live}{suffix}", source / f"no-shm.tunebook{suffix}")
    result = run_cli("status", str(view / "with-shm.tunebook"), "--json")
    assert result.returncode == 0, result.stderr
    assert [e["name"] for e in json.loads(result.stdout)["experiments"]] == ["only-in-wal"]
    path = view / "no-shm.tunebook"
    result = run_cli("status", str(path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"'{path}-wal'" in result.stderr and "read-only file system" in result.stderr
    assert "damaged" not in result.stderr


def _without_privilege(*args: str) -> subprocess.CompletedProcess[str]:
    """`tunebook ARGS` subject to file permissions: as root, without the capabilities that
    let root write anywhere (`setpriv --bounding-set`)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, a read-only folder needs setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    return subprocess.run(
        [*prefix, str(TUNEBOOK), *args], capture_output=True, text=True, timeout=60
    )


def test_a_read_only_folder_is_called_read_only_not_damaged(
    tmp_path: Path, session_path: Path
) -> None:
    """A writable file in a folder the user cannot write: status and export work (SQLite
    could not create its -shm there), writes name the folder, and nothing is left beside."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    path = folder / "s.tunebook"
    shutil.copy(session_path, path)
    before = sha256(path)
    folder.chmod(0o555)
    try:
        status = _without_privilege("status", str(path), "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["trials"]["total"] == 4  # 3 trials + 1 planned
        for export in EXPORTS:
            result = _without_privilege(*export, str(path))
            assert result.returncode == 0 and result.stderr == "", result.stderr
        refused = _without_privilege("run", str(path))
        assert refused.returncode == 2 and "damaged" not in refused.stderr, refused.stderr
        assert f"folder '{folder}' is not writable" in refused.stderr
    finally:
        folder.chmod(0o755)
    assert sha256(path) == before and sidecars(path) == []


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO (or any non-regular file) as the session path: exit 2 at once, no hang."""
    fifo = tmp_path / "s.tunebook"
    os.mkfifo(fifo)
    for command in (("status", str(fifo)), ("export", "--format", "json", str(fifo))):
        result = run_cli(*command, timeout=30)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "not a regular file" in result.stderr
        assert str(fifo) in result.stderr


def _kill_new_while_partial(path: Path) -> Path:
    """SIGKILL a real `tunebook new PATH` while its hidden `.partial` file exists."""
    for _ in range(10):
        child = subprocess.Popen(
            [str(TUNEBOOK), "new", str(path), "--workload", "tabular"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        partial = path.with_name(f".{path.name}.{child.pid}.partial")
        deadline = time.monotonic() + 60
        while child.poll() is None and time.monotonic() < deadline:
            if partial.exists():
                child.send_signal(signal.SIGKILL)
                break
        child.wait()
        if partial.exists() and not path.exists():
            return partial
        path.unlink(missing_ok=True)
    pytest.fail("never caught `tunebook new` while its .partial file existed")


def test_a_killed_new_leaves_partial_files_that_the_next_new_removes(tmp_path: Path) -> None:
    """Stale `.NAME.PID.partial` files (dead pid) go on the next `new` of that path; one of
    a live process stays."""
    path = tmp_path / "s.tunebook"
    stale = _kill_new_while_partial(path)
    live = path.with_name(f".{path.name}.{os.getpid()}.partial")
    live.write_bytes(b"being built by a live process")
    result = run_cli("new", str(path), "--workload", "tabular")
    assert result.returncode == 0, result.stderr
    assert not stale.exists() and not Path(f"{stale}-wal").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, path.name]
    with Session.open(path, read_only=True) as session:
        assert session.info().workload == "tabular"


def test_a_file_deleted_between_its_checks_and_its_opening_is_not_recreated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's watcher reopens the file while a user may delete it: opening it must then
    fail, not create an empty SQLite file in its place (which the watcher once reported as
    the file "replaced by another file" instead of "deleted")."""
    from tunebook.sessions import connection

    path = tmp_path / "s.tunebook"
    Session.create(path, "tabular", {}).close()
    reason = connection.read_only_reason

    def deleted_after_the_checks(checked: Path) -> str:
        why = reason(checked)
        checked.unlink()
        return why

    monkeypatch.setattr(connection, "read_only_reason", deleted_after_the_checks)
    with pytest.raises(SessionFileError, match=r"s\.tunebook"):
        Session.open(path, read_only=True)
    assert not path.exists()


def test_a_file_deleted_between_its_path_check_and_its_permission_checks_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One step earlier than the case above: the file goes after `check_session_path`,
    before `read_only_reason` looks at its file system (an OSError there once)."""
    from tunebook.sessions import connection

    path = tmp_path / "s.tunebook"
    Session.create(path, "tabular", {}).close()
    check = connection.check_session_path

    def deleted_after_the_path_check(checked: Path) -> None:
        check(checked)
        checked.unlink()

    monkeypatch.setattr(connection, "check_session_path", deleted_after_the_path_check)
    with pytest.raises(SessionFileError, match=r"session file '.*s\.tunebook' does not exist"):
        Session.open(path, read_only=True)
    assert not path.exists()
