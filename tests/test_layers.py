"""The layers point one way: tui → core → sessions (DESIGN.md). Checked in fresh interpreters."""

from __future__ import annotations

import json
import os
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


def test_reading_results_through_the_python_api_never_loads_torch(tmp_path) -> None:
    """A script that reads results (the README's `results`, `trials`, `curves`) starts as
    fast as `status`: issue 13 measured 2.8 s against 0.3 s when the API imported torch."""
    from tests.filled_session import fill_session

    path = fill_session(tmp_path / "s.tunebook")
    statement = (
        "from tunebook.core import api\n"
        f"assert api.results({str(path)!r})\n"
        f"trials = api.trials({str(path)!r})\n"
        "assert trials\n"
        f"assert api.curves({str(path)!r}, trials[0].id)"
    )
    assert not loaded_modules(statement) & {"torch", "textual"}


def test_new_and_experiment_add_never_load_torch_dynamo(tmp_path) -> None:
    """`new` and `experiment add` check the workload and every optimizer value without
    building a torch optimizer, whose first construction imports torch._dynamo (about a
    second of each command's start-up; issue 13)."""
    path = tmp_path / "s.tunebook"
    spec = {
        "name": "lr",
        "goal": "Which learning rate?",
        "max_train_steps": 10,
        "fixed": {"optimizer": "adam"},
        "nuisance": {"learning_rate": {"low": 1e-4, "high": 1e-1, "scale": "log"}},
        "search": {"trials": 2},
    }
    code = (
        "import sys\n"
        "from tunebook.core import api\n"
        f"api.create_session({str(path)!r}, 'tabular')\n"
        f"api.add_experiment({str(path)!r}, {spec!r})\n"
        "print(sorted(m for m in ('torch', 'torch._dynamo') if m in sys.modules))"
    )
    # the warm server off: the checks run in this process (with a server, in one it forks)
    env = {**os.environ, "TUNEBOOK_WARM_SECONDS": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    assert out.stdout.strip().splitlines()[-1] == "['torch']"  # torch itself: the checks train
