"""The experiment designer (issue 12), driven through Textual's pilot on a real tabular
session: a hyperparameter classified, a range made invalid (the error shows, with
`experiment add`'s words, and saving is refused), fixed, saved through a `tunebook
experiment add` child; the stored experiment is the one the CLI makes from the written
TOML; a spec added by the CLI opens in the designer and saves as the same design; and
snapshots at 80×24 and 120×40."""

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
from tunebook.core.design import Role, SpecError, design_from_dict
from tunebook.core.design.spec_toml import spec_to_toml
from tunebook.core.experiments import add_experiment_from_spec
from tunebook.sessions import DecisionKind, Session
from tunebook.tui.app import TunebookApp
from tunebook.tui.cli import main as cli
from tunebook.tui.screens.designer import AddedScreen, DesignerScreen
from tunebook.tui.screens.experiments import ExperimentsScreen
from tunebook.tui.screens.session_map import SessionMapScreen

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
ADD_WAIT = 60.0  # seconds: the `tunebook experiment add` child imports torch and trains a step
CLI_SPEC = {
    "name": "depth",
    "goal": "Does a deeper MLP lower the error?",
    "fixed": {"optimizer": "adam", "width": 16},
    "scientific": {"depth": [1, 2]},
    "nuisance": {
        "learning_rate": {"low": 1e-3, "high": 1e-1, "scale": "log"},
        "when": {"depth": {"2": {"dropout": {"values": [0.0, 0.1]}}}},
    },
    "search": {"algorithm": "quasi-random", "trials": 4, "layout": "per-value", "seed": 3},
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tabular session with its decisions and one experiment added by the CLI."""
    folder = tmp_path_factory.mktemp("template")
    path = folder / "s.tunebook"
    with Session.create(path, "tabular", {}) as session:
        session.record_decision(
            DecisionKind.OPTIMIZER, {"name": "adam", "hparams": {}, "frozen": ["weight_decay"]}
        )
        session.record_decision(DecisionKind.BATCH_SIZE, 32)
        session.record_decision(
            DecisionKind.INITIAL_CONFIG, {"learning_rate": 0.003}, "", {"seconds_per_step": 0.002}
        )
        session.record_decision(DecisionKind.MAX_TRAIN_STEPS, 20)
    (folder / "depth.toml").write_text(spec_to_toml(CLI_SPEC), encoding="utf-8")
    assert cli(["experiment", "add", str(path), str(folder / "depth.toml")]) == 0
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


def designer(app: TunebookApp) -> DesignerScreen:
    screen = app.screen
    assert isinstance(screen, DesignerScreen)
    return screen


def checked(app: TunebookApp) -> Callable[[], bool]:
    """A condition: the designer is on top and has checked the draft as it is now."""

    def ready() -> bool:
        screen = app.screen
        return (
            isinstance(screen, DesignerScreen)
            and screen.live is not None
            and screen.live.generation == screen.generation
        )

    return ready


async def open_designer(pilot: Pilot, from_experiment: str | None = None) -> DesignerScreen:
    app: TunebookApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
    app.show_designer(from_experiment)
    await wait_for(pilot, checked(app), timeout=30, what="the designer's first check")
    return designer(app)


async def to_row(pilot: Pilot, screen: DesignerScreen, key: str) -> None:
    table = screen.query_one("#designer-table", DataTable)
    table.focus()
    table.move_cursor(row=screen.row_keys().index(key))
    await pilot.pause()


async def type_into(pilot: Pilot, selector: str, text: str, keys: bool = False) -> None:
    """Put `text` into a field: whole (as a paste does), or key by key."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = "" if keys else text
    if keys:
        await pilot.press(*text)
    await pilot.pause()


def stored(path: Path, name: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """An experiment's design (its source left out) and its studies' plans."""
    with Session.open(path, read_only=True) as session:
        experiment = session.experiment(name)
        studies = [
            (s.name, s.search_space, s.algorithm, s.budget, s.seed, s.fixed)
            for s in session.studies(experiment.id)
        ]
    design = {k: v for k, v in experiment.design.items() if k != "source"}
    return design, studies


def spec_message(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as caught:
        design_from_dict(spec, "<designer>")
    return str(caught.value).removeprefix("<designer>: ")


async def test_classify_refuse_fix_and_save(session: Path, template: Path) -> None:
    app = TunebookApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_designer(pilot)
        await type_into(pilot, "#designer-name", "lr-width")
        await type_into(pilot, "#designer-goal", "Does a wider MLP lower the error?")
        await to_row(pilot, screen, "hparam:width")
        await pilot.press("r")
        assert screen.draft is not None and screen.draft.row("width").role is Role.SCIENTIFIC
        await to_row(pilot, screen, "hparam:learning_rate")
        await pilot.press("enter")
        await type_into(pilot, "#designer-edit", "0.1 .. 0.01 log", keys=True)
        await wait_for(pilot, checked(app), what="the check of the bad range")
        error = str(screen.query_one("#designer-error", Static).render())
        bad = {"name": "x", "goal": "x", "search": {"trials": 1}}
        bad["nuisance"] = {"learning_rate": {"low": 0.1, "high": 0.01, "scale": "log"}}
        assert spec_message(bad) in error
        await pilot.press("enter", "ctrl+s")
        await pilot.pause(0.2)
        assert not screen.written and isinstance(app.screen, DesignerScreen)  # refused
        await to_row(pilot, screen, "hparam:learning_rate")
        await pilot.press("enter")
        await type_into(pilot, "#designer-edit", "1e-3 .. 1e-1 log")
        await pilot.press("enter")
        await wait_for(pilot, checked(app), what="the check of the fixed range")
        assert screen.live is not None and screen.live.issues == ()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, AddedScreen), timeout=ADD_WAIT, what="added"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentsScreen), what="back")
    spec_path = Path("lr-width.toml")
    assert spec_path.exists()
    again = Path(shutil.copy(template, "again.tunebook"))
    with Session.open(again) as other:
        add_experiment_from_spec(other, spec_path)
    assert stored(session, "lr-width") == stored(again, "lr-width")
    design, studies = stored(session, "lr-width")
    assert design["scientific"] == {"width": [64, 128]} and len(studies) == 2
    assert design["nuisance"]["learning_rate"] == {
        "type": "float",
        "low": 1e-3,
        "high": 1e-1,
        "scale": "log",
    }


