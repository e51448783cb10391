"""The model and optimizer screens (PB-1, PB-2, PB-4), driven through Textual's pilot on real
session files: values edited and checked, decisions recorded through `tunebook decide` in a
child process, later decisions marked stale; and their snapshots at 80×24 and 120×40."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.tui.pilot import wait_for
from tests.tui.test_snapshots import settle
from tunebook.sessions import DecisionKind, Session
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.project_start.model import ModelScreen
from tunebook.tui.screens.project_start.optimizer import OptimizerScreen
from tunebook.tui.screens.session_map import SessionMapScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
DECIDE_WAIT = 20.0  # seconds: the `tunebook decide` child imports torch


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One new tabular session, made once and copied by each test."""
    path = tmp_path_factory.mktemp("template") / "s.tunebook"
    Session.create(path, "tabular", {}).close()
    return path


@pytest.fixture(autouse=True)
def fixed_surroundings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A private working folder and user files (snapshots open sessions by relative path)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", "state")
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", "config")
    yield


@pytest.fixture
def session(template: Path) -> Path:
    """A fresh copy of the template session, by a relative path."""
    return Path(shutil.copy(template, "s.tunebook"))


def notes_of(app: TunebookApp) -> list[str]:
    """Record every notification the app shows (returned list grows as they come)."""
    notes: list[str] = []
    notify = app.notify

    def recording(message: str, **kwargs: Any) -> None:
        notes.append(message)
        notify(message, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return notes


def decision_value(path: Path, kind: DecisionKind) -> Any:
    """The decision of `kind` in the file now (None when there is none)."""
    with Session.open(path, read_only=True) as session:
        decision = session.decision(kind)
    return None if decision is None else decision.value


def decision_stale(path: Path, kind: DecisionKind) -> bool:
    """Whether the decision of `kind` is marked stale now."""
    with Session.open(path, read_only=True) as session:
        decision = session.decision(kind)
    return decision is not None and decision.stale


def loaded(app: TunebookApp, screen_class: type) -> Callable[[], bool]:
    """A condition: `screen_class` is on top and has read the session."""
    return lambda: isinstance(app.screen, screen_class) and app.screen.view is not None


def static_text(app: TunebookApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def table_rows(app: TunebookApp, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def type_value(pilot: Pilot, text: str) -> None:
    """Replace the edit field's text with `text` and press enter."""
    pilot.app.screen.query_one("#model-edit", Input).value = ""
    await pilot.press(*text, "enter")


# -- the model screen ---------------------------------------------------------------------------


async def test_model_refuses_a_bad_value_and_records_the_chosen_ones(session: Path) -> None:
    app = TunebookApp(session)
    notes = notes_of(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
        await wait_for(pilot, lambda: app.screen.stage_map is not None, what="the stages")
        await pilot.press("n")  # the model is the recommended step of a new session
        await wait_for(pilot, loaded(app, ModelScreen), what="the model screen")
        screen = app.screen
        assert "not decided yet" in static_text(app, "#model-decision")
        assert "smallest sensible member" in static_text(app, "#model-advice")
        names = [row[0] for row in table_rows(app, "#model-table")]
        assert names[:3] == ["width", "depth", "activation"]

        await pilot.press("down", "enter")  # depth: a number, typed
        assert screen.editing == "depth"
        await type_value(pilot, "2.5")
        assert "must be an integer" in static_text(app, "#model-error")
        assert screen.editing == "depth" and "depth" not in screen.edits
        await pilot.press("d")  # typed into the field, not a decision
        await type_value(pilot, "wide")
        assert "must be a number" in static_text(app, "#model-error")
        await pilot.press("escape")  # cancels the edit, keeps the screen
        assert screen.editing is None and isinstance(app.screen, ModelScreen)

        await pilot.press("up", "e")
        await type_value(pilot, "128")
        assert screen.edits == {"width": 128}
        await pilot.press("down", "down", "e")  # activation cycles relu → gelu
        assert screen.edits["activation"] == "gelu"
        assert "width 64 → 128" in static_text(app, "#model-hint")

        await pilot.press("d")
        value = await wait_for(
            pilot, lambda: decision_value(session, DecisionKind.MODEL), DECIDE_WAIT, "decision"
        )
        assert value == {
            "width": 128,
            "depth": 2,
            "activation": "gelu",
            "dropout": 0.0,
            "norm": "none",
            "virtual_batch_size": 0,
        }
        await wait_for(
            pilot, lambda: any(n.startswith("decided model") for n in notes), what="the notice"
        )
        assert screen.edits == {}
        await wait_for(
            pilot, lambda: "decided" in static_text(app, "#model-decision"), what="reload"
        )


async def test_read_only_sessions_refuse_decisions(session: Path) -> None:
    app = TunebookApp(session, read_only=True)
    notes = notes_of(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
        app.show_project_step("model")
        await wait_for(pilot, loaded(app, ModelScreen), what="the model screen")
        await pilot.press("d")
        assert any(n.startswith("cannot record the model") and "read-only" in n for n in notes)
        assert not app.screen.deciding

        await pilot.press("escape")
        app.show_project_step("optimizer")
        await wait_for(pilot, loaded(app, OptimizerScreen), what="the optimizer screen")
        screen = app.screen
        assert screen.selected().name == "adam"  # the suggestion, as nothing is decided
        assert "most popular" in static_text(app, "#optimizer-status")
        frozen = {row[1]: row[0] for row in table_rows(app, "#optimizer-hparams")}
        assert frozen["learning_rate"] == "tuned"  # the suggestion's frozen, pre-toggled
        assert frozen["beta2"].endswith("yes") and frozen["one_minus_beta1"] == "□"
        await pilot.press("d")
        assert any(n.startswith("cannot record the optimizer") for n in notes)
    assert decision_value(session, DecisionKind.MODEL) is None
    assert decision_value(session, DecisionKind.OPTIMIZER) is None


# -- the optimizer screen -----------------------------------------------------------------------


async def test_another_optimizer_is_recorded_and_marks_the_batch_size_stale(
    session: Path,
) -> None:
    from tunebook.core.experiments import session_workload
    from tunebook.core.project_start.decisions import decide
    from tunebook.core.project_start.optimizer import decide_optimizer

    with Session.open(session) as opened:
        workload = session_workload(opened)
        decide_optimizer(opened, workload, "adam")
        decide(opened, workload, DecisionKind.BATCH_SIZE, 64, "measured")
    app = TunebookApp(session)
    notes = notes_of(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
        app.show_project_step("optimizer")
        await wait_for(pilot, loaded(app, OptimizerScreen), what="the optimizer screen")
        screen = app.screen
        assert "decided: adam" in static_text(app, "#optimizer-status")
        assert screen.selected().name == "adam"

        await pilot.press("up", "up", "up")
        assert screen.selected().name == "sgd"
        assert "update rule" in static_text(app, "#optimizer-info")
        assert "Deciding sgd marks stale: batch size" in static_text(app, "#optimizer-note")
        await pilot.press("tab", "f")  # the learning rate is always tuned
        assert any("cannot be frozen" in n for n in notes)
        await pilot.press("down", "f")  # weight_decay
        assert "sgd, frozen: weight_decay" in static_text(app, "#optimizer-note")

        await pilot.press("d")
        await wait_for(
            pilot,
            lambda: decision_stale(session, DecisionKind.BATCH_SIZE),
            DECIDE_WAIT,
            "the batch size marked stale",
        )
        value = decision_value(session, DecisionKind.OPTIMIZER)
        assert value["name"] == "sgd" and value["frozen"] == ["weight_decay"]
        await wait_for(
            pilot, lambda: "decided: sgd" in static_text(app, "#optimizer-status"), what="reload"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")

        def batch_size_state() -> str:
            rows = table_rows(app, "#stages")
            return next((r[0] for r in rows if r[1] == "Batch size"), "")

        await wait_for(pilot, lambda: batch_size_state() == "! stale", what="stale on the map")


# -- snapshots ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("key", ["model", "optimizer"])
def test_snapshot(snap_compare, session: Path, key: str, size: tuple[int, int]) -> None:
    screen_class = ModelScreen if key == "model" else OptimizerScreen

    async def run_before(pilot: Pilot) -> None:
        app: TunebookApp = pilot.app  # type: ignore[assignment]
        await settle(pilot, lambda: isinstance(app.screen, SessionMapScreen))
        app.show_project_step(key)
        await settle(pilot, loaded(app, screen_class))

    assert snap_compare(TunebookApp(session), terminal_size=size, run_before=run_before)
