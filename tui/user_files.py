"""Where the app keeps the user's own files: state (recent sessions) and config (keymap).

XDG on Linux and other Unixes (`$XDG_STATE_HOME`, `$XDG_CONFIG_HOME`), `~/Library/...` on
macOS, `%LOCALAPPDATA%` / `%APPDATA%` on Windows. `TUNEBOOK_STATE_DIR` and
`TUNEBOOK_CONFIG_DIR` override both (tests, and users who keep dotfiles elsewhere).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "tunebook"


def state_dir() -> Path:
    """The folder for files the app writes for itself (recent sessions); not created here."""
    override = os.environ.get("TUNEBOOK_STATE_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / APP_NAME
    return Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state") / APP_NAME


def config_dir() -> Path:
    """The folder for files the user writes for the app (keymap.toml); not created here."""
    override = os.environ.get("TUNEBOOK_CONFIG_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / APP_NAME
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / APP_NAME
