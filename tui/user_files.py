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


def _user_dir(override: str, windows: tuple[str, str], xdg: tuple[str, str]) -> Path:
    """The app's folder under the platform's convention: `$override` if set, else macOS's
    Application Support, Windows' (variable, default below home), or XDG's (variable,
    default below home)."""
    if os.environ.get(override):
        return Path(os.environ[override])
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    variable, default = windows if sys.platform == "win32" else xdg
    return Path(os.environ.get(variable) or home / default) / APP_NAME


def state_dir() -> Path:
    """The folder for files the app writes for itself (recent sessions); not created here."""
    return _user_dir(
        "TUNEBOOK_STATE_DIR", ("LOCALAPPDATA", "AppData/Local"), ("XDG_STATE_HOME", ".local/state")
    )


def config_dir() -> Path:
    """The folder for files the user writes for the app (keymap.toml); not created here."""
    return _user_dir(
        "TUNEBOOK_CONFIG_DIR", ("APPDATA", "AppData/Roaming"), ("XDG_CONFIG_HOME", ".config")
    )
