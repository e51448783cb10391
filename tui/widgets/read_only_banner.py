"""The banner over a session opened read-only, saying why; hidden when it can be written."""

from __future__ import annotations

from textual.widgets import Static

from tunebook.sessions.text import safe_text


class ReadOnlyBanner(Static):
    """`read-only: <reason>; actions that write are disabled`."""

    DEFAULT_CSS = """
    ReadOnlyBanner {
        background: $warning 30%;
        color: $text;
        padding: 0 1;
        height: auto;
        display: none;
    }
    ReadOnlyBanner.-shown { display: block; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)

    def on_mount(self) -> None:
        reason = getattr(self.app, "read_only_reason", "")
        if reason:
            self.update(f"read-only: {safe_text(reason)}; actions that write are disabled")
            self.add_class("-shown")
