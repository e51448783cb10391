"""The layers point one way: tui → core → sessions (DESIGN.md). Checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_modules(statement: str) -> set[str]:
    """Top-level module names loaded after running `statement` in a new interpreter."""
    listing = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    code = f"import sys, json\n{statement}\n{listing}"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import tunebook.sessions, tunebook.sessions.report", {"torch", "textual"}),
        ("import tunebook.core", {"textual", "textual_plotext"}),
        ("import tunebook.tui.cli", {"torch", "textual"}),
        # the runner only schedules and writes; torch loads in the worker processes
        ("import tunebook.core.execution.runner", {"torch", "textual"}),
        # a probe's plans and analysis (what the app's probe screens call) need no torch
        ("import tunebook.core.project_start.registry", {"torch", "textual"}),
        # a review reads rows only: as quick to start as `status`
        (
            "from tunebook.tui.cli.review_commands import review_document\n"
            "import tunebook.core.analysis.checklist, tunebook.core.analysis.plots\n"
            "import tunebook.core.analysis.ranking",
            {"torch", "textual"},
        ),
        # the app starts without torch: every screen (the keymap check lists them all)
        (
            "from tunebook.tui.screens import screen_classes; screen_classes()",
            {"torch"},
        ),
    ],
)
def test_layer_does_not_load(statement: str, forbidden: set[str]) -> None:
    assert not loaded_modules(statement) & forbidden


def test_sessions_and_core_never_import_upwards() -> None:
    """A static check too: no import of an upper layer anywhere in a lower one's source."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    rules = {
        "sessions": r"^\s*(import|from)\s+(torch|textual|textual_plotext|tunebook\.(core|tui))\b",
        "core": r"^\s*(import|from)\s+(textual|textual_plotext|tunebook\.tui)\b",
    }
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for layer, pattern in rules.items()
        for path in (root / layer).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(pattern, line)
    ]
    assert offenders == []


def test_status_and_export_never_load_torch_or_textual(tmp_path) -> None:
    """`tunebook status` must be instant: it runs on the sessions layer alone."""
    from tests.filled_session import fill_session

    path = fill_session(tmp_path / "s.tunebook")
    statement = (
        "import contextlib, io\n"
        "from tunebook.tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['status', {str(path)!r}, '--json']) == 0\n"
        f"    assert main(['status', {str(path)!r}]) == 0\n"
        f"    assert main(['export', {str(path)!r}, '--format', 'csv']) == 0"
    )
    assert not loaded_modules(statement) & {"torch", "textual"}