async def test_a_conditional_range_refused_fixed_and_saved(session: Path, template: Path) -> None:
    """PB-8: a nuisance dimension added under one scientific value, made invalid (the
    spec's words, saving refused), fixed and saved; the CLI makes the same experiment."""
    app = TunebookApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_designer(pilot)
        await type_into(pilot, "#designer-name", "deep-dropout")
        await type_into(pilot, "#designer-goal", "Does a deeper MLP lower the error?")
        await to_row(pilot, screen, "hparam:depth")
        await pilot.press("r", "enter")
        await type_into(pilot, "#designer-edit", "1, 2")
        await pilot.press("enter", "w")
        await type_into(pilot, "#designer-edit", "2: dropout")
        await pilot.press("enter")
        key = 'cond:["depth", "2", "dropout"]'
        assert screen.highlighted() == key
        assert screen.draft is not None
        assert screen.draft.conditional == {"depth": {"2": {"dropout": {"low": 0.0, "high": 0.5}}}}
        await pilot.press("enter")
        await type_into(pilot, "#designer-edit", "0.5 .. 0.1", keys=True)
        await wait_for(pilot, checked(app), what="the check of the bad conditional range")
        bad = {"name": "x", "goal": "x", "scientific": {"depth": [1, 2]}, "search": {"trials": 1}}
        bad["nuisance"] = {"when": {"depth": {"2": {"dropout": {"low": 0.5, "high": 0.1}}}}}
        assert spec_message(bad) in str(screen.query_one("#designer-error", Static).render())
        await pilot.press("enter", "ctrl+s")
        await pilot.pause(0.2)
        assert not screen.written and isinstance(app.screen, DesignerScreen)  # refused
        await to_row(pilot, screen, key)
        await pilot.press("enter")
        await type_into(pilot, "#designer-edit", "0.1 .. 0.3")
        await pilot.press("enter")
        await wait_for(pilot, checked(app), what="the check of the fixed range")
        assert screen.live is not None and screen.live.issues == ()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, AddedScreen), timeout=ADD_WAIT, what="added"
        )
    again = Path(shutil.copy(template, "again.tunebook"))
    with Session.open(again) as other:
        add_experiment_from_spec(other, Path("deep-dropout.toml"))
    assert stored(session, "deep-dropout") == stored(again, "deep-dropout")
    design, studies = stored(session, "deep-dropout")
    assert design["nuisance"]["when"] == {
        "depth": {"2": {"dropout": {"type": "float", "low": 0.1, "high": 0.3, "scale": "linear"}}}
    }
    assert len(studies) == 2


