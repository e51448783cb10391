"""Text from files and users, made safe to show: the CLI, the exports and the app share it.

A session or a spec is data written by anyone: a name, goal or error may hold terminal
escape sequences (ESC, C1 controls such as U+009B CSI), bidi overrides (U+202E) that
reorder what the reader sees, or line breaks that forge extra output lines. `safe_text`
writes every such character as a visible escape (`\\x1b`, `\\u202e`), so what reaches a
terminal, a CSV or a Markdown report is exactly the characters that were stored.
"""

from __future__ import annotations

import unicodedata
from typing import Any

#: Unicode categories shown escaped: controls (C0, DEL, C1), format characters (bidi
#: embeddings, overrides and isolates, zero-width joiners, marks), unpaired surrogates,
#: and the line and paragraph separators some terminals and viewers treat as newlines.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_unsafe(char: str) -> bool:
    """True for a character that must never reach a terminal or a report as itself."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def safe_text(value: Any) -> str:
    """`value` as one line of text with every control, format (bidi) and line-separator
    character written as a visible escape; everything else is kept as it is."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: no escaping needed (fast path)
        return text
    return "".join(_escape(c) if is_unsafe(c) else c for c in text)


def safe_lines(text: str) -> str:
    """Multi-line text (a traceback) escaped line by line, its line breaks kept."""
    return "\n".join(safe_text(line) for line in text.split("\n"))


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`count` and the noun in the number it needs: "1 study", "2 studies", "0 trials"."""
    if count == 1:
        return f"{count} {noun}"
    if plural_form is None:
        plural_form = (
            noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
        )
    return f"{count} {plural_form}"
