"""Recording a project-start decision from a screen: `tunebook decide` in a child process,
run in a thread worker, so the app never writes the session and never blocks."""

from __future__ import annotations

from pathlib import Path

from textual import work

from tunebook.sessions import TunebookError
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import SessionScreen


class RecordsDecisions(SessionScreen):
    """A session screen that records decisions; `deciding` is true while a child runs."""

    deciding: bool = False

    def record(self, what: str, arguments: list[str]) -> None:
        """Record `tunebook decide PATH ARGUMENTS…` (refused with the reason when the
        session cannot be written; ignored while a decision is being recorded)."""
        refusal = self.tunebook.write_refusal()
        if refusal:
            self.notify(f"cannot record the {what}: {safe_text(refusal)}", severity="warning")
            return
        if self.deciding:
            return
        self.deciding = True
        self.notify(f"recording the {what} decision…")
        self._record(self.session_path, what, arguments)

    @work(thread=True, exclusive=True, group="decide", exit_on_error=False)
    def _record(self, path: Path, what: str, arguments: list[str]) -> None:
        from tunebook.core.execution.control import record_decision

        try:
            printed = record_decision(path, arguments)
        except TunebookError as exc:
            failed = f"cannot record the {what}: {exc}"
            self.app.call_from_thread(self._recorded, what, failed, False)
        else:
            self.app.call_from_thread(self._recorded, what, printed, True)

    def _recorded(self, what: str, message: str, done: bool) -> None:
        self.deciding = False
        if done:
            self.decided()
            self.notify(
                safe_text(message) + "\n(n takes the next step)",
                title=f"{what.capitalize()} decided",
                timeout=10,
            )
            self.reload()  # the watcher posts the change too; this shows it at once
        else:
            self.notify(safe_text(message), severity="error", timeout=15)

    def decided(self) -> None:
        """Called once a decision is recorded (e.g. to forget edits now stored)."""
