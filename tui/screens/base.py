"""What every screen over an open session shares: reloading when the file changes, reading
in thread workers, the read-only banner, and worker errors turned into notifications."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tunebook.sessions.text import safe_text

if TYPE_CHECKING:
    from tunebook.sessions import Session
    from tunebook.tui.app import TunebookApp

T = TypeVar("T")


class TunebookScreen(Screen):
    """A screen of the app: forwards its workers' errors to the app as one sentence."""

    @property
    def tunebook(self) -> TunebookApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.tunebook.report_error(event.worker.error)


class SessionScreen(TunebookScreen):
    """A screen showing the open session: `reload()` runs on mount and whenever the file
    changes (`TunebookApp.data_version`); subclasses read in thread workers via `read`."""

    #: The file changed while another screen was on top: reload when this one resumes.
    _stale = False

    @property
    def session_path(self) -> Path:
        """The open session's file."""
        path = self.tunebook.session_path
        if path is None:  # pragma: no cover - session screens are pushed only once open
            raise RuntimeError("no session is open")
        return path

    def on_mount(self) -> None:
        self.watch(self.app, "data_version", self._data_changed, init=False)
        self.reload()

    def _data_changed(self, _version: int) -> None:
        # `is_current` is also true for the screen right under the top one (Textual counts
        # it as possibly visible): only the top screen reloads; the others on resume.
        if self.app.screen is self:
            self.reload()
        else:
            self._stale = True

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.reload()

    def reload(self) -> None:
        """Fetch this screen's data again (from a thread worker)."""

    def read(self, read: Callable[[Session], T]) -> T:
        """Call `read` on a fresh read-only session (from a thread worker only)."""
        from tunebook.tui.app import read_session

        return read_session(self.session_path, read)

    def stored_then_back(self, printed: str) -> None:
        """From a thread worker, after a child `tunebook` command stored an experiment (an
        exploitation study, a longer round): say which, that `n` runs it, and go back."""
        added = next((line for line in printed.splitlines() if "added experiment" in line), "")
        self.app.call_from_thread(
            self.notify, safe_text(f"{added.rstrip(':')}: n runs it (the next step)")
        )
        self.app.call_from_thread(self.app.pop_screen)
