"""How the app is entered: `tunebook` (Home), `tunebook PATH`, `--read-only` and a file
nobody may write (banner, write actions disabled), the non-terminal answers, and `tunebook
demo` staying headless without a terminal. The terminal cases run the real command in a
pseudo-terminal."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.test_session_map import pending_session
from tests.filled_session import fill_session
from tests.tui.home_helpers import error_notifications, isolate_user_dirs, pilot_test
from tests.tui.pilot import wait_for
from tunebook.sessions import Session, TrialStatus
from tunebook.tui.app import TunebookApp
from tunebook.tui.cli import main
from tunebook.tui.screens.home import HomeScreen
from tunebook.tui.screens.session_map import SessionMapScreen
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner


def map_loaded(app: TunebookApp) -> bool:
    """The session map is up and has drawn its stages (its actions depend on them)."""
    screen = app.screen
    return isinstance(screen, SessionMapScreen) and screen.stage_map is not None


@pytest.fixture(autouse=True)
def _user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)


@pilot_test
async def test_no_path_lands_on_home() -> None:
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert app.session_path is None and app.read_only_reason == ""


@pilot_test
async def test_a_path_lands_on_its_session_map(tmp_path: Path) -> None:
    path = pending_session(tmp_path / "s.tunebook")  # trials to run: `run` is enabled
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: map_loaded(app))
        assert app.session_path == path and app.read_only_reason == ""
        assert not app.screen.query_one(ReadOnlyBanner).has_class("-shown")
        assert app.screen.check_action("run", ()) is True
        await pilot.press("escape")  # Home is underneath
        await wait_for(pilot, lambda: isinstance(app.screen, HomeScreen))


@pytest.mark.parametrize("how", ["chmod", "flag"])
@pilot_test
async def test_read_only_shows_the_banner_and_disables_writes(tmp_path: Path, how: str) -> None:
    path = pending_session(tmp_path / "s.tunebook")  # trials to run, yet `run` is disabled
    if how == "chmod":
        path.chmod(0o444)
    before = path.stat().st_mtime_ns
    try:
        app = TunebookApp(path, read_only=how == "flag")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: map_loaded(app))
            expected = "is not writable" if how == "chmod" else "opened with --read-only"
            assert expected in app.read_only_reason
            banner = app.screen.query_one(ReadOnlyBanner)
            assert banner.has_class("-shown") and banner.region.height >= 1
            assert expected in str(banner.render())
            assert "read-only" in app.write_refusal()
            assert app.screen.check_action("run", ()) is None  # dimmed in the footer
            await pilot.press("r")
            app.action_start_run()  # even called directly, it refuses with the reason
            await pilot.pause(0.2)
            with Session.open(path, read_only=True) as session:
                assert session.runner() is None
            assert error_notifications(app) == []
    finally:
        path.chmod(0o644)
    assert path.stat().st_mtime_ns == before


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_text("hello\n" * 50), "not a tunebook session file"),
        (lambda p: None, "does not exist"),
    ],
)
@pilot_test
async def test_a_bad_path_on_the_command_line_reports_and_stays_home(
    tmp_path: Path, make, expected: str
) -> None:
    path = tmp_path / "bad.tunebook"
    make(path)
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: error_notifications(app))
        [message] = error_notifications(app)
        assert expected in message and "\n" not in message
        assert isinstance(app.screen, HomeScreen) and app.session_path is None


def test_without_a_terminal_a_path_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fill_session(tmp_path / "s.tunebook")
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tunebook: the tunebook app needs a terminal; 'tunebook status {path}' "
        "works without one\n"
    )
    assert main([str(tmp_path / "none.tunebook"), "--read-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a session file; 'tunebook new" in err


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--address", "head:6379"], "--address is for --executor ray, not --executor process"),
        (["--executor", "ray", "--device", "tpu"], "--device 'tpu' is not one of"),
        (["--workers", "0"], "--workers must be at least 1, got 0"),
    ],
)
def test_run_options_for_the_app_are_checked_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], expected: str
) -> None:
    """`tunebook PATH --executor ray --address …` says where the app's runs train; options
    that `tunebook run` would refuse are one sentence before anything opens."""
    path = fill_session(tmp_path / "s.tunebook")
    assert main([str(path), *options]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tunebook: {expected}") and err.count("\n") == 1


def test_without_a_terminal_no_path_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: tunebook" in capsys.readouterr().out


def test_demo_without_a_terminal_stays_headless(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunebook.core.demo import prepare_demo

    path = tmp_path / "demo.tunebook"
    assert prepare_demo(path) is True
    with Session.open(path) as session:  # every trial done already: the run is instant
        for trial in session.trials():
            session.start_trial(trial.id)
            session.finish_trial(trial.id, TrialStatus.COMPLETED, best_step=1, best_value=0.5)
    assert main(["demo", str(path)]) == 0  # no --headless, but stdout is no terminal
    out = capsys.readouterr().out
    assert out.startswith(f"resuming {path}: does a deeper MLP")
    assert "export a report with 'tunebook export" in out


# -- the real command in a pseudo-terminal ---------------------------------------------------

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def run_in_terminal(argv: list[str], wait_for_text: str, env: dict[str, str]) -> str:
    """Run `tunebook argv` on an 80×24 pseudo-terminal until `wait_for_text` is drawn, press
    q, and return what it drew (escape sequences removed); fails if it does not exit 0."""
    import fcntl
    import struct
    import termios

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "tunebook.tui.cli", *argv],
        stdin=follower, stdout=follower, stderr=follower, close_fds=True,
        env={**env, "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"},
        start_new_session=True,
    )
    os.close(follower)
    drawn, deadline, quit_sent = "", time.monotonic() + 60, False
    try:
        while time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    drawn += ANSI.sub("", os.read(leader, 65536).decode("utf-8", "replace"))
                except OSError:
                    break
            if not quit_sent and wait_for_text in drawn.replace("\n", ""):
                time.sleep(0.3)
                os.write(leader, b"q")
                quit_sent = True
        assert quit_sent, f"never drew {wait_for_text!r}: {drawn[-2000:]!r}"
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return drawn


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_command_opens_home_and_a_read_only_session_on_a_terminal(tmp_path: Path) -> None:
    env = dict(os.environ)
    home = run_in_terminal([], "Recent sessions", env)
    assert "New" in home and "Open" in home
    path = fill_session(tmp_path / "s.tunebook")
    drawn = run_in_terminal([str(path), "--read-only"], "actions that write are disabled", env)
    assert "opened with --read-only" in drawn
    with Session.open(path, read_only=True) as session:
        assert session.runner() is None
