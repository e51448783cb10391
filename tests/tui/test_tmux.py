"""The real terminal path: the app in tmux, a run that outlives the terminal, re-attaching.

Drives `tunebook PATH` the way a person over SSH does (keys in, screen text out) on a
private tmux server (`-L`, `-f /dev/null`, fixed size). Killing the tmux server is the
SSH connection dropping: the detached runner must go on, and a new app must show it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import warm_settings
from tests.execution.conftest import new_session, spec_text, trials_of, wait_for
from tunebook.core.execution.control import live_runner
from tunebook.sessions import TrialStatus
from tunebook.sessions.records import process_exists

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

WIDTH, HEIGHT = 100, 30
TRIALS = 6


class Terminal:
    """One private tmux server running one command in a fixed-size window."""

    def __init__(
        self,
        socket: str,
        command: list[str],
        env: dict[str, str],
        folder: Path,
        size: tuple[int, int] = (WIDTH, HEIGHT),
    ) -> None:
        """Start `command` in `folder` (anything the app writes by a relative path, a spec
        file typed into the designer say, lands there and not in the repository)."""
        self.socket = socket
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        self._tmux(
            "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-c", str(folder),
            f"env {exports} {' '.join(command)}",
        )

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout

    def screen(self) -> str:
        """The window's text now."""
        return self._tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        """Type keys (tmux names: `Enter`, `Escape`, or plain characters)."""
        self._tmux("send-keys", *keys)

    def wait_for_text(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait until the screen matches `pattern`; returns the match."""
        return wait_for(
            lambda: re.search(pattern, self.screen()), timeout, f"{pattern!r} on screen"
        )

    def kill(self) -> None:
        """Kill the server, as a dropped SSH connection kills the terminal."""
        self._tmux("kill-server")


@pytest.fixture
def slow_session(tmp_path: Path) -> Iterator[Path]:
    """Trials slow enough (~2 s each) to kill the terminal mid-run; any runner left is
    killed at the end."""
    spec = spec_text(
        steps=80, trials=TRIALS, fixed={"sleep_ms": 25}, checkpoint_every=10, eval_every=10
    )
    path = new_session(tmp_path, spec)
    yield path
    runner = live_runner(path)
    if runner is not None and process_exists(runner.pid):
        os.kill(runner.pid, 9)


def app_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "tunebook.tui.cli", str(path)]


def finished_on_screen(terminal: Terminal) -> int:
    """The experiment's finished-trial count as the session map shows it."""
    return int(terminal.wait_for_text(rf"(\d+)/{TRIALS} trials finished").group(1))


@pytest.mark.slow
def test_the_run_outlives_the_terminal_and_the_app_reattaches(
    slow_session: Path, tmp_path: Path
) -> None:
    env = {
        "TEXTUAL_ANIMATIONS": "none",
        "TUNEBOOK_STATE_DIR": str(tmp_path / "state"),
        "TUNEBOOK_CONFIG_DIR": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        **warm_settings(),
    }
    socket = f"tunebook-test-{os.getpid()}"
    first = Terminal(socket, app_command(slow_session), env, tmp_path)
    try:
        first.wait_for_text(r"Experiment 'tiny'")
        first.keys("r")  # start a run: the map's next step, then the monitor
        runner = wait_for(lambda: live_runner(slow_session), 30, "the runner to start")
        wait_for(
            lambda: any(t.status is TrialStatus.RUNNING for t in trials_of(slow_session)),
            30,
            "a trial to start",
        )
    finally:
        first.kill()  # the SSH connection drops
    time.sleep(1)
    assert process_exists(runner.pid), "the runner died with the terminal"
    assert live_runner(slow_session) is not None

    second = Terminal(socket, app_command(slow_session), env, tmp_path)
    try:
        second.wait_for_text(r"● running")
        before = finished_on_screen(second)
        wait_for(lambda: finished_on_screen(second) > before, 60, "the count to rise on screen")
        second.keys("m")  # the monitor
        second.wait_for_text(r"(?i)stop")
        second.keys("x")  # stop, then confirm
        second.wait_for_text(r"Stop the run\?")
        second.keys("y")
        wait_for(lambda: not process_exists(runner.pid), 60, "the runner to exit")
        statuses = {t.status for t in trials_of(slow_session)}
        assert TrialStatus.RUNNING not in statuses
        assert statuses <= {TrialStatus.PENDING, TrialStatus.COMPLETED, TrialStatus.INFEASIBLE}
        second.wait_for_text(r"runner stopped")
    finally:
        second.kill()
