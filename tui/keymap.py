"""User key remapping: `keymap.toml` in the config folder maps binding ids to keys.

```toml
[keymap]
"monitor.start" = "f5"
"app.help" = "f1,question_mark"
```
Every binding in the app has an id (`screen.action`); the help screen lists them. A bad
file is one sentence naming the file and key, and the app starts with its own keys.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tunebook.sessions import BadInput
from tunebook.sessions.text import safe_text
from tunebook.tui.user_files import config_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

KEYMAP_FILE = "keymap.toml"


def keymap_path() -> Path:
    """Where the user's key remapping lives."""
    return config_dir() / KEYMAP_FILE


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Binding id → keys from `path` (default: the config folder's keymap.toml); empty when
    the file does not exist. Raises BadInput naming the file and key for a bad file."""
    path = keymap_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"keymap file '{safe_text(str(path))}' cannot be read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"keymap file '{safe_text(str(path))}' is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"keymap"})
    if unknown:
        raise BadInput(
            f"keymap file '{safe_text(str(path))}' has unknown table or key "
            f"'{safe_text(unknown[0])}'; put the bindings under [keymap]"
        )
    table = data.get("keymap", {})
    if not isinstance(table, dict):
        raise BadInput(f"keymap file '{safe_text(str(path))}': 'keymap' must be a table")
    keymap = {}
    for binding_id, keys in table.items():
        if not isinstance(keys, str) or not keys.strip():
            raise BadInput(
                f"keymap file '{safe_text(str(path))}', key '{safe_text(binding_id)}': the "
                f"keys must be a non-empty string like \"f5\" or \"ctrl+r,f5\", not {keys!r}"
            )
        keymap[binding_id] = keys
    return keymap


def check_binding_ids(keymap: dict[str, str], known: set[str], path: Path) -> None:
    """Raise BadInput for a keymap entry that names no binding of the app."""
    for binding_id in keymap:
        if binding_id not in known:
            raise BadInput(
                f"keymap file '{safe_text(str(path))}', key '{safe_text(binding_id)}': no "
                "binding has this id; the help screen (?) lists them"
            )
