"""The app's text field: Textual's `Input`, whose value never holds a control or bidi
character. Textual keeps such a character, from a paste or a value a screen sets, in the
field's value, so it would go on into what the field stores (a note); it is kept as its
visible escape (`\\x1b`) instead, as everywhere else the app shows text (`safe_text`)."""

from __future__ import annotations

from textual.widgets import Input

from tunebook.sessions.text import safe_text


class TextInput(Input):
    """An `Input` whose value is escaped text: set, typed or pasted."""

    def validate_value(self, value: str) -> str:
        """The value with every unsafe character written as its escape (Textual calls this
        on each change of the `value` reactive)."""
        return safe_text(value)