async def test_a_conditional_dimension_is_added_and_removed(session: Path) -> None:
    """`w` offers Nesterov's own momentum when the optimizer is scientific (PB-8), `x`
    removes it; the objective and the evaluation cadence are settings rows."""
    app = TunebookApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_designer(pilot)
        assert screen.draft is not None
        await to_row(pilot, screen, "hparam:optimizer")
        assert screen.check_action("add_conditional", ()) is False  # fixed: no value to hang on
        await pilot.press("r", "enter")
        await type_into(pilot, "#designer-edit", "adam, nesterov")
        await pilot.press("enter")
        assert screen.check_action("add_conditional", ()) is True
        await pilot.press("w")
        assert screen.query_one("#designer-edit", Input).value == "nesterov: momentum"
        await pilot.press("enter")
        assert screen.draft.conditional == {
            "optimizer": {"nesterov": {"momentum": {"low": 0.8, "high": 0.99}}}
        }
        cells = screen.query_one("#designer-table", DataTable).get_row_at(
            screen.query_one("#designer-table", DataTable).cursor_row
        )
        assert "when optimizer = nesterov: momentum" in cells[0].plain
        assert cells[2].plain == "0.8 .. 0.99"
        await pilot.press("x")
        assert screen.draft.conditional == {}
        assert screen.highlighted() == "hparam:optimizer"
        await to_row(pilot, screen, "setting:metric")
        await pilot.press("enter")
        assert screen.draft.objective == {"metric": "correct", "mode": "min"}
        await to_row(pilot, screen, "setting:mode")
        await pilot.press("enter")
        assert screen.draft.objective == {"metric": "correct", "mode": "max"}
        await to_row(pilot, screen, "setting:eval_every")
        await pilot.press("enter")
        await type_into(pilot, "#designer-edit", "50")
        await pilot.press("enter")
        await wait_for(pilot, checked(app), what="the check of eval_every")
        error = str(screen.query_one("#designer-error", Static).render())
        assert "eval_every (50) exceeds max_train_steps (20)" in error


async def test_a_cli_spec_opens_and_saves_as_the_same_design(session: Path) -> None:
    app = TunebookApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
        app.show_experiments()
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ExperimentsScreen) and app.screen.status is not None,
            what="the experiments",
        )
        app.screen.query_one(DataTable).move_cursor(row=0)
        await pilot.press("D")
        await wait_for(pilot, checked(app), timeout=30, what="the copied design")
        screen = designer(app)
        assert screen.draft is not None and (screen.draft.name, screen.draft.goal) == ("", "")
        assert 'cond:["depth", "2", "dropout"]' in screen.row_keys()
        await type_into(pilot, "#designer-name", "depth-2")
        await type_into(pilot, "#designer-goal", CLI_SPEC["goal"])
        await wait_for(pilot, checked(app), what="the check")
        assert screen.live is not None and screen.live.issues == ()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, AddedScreen), timeout=ADD_WAIT, what="added"
        )
    original, original_studies = stored(session, "depth")
    copied, copied_studies = stored(session, "depth-2")
    assert copied == {**original, "name": "depth-2"}
    assert copied_studies == original_studies


