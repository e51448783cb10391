"""Writing an experiment spec back as TOML 1.0 text, so a design made in the app is the same
file `tunebook experiment add` reads (DESIGN.md, "The experiment spec").

A small exact emitter for the spec's subset of TOML, with no dependency: top-level keys,
then one ``[section]`` per table (``fixed``, ``scientific``, ``nuisance``, ``search``,
``objective``), dimensions as inline tables, and conditional nuisance sets as
``[nuisance.when.NAME.VALUE]`` tables, and a listed search's points one inline table a
line. Strings are basic strings escaped per TOML, floats are written with `repr` (``inf``
and ``nan`` included), so ``load_spec`` of the text gives the design ``design_from_dict``
gives of the dict.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tunebook.core.design.spec import WHEN
from tunebook.sessions.errors import BadInput

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(text: str) -> str:
    """`text` as a TOML basic string: quotes, backslashes and control characters escaped,
    other characters (any language, emoji) written as they are."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise BadInput(f"cannot write {text!r} as TOML: it holds a lone surrogate character")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_key(key: Any) -> str:
    """A key bare when TOML allows it (letters, digits, ``_`` and ``-``), else quoted."""
    if not isinstance(key, str):
        raise BadInput(f"cannot write the key {key!r} as TOML: keys are strings")
    return key if _BARE.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """One value: a string, boolean, integer, float, array or (inline) table."""
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)  # '1e-05', '0.1', 'inf', '-inf': all TOML floats
    if isinstance(value, Mapping):
        items = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise BadInput(f"cannot write {value!r} as TOML (a {type(value).__name__})")


def _entry(key: Any, value: Any) -> str:
    """``key = value``; an array of tables (a listed search's points) one table a line."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        items = "".join(f"    {toml_value(item)},\n" for item in value)
        return f"{toml_key(key)} = [\n{items}]"
    return f"{toml_key(key)} = {toml_value(value)}"


def _write_table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any]) -> None:
    """Write `table` at `path`: its plain entries under its header, then its sub-tables."""
    as_header = not path or (path[:2] == ("nuisance", WHEN) and len(path) < 4)
    children = [
        (key, value)
        for key, value in table.items()
        if isinstance(value, Mapping) and (as_header or (path == ("nuisance",) and key == WHEN))
    ]
    child_keys = {key for key, _ in children}
    plain = [(key, value) for key, value in table.items() if key not in child_keys]
    if path and (plain or not children):
        if lines:
            lines.append("")
        lines.append("[" + ".".join(toml_key(key) for key in path) + "]")
    lines.extend(_entry(key, value) for key, value in plain)
    for key, value in children:
        _write_table(lines, (*path, key), value)


def spec_to_toml(spec: Mapping[str, Any]) -> str:
    """The spec dict (the shape `design_from_dict` reads) as TOML 1.0 text."""
    lines: list[str] = []
    _write_table(lines, (), spec)
    return "\n".join(lines) + "\n"
