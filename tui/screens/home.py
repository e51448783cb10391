"""Home: recent sessions, a new session, or open one by path."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input

from tunebook.tui.screens.base import TunebookScreen


class HomeScreen(TunebookScreen):
    """Where the app starts when no session is given."""

    BINDINGS = [Binding("o", "focus_open", "Open", id="home.open")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="path to a .tunebook file", id="open-path")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.tunebook.open_session(Path(event.value))

    def action_focus_open(self) -> None:
        """Focus the path input."""
        self.query_one("#open-path", Input).focus()
