"""The app's text field: Textual's `Input`, whose value never holds a control or bidi
character. Such a character in a field would reach the terminal as it is, whether it came
from a file (a goal the designer loads) or a paste; it is kept as its visible escape
(`\\x1b`) instead, as everywhere else the app shows text (`safe_text`)."""

from __future__ import annotations

from textual.widgets import Input

from tunebook.sessions.text import safe_text


class TextInput(Input):
    """An `Input` whose value is escaped text: set, typed or pasted."""

    def validate_value(self, value: str) -> str:
        """The value with every unsafe character written as its escape (Textual calls this
        on each change of the `value` reactive)."""
        return safe_text(value)
