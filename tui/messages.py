"""App-wide messages: what the session watcher and the runner controls tell the screens.

Messages go up (watcher → app); the app turns them into reactive attributes that go down
to the screens (`TunebookApp.data_version`, `runner_alive`, `session_problem`). A widget's
own messages live on the widget.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message


class SessionChanged(Message):
    """The open session file changed (the runner committed, or started or stopped).

    Consecutive ones replace each other in the queue, so a busy runner cannot flood the UI:
    the app acts on the latest only.
    """

    def __init__(self, version: int, runner_alive: bool) -> None:
        super().__init__()
        self.version = version
        self.runner_alive = runner_alive

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SessionChanged)


class SessionProblem(Message):
    """The open session file went bad (deleted, replaced, truncated, unreadable)."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


class SessionOpened(Message):
    """A session file was opened (read-only when `read_only_reason` is not empty)."""

    def __init__(self, path: Path, read_only_reason: str) -> None:
        super().__init__()
        self.path = path
        self.read_only_reason = read_only_reason


class RunnerStarted(Message):
    """The app started a detached runner on the open session."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid


class RunnerStopped(Message):
    """The session's runner exited after the app asked it to stop."""

    def __init__(self, pid: int | None, seconds: float) -> None:
        super().__init__()
        self.pid = pid
        self.seconds = seconds
