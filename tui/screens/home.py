"""Home: what tunebook is, the sessions opened recently, a new session, or open one by path.

The recent list lives in the user's state folder (`tunebook.tui.recent`); it is read and each
file's workload looked up in a thread worker, so a slow disk never freezes the screen. A
file that has gone is listed as missing (`d` forgets it), never an error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Input, Label, Static

from tunebook.sessions.text import safe_text
from tunebook.tui.recent import RecentDetails, forget, recent_details
from tunebook.tui.screens.base import TunebookScreen
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.path_input import PathInput

WELCOME = (
    "tunebook walks you through the Deep Learning Tuning Playbook: a session file holds "
    "one model's tuning — pick the model, optimizer and batch size, then run experiments in "
    "rounds, each with one goal; read the plots; adopt a change only on evidence; repeat."
)
START_HINT = "Press n to start a session for your workload, or o to open a .tunebook file."
NO_RECENT = "No recent sessions yet: n creates one (try the 'tabular' workload), o opens a file."

NAME_WIDTH, WORKLOAD_WIDTH, MODIFIED_WIDTH, MIN_FOLDER_WIDTH = 22, 10, 16, 12


def short_folder(folder: Path, width: int) -> str:
    """`folder` with the home folder as `~`, cut from the left to `width` (the tail of a
    path says more than its head)."""
    text = str(folder)
    home = str(Path.home())
    if home != "/" and (text == home or text.startswith(home + os.sep)):
        text = "~" + text[len(home):]
    text = safe_text(text)
    return text if len(text) <= width else "…" + text[len(text) - width + 1:]


def recent_row(entry: RecentDetails, folder_width: int) -> tuple[Text, Text, Text, Text]:
    """The table cells of one recent session; a missing or broken one is dimmed."""
    name = Text(safe_text(entry.path.name), overflow="ellipsis", no_wrap=True)
    folder = Text(short_folder(entry.path.parent, folder_width), style="dim", no_wrap=True)
    if not entry.exists:
        name.stylize("dim strike")
        return name, Text("missing", style="dim italic"), Text(""), folder
    if entry.problem:
        name.stylize("dim")
        return name, Text("unreadable", style="dim italic"), Text(""), folder
    modified = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.modified))
        if entry.modified is not None
        else ""
    )
    workload = Text(safe_text(entry.workload), style="cyan", overflow="ellipsis", no_wrap=True)
    return name, workload, Text(modified), folder


class HomeScreen(TunebookScreen):
    """Where the app starts when no session is given: recent sessions, new, open."""

    BINDINGS = [
        Binding("n", "new_session", "New", id="home.new", tooltip="Create a session file"),
        Binding("o", "focus_open", "Open", id="home.open", tooltip="Type a session file's path"),
        Binding(
            "d", "forget", "Forget", id="home.forget",
            tooltip="Remove the highlighted session from the recent list (the file stays)",
        ),
        Binding(
            "escape", "focus_recent", "Recent", id="home.recent", show=False,
            tooltip="Back to the recent sessions list",
        ),
    ]

    #: The recent sessions as last read; None until the first read finishes.
    recent: reactive[list[RecentDetails] | None] = reactive(None, init=False)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home-body"):
            yield Static(WELCOME, id="home-welcome", markup=False)
            yield Static(START_HINT, id="home-hint", markup=False)
            yield Label("Recent sessions", id="recent-title")
            yield DataTable(id="recent", cursor_type="row", zebra_stripes=False)
            yield Static(NO_RECENT, id="recent-empty", markup=False)
            with Horizontal(id="open-row"):
                yield Label("Open", id="open-label")
                yield PathInput(id="open-path")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#recent-empty").display = False
        self.query_one("#recent", DataTable).focus()
        self.load_recent()

    def on_screen_resume(self) -> None:
        self.load_recent()

    @work(thread=True, exclusive=True, group="recent", exit_on_error=False)
    def load_recent(self) -> None:
        """Read the recent list and each file's workload (opens files: a thread worker)."""
        entries = recent_details()
        self.app.call_from_thread(setattr, self, "recent", entries)

    def watch_recent(self, entries: list[RecentDetails] | None) -> None:
        self._fill_table()
        self.refresh_bindings()

    def on_resize(self) -> None:
        self._fill_table()

    def _fill_table(self) -> None:
        entries = self.recent
        if entries is None:
            return
        table = self.query_one("#recent", DataTable)
        self.query_one("#recent-empty").display = not entries
        table.display = bool(entries)
        row = table.cursor_row
        fixed = NAME_WIDTH + WORKLOAD_WIDTH + MODIFIED_WIDTH + 2 * 4 + 2  # cell padding, bar
        folder_width = max(MIN_FOLDER_WIDTH, (table.size.width or self.size.width) - fixed)
        table.clear(columns=True)
        table.add_column("session", key="name", width=NAME_WIDTH)
        table.add_column("workload", key="workload", width=WORKLOAD_WIDTH)
        table.add_column("modified", key="modified", width=MODIFIED_WIDTH)
        table.add_column("folder", key="folder", width=folder_width)
        for entry in entries:
            table.add_row(*recent_row(entry, folder_width), key=str(entry.path))
        if entries:
            table.move_cursor(row=min(max(row, 0), len(entries) - 1))

    def highlighted(self) -> RecentDetails | None:
        """The recent session under the cursor, if any."""
        if not self.recent:
            return None
        row = self.query_one("#recent", DataTable).cursor_row
        return self.recent[row] if 0 <= row < len(self.recent) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        entry = self.highlighted()
        if entry is None:
            return
        if not entry.exists:
            self.notify(
                f"'{safe_text(str(entry.path))}' is missing; d forgets it",
                title="Cannot open", severity="warning",
            )
            return
        self.tunebook.open_session(entry.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.notify("type a session file's path first", severity="warning")
            return
        self.tunebook.open_session(Path(os.path.expanduser(text)))

    def action_new_session(self) -> None:
        """Open the new-session form."""
        from tunebook.tui.screens.new_session import NewSessionScreen

        self.app.push_screen(NewSessionScreen())

    def action_focus_open(self) -> None:
        """Focus the path input."""
        self.query_one("#open-path", Input).focus()

    def action_focus_recent(self) -> None:
        """Focus the recent list."""
        self.query_one("#recent", DataTable).focus()

    def action_forget(self) -> None:
        """Drop the highlighted session from the recent list; the file is left alone."""
        entry = self.highlighted()
        if entry is None:
            return
        self._forget(entry.path)

    @work(thread=True, exclusive=True, group="recent", exit_on_error=False)
    def _forget(self, path: Path) -> None:
        forget(path)
        self.app.call_from_thread(
            self.notify, f"forgot {safe_text(str(path))} (the file is untouched)"
        )
        entries = recent_details()
        self.app.call_from_thread(setattr, self, "recent", entries)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "forget" and not self.recent:
            return None
        return True