async def designed_with_warnings(pilot: Pilot) -> None:
    """Two scientific hyperparameters and 6 trials: PB-7's and PB-10's warnings."""
    screen = await open_designer(pilot)
    await type_into(pilot, "#designer-name", "shape")
    await type_into(pilot, "#designer-goal", "Which depth and activation?")
    for key in ("hparam:depth", "hparam:activation"):
        await to_row(pilot, screen, key)
        await pilot.press("r")
    await to_row(pilot, screen, "setting:trials")
    await pilot.press("enter")
    await type_into(pilot, "#designer-edit", "6")
    await pilot.press("enter")
    await to_row(pilot, screen, "hparam:depth")
    await settle(pilot, checked(pilot.app))  # type: ignore[arg-type]


async def chart_laid_out(pilot: Pilot) -> None:
    """Wait until the preview chart has kept one size for a few frames: plotext picks its
    ticks from the size it draws at, so a frame taken mid-layout could differ."""
    chart = pilot.app.screen.query_one("#designer-preview")
    sizes: list[object] = []
    for _ in range(100):
        await pilot.pause(0.05)
        sizes.append(chart.content_region.size)
        if len(sizes) >= 4 and len(set(sizes[-4:])) == 1 and chart.content_region.area:
            break
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot(snap_compare, template: Path, size: tuple[int, int]) -> None:
    shutil.copy(template, "s.tunebook")

    async def run_before(pilot: Pilot) -> None:
        await designed_with_warnings(pilot)
        if size[0] < 110:
            await pilot.press("p")  # the advice and the preview
        await chart_laid_out(pilot)

    app = TunebookApp(Path("s.tunebook"))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_snapshot_first_open(snap_compare, template: Path) -> None:
    shutil.copy(template, "s.tunebook")

    async def run_before(pilot: Pilot) -> None:
        await open_designer(pilot)
        await settle(pilot, checked(pilot.app))  # type: ignore[arg-type]

    app = TunebookApp(Path("s.tunebook"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_snapshot_conditional(snap_compare, template: Path) -> None:
    """A conditional nuisance row under its scientific one (PB-8), with its range's error."""
    shutil.copy(template, "s.tunebook")

    async def run_before(pilot: Pilot) -> None:
        screen = await open_designer(pilot)
        await to_row(pilot, screen, "hparam:depth")
        await pilot.press("r", "enter")
        await type_into(pilot, "#designer-edit", "1, 2")
        await pilot.press("enter", "w")
        await type_into(pilot, "#designer-edit", "2: dropout")
        await pilot.press("enter", "enter")
        await type_into(pilot, "#designer-edit", "0.5 .. 0.1")
        await pilot.press("enter")
        await settle(pilot, checked(pilot.app))  # type: ignore[arg-type]

    app = TunebookApp(Path("s.tunebook"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_a_load_that_finishes_late_keeps_what_the_user_typed(session: Path) -> None:
    """The session changing while the designer loads starts a second load; when it ends
    after the user began typing, the draft and the fields keep the user's edits (a name
    typed this way was once wiped: 'name is missing' at save, in CI under load)."""
    app = TunebookApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_designer(pilot)
        await type_into(pilot, "#designer-name", "deep-dropout")
        assert screen.draft is not None and screen.draft.name == "deep-dropout"
        draft = screen.draft
        await screen._load().wait()  # a second load of the unchanged session, to its end
        await pilot.pause()
        assert screen.draft is draft and draft.name == "deep-dropout"
        assert screen.query_one("#designer-name", Input).value == "deep-dropout"


async def test_the_palette_opens_the_designer(session: Path) -> None:
    app = TunebookApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
        await pilot.press("ctrl+p")
        await pilot.press(*"New experiment")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, checked(app), timeout=30, what="the designer")
