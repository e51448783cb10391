"""The key bar at the bottom of every screen: Textual's footer, compact in a narrow terminal,
where its roomy spacing pushed the last keys (Help, Quit) off the end at 80 columns, and
there without the command palette's key, which Help lists instead."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

#: From this many columns on, the keys get Textual's roomier spacing.
ROOMY_WIDTH = 100


class KeyFooter(Footer):
    """A `Footer` that is compact, and leaves out `^p palette`, below `ROOMY_WIDTH` columns."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < ROOMY_WIDTH
        self.show_command_palette = not self.compact
