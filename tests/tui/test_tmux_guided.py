"""The guided path in a real terminal: `tunebook demo` in tmux at 80×24, walked by key
presses alone, the way a person over SSH does, from the model decision to the next round.

Every measurement is the app's own: `p` starts each probe in a detached runner with the
options a user gets, `n` starts each run, `p` on the adoption screen the seed runs, `t`
the final test. The only typing beyond single keys is what a person types into the
designer (2 trials per study, 100 steps, to keep the trials short), the exploitation's
trial count and the notes. Each stage's stored result is read from the session file.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import warm_settings
from tests.execution.conftest import wait_for
from tests.tui.test_tmux import Terminal
from tunebook.core.execution.control import live_runner
from tunebook.core.project_start.registry import probe_plan
from tunebook.core.session_map import PROBE_NAMES, StageAction, session_map
from tunebook.sessions import DecisionKind, ExperimentStatus, ProbeKind, Session
from tunebook.sessions.records import process_exists
from tunebook.sessions.report import final_test
from tunebook.tui.screens.designer import SETTING_HELP

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

PROBE_WAIT = 120.0  # seconds: a default probe on a loaded 2-core machine
RUN_WAIT = 120.0  # seconds: a run of a few 100-step trials, or a seed comparison


def words(text: str, count: int) -> str:
    """A pattern for the first `count` words of `text`, wherever the screen wraps them."""
    return r"\s+".join(re.escape(word) for word in text.split()[:count])


def move_to(terminal: Terminal, pattern: str, limit: int = 40) -> None:
    """Move the designer's cursor down, then up, until its hint shows `pattern`: a row is
    reached by what it says rather than by a count of key presses, which a loaded machine
    may deliver before the table has the focus."""
    for key, pause in (("Down", 0.3), ("Up", 0.8)):
        for _ in range(limit):
            if re.search(pattern, terminal.screen()):
                return
            terminal.keys(key)
            time.sleep(pause)
    raise AssertionError(f"no designer row's hint shows {pattern!r}:\n{terminal.screen()}")


def editing(terminal: Terminal) -> bool:
    """The designer's field is open: its footer offers saving and going back, not the
    row keys (at 80×24 the field's own hint is below the fold)."""
    footer = terminal.screen().rstrip().splitlines()[-1]
    return "^s Save" in footer and "e Edit" not in footer


def type_setting(terminal: Terminal, name: str, value: str, shown: str, tries: int = 5) -> None:
    """Open the designer's field on setting `name`, type `value` and keep it, until the table
    shows `shown`. Typing waits until the screen shows the field open: on a loaded machine
    an enter can open it after the next keys have gone to the table."""
    for _ in range(tries):
        if not editing(terminal):
            move_to(terminal, words(SETTING_HELP[name], 5))
            terminal.keys("Enter")
            if not wait_quietly(lambda: editing(terminal), 10):
                continue
        terminal.keys("C-u")
        terminal.keys(value)
        terminal.keys("Enter")  # the table shows the value once it is kept
        if wait_quietly(lambda: not editing(terminal) and re.search(shown, terminal.screen()), 10):
            return
    raise AssertionError(f"{name} = {value} never showed as {shown!r}:\n{terminal.screen()}")


def read(path: Path, what: Callable[[Session], Any]) -> Any:
    with Session.open(path, read_only=True) as session:
        return what(session)


def until(terminal: Terminal, key: str, done: Callable[[], Any], timeout: float, what: str) -> Any:
    """Press `key` until `done()` holds (a key pressed before the screen has caught up with
    the file does nothing, so a person presses it again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        terminal.keys(key)
        try:
            return wait_for(done, 3, what)
        except AssertionError:
            continue
    raise AssertionError(f"timed out after {timeout:.0f} s pressing {key!r} for {what}")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    """`tunebook demo PATH` in an 80×24 tmux window; any runner left is killed at the end."""
    path = tmp_path / "demo.tunebook"
    env = {
        "TEXTUAL_ANIMATIONS": "none",
        "TUNEBOOK_STATE_DIR": str(tmp_path / "state"),
        "TUNEBOOK_CONFIG_DIR": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        **warm_settings(),
    }
    command = [sys.executable, "-m", "tunebook.tui.cli", "demo", str(path)]
    terminal = Terminal(f"tunebook-guided-{os.getpid()}", command, env, tmp_path, (80, 24))
    try:
        yield terminal, path
    finally:
        terminal.kill()
        runner = live_runner(path) if path.exists() else None
        if runner is not None and process_exists(runner.pid):
            os.kill(runner.pid, 9)


def decide(terminal: Terminal, path: Path, kind: DecisionKind, timeout: float = 60) -> Any:
    return until(terminal, "d", lambda: read(path, lambda s: s.decision(kind)), timeout, kind)


def measured(path: Path, kind: DecisionKind) -> bool:
    """The probe of the stage `kind` completed and its runner gone."""
    stage = read(path, lambda s: session_map(s))
    return not stage.runner_alive and "measured" in stage.stage(kind.value).summary


def wait_quietly(condition: Callable[[], Any], timeout: float) -> bool:
    """Whether `condition` holds within `timeout` seconds."""
    try:
        wait_for(condition, timeout, "")
    except AssertionError:
        return False
    return True


def wait_for_text_quietly(terminal: Terminal, pattern: str, timeout: float) -> bool:
    """Whether `pattern` shows within `timeout` seconds."""
    return wait_quietly(lambda: re.search(pattern, terminal.screen()), timeout)


def note_open(terminal: Terminal) -> bool:
    """The note dialog is up (its buttons, or its field's placeholder)."""
    screen = terminal.screen()
    return "Cancel (esc)" in screen or "in your words" in screen


def write_note(terminal: Terminal) -> None:
    wait_for(lambda: note_open(terminal), 30, "the note dialog")
    terminal.keys("as reviewed")
    terminal.keys("Enter")


def run_and_conclude(terminal: Terminal, path: Path, name: str) -> None:
    """`n` runs the experiment's trials; `n` opens its review; `c` and a note conclude it."""

    def stage_action() -> StageAction:
        return read(path, lambda s: session_map(s).stage(f"experiment:{name}").action)

    until(
        terminal,
        "n",
        lambda: live_runner(path) is not None or stage_action() is StageAction.REVIEW,
        30,
        f"the run of '{name}' to start",
    )
    wait_for(lambda: stage_action() is StageAction.REVIEW, RUN_WAIT, f"the trials of '{name}'")
    # a conclusion waits for the runner to exit (it is the file's writer until then)
    terminal.wait_for_text(r"○ no runner|no runner", 60)
    wait_for(lambda: live_runner(path) is None, 60, "the runner to exit")
    until(terminal, "n", lambda: "checklist" in terminal.screen().lower(), 30, "the review")
    until(terminal, "c", lambda: note_open(terminal), 30, "the note")
    write_note(terminal)
    wait_for(
        lambda: read(path, lambda s: s.experiment(name).status) is ExperimentStatus.CONCLUDED,
        30,
        f"the conclusion of '{name}'",
    )


def adopt(terminal: Terminal, path: Path) -> None:
    """`n` opens the adoption; `p` measures the seeds; `r` and a note record the launch."""
    stage = read(path, lambda s: session_map(s).next)
    assert stage.action is StageAction.ADOPT
    launches = len(read(path, lambda s: s.launches()))
    until(terminal, "n", lambda: f"adopt trial {stage.trial}" in terminal.screen(), 30, "adopt")
    terminal.keys("p")

    def seeds_measured() -> bool:
        probes = read(path, lambda s: s.probes(ProbeKind.SEED_VARIANCE))
        done = [p for p in probes if p.config["candidate"]["trial"] == stage.trial]
        return bool(done) and done[-1].status == "completed" and live_runner(path) is None

    wait_for(seeds_measured, RUN_WAIT, "the seed runs")
    until(terminal, "r", lambda: note_open(terminal), 30, "the note")
    write_note(terminal)
    wait_for(lambda: len(read(path, lambda s: s.launches())) > launches, 30, "the launch")


@pytest.mark.slow
@pytest.mark.timeout(480)  # about two minutes alone; the suite runs beside it
def test_the_guided_path_by_key_presses_at_80x24(demo: tuple[Terminal, Path]) -> None:
    terminal, path = demo
    terminal.wait_for_text(r"→ next\s+Model", 60)
    until(terminal, "n", lambda: "model (PB-1" in terminal.screen(), 30, "the model step")
    decide(terminal, path, DecisionKind.MODEL)
    until(terminal, "n", lambda: "optimizer (PB-2)" in terminal.screen(), 30, "the optimizer step")
    decide(terminal, path, DecisionKind.OPTIMIZER)
    for kind in (
        DecisionKind.BATCH_SIZE,
        DecisionKind.INITIAL_CONFIG,
        DecisionKind.MAX_TRAIN_STEPS,
        DecisionKind.STABILITY,
    ):
        title = probe_plan(PROBE_NAMES[kind]).title
        until(terminal, "n", lambda t=title: f"{t} (PB" in terminal.screen(), 30, title)
        until(
            terminal,
            "p",
            lambda k=kind: live_runner(path) is not None or measured(path, k),
            30,
            f"the {kind.value} probe to start",
        )
        wait_for(lambda k=kind: measured(path, k), PROBE_WAIT, f"the {kind.value} probe")
        decide(terminal, path, kind)

    # The designer, pre-filled: fewer, shorter trials typed in, then ctrl+s.
    until(terminal, "n", lambda: "narrow goals" in terminal.screen(), 30, "the designer")
    terminal.wait_for_text(r"Does a larger width", 30)
    for name, value, shown in (
        ("trials", "2", r"trials per study\s+search\s+2\b"),
        ("max_train_steps", "100", r"max_train_steps\s+budget\s+100\b"),
    ):
        type_setting(terminal, name, value, shown)
    # saving waits for the check of the last edit: a press before it is refused
    added = until(terminal, "C-s", lambda: read(path, lambda s: s.experiments()), 90, "added")
    assert [(e.name, e.max_train_steps) for e in added] == [("width", 100)]
    assert added[0].design["search"]["trials"] == 2
    terminal.wait_for_text(r"(?i)added", 30)
    terminal.keys("Enter")

    run_and_conclude(terminal, path, "width")
    adopt(terminal, path)

    # Exploitation: 2 trials typed into its field, stored, run, concluded, adopted.
    until(terminal, "n", lambda: "exploitation of width" in terminal.screen(), 30, "exploit")
    terminal.wait_for_text(r"hyperparameter\s+exploration", 30)  # the plan is read

    typed = r"trials\s+▊\s*2\s*▎"
    for _ in range(5):  # retype until the field shows it, as a person would
        terminal.keys("C-u")
        terminal.keys("2")
        if wait_for_text_quietly(terminal, typed, 3):
            break
    terminal.keys("Enter")  # stores through a child `tunebook exploit`: slow on a busy machine
    try:
        wait_for(
            lambda: "width-exploit" in [e.name for e in read(path, lambda s: s.experiments())],
            120,
            "the exploitation study",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen:\n{terminal.screen()}") from None
    run_and_conclude(terminal, path, "width-exploit")
    adopt(terminal, path)

    # The final test, once.
    until(terminal, "n", lambda: "final test (PB-18)" in terminal.screen(), 30, "final test")
    until(terminal, "t", lambda: "Cancel (n)" in terminal.screen(), 30, "the confirmation")
    terminal.keys("y")
    tested = wait_for(lambda: read(path, final_test), RUN_WAIT, "the final test")
    assert tested["trial"] == read(path, lambda s: s.launches())[-1].trial_id
    until(terminal, "n", lambda: "narrow goals" in terminal.screen(), 60, "the next round")
