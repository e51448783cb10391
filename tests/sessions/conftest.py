"""Shared fixtures for the session tests (plain helpers live in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sessions.helpers import fill
from tunebook.sessions import Session


@pytest.fixture
def session_path(tmp_path: Path) -> Path:
    """A cleanly closed session file holding one of every record kind."""
    path = tmp_path / "filled.tunebook"
    with Session.create(path, "tabular", {"rows": 100}) as session:
        fill(session)
    return path
