"""Helpers for the Home, new-session and entry-point tests: waiting on a Pilot, reading
notifications, and keeping the user's own state and config folders out of reach."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App


def pilot_test(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async pilot test under `asyncio.run` (the project has no async pytest plugin);
    fixtures are passed through."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


def isolate_user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    """Point the app's state and config folders at `tmp_path` (never the user's files)."""
    state, config = tmp_path / "state", tmp_path / "config"
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(state))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(config))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    return state, config



def notifications(app: App) -> list[str]:
    """The messages of the notifications the app has shown (and not yet expired)."""
    return [str(n.message) for n in app._notifications]


def error_notifications(app: App) -> list[str]:
    """Only the error notifications' messages."""
    return [str(n.message) for n in app._notifications if n.severity == "error"]
