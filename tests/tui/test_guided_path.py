"""The guided path end to end in the app (issue 12): from an empty demo session, `n` alone
leads through model → optimizer → batch size → initial configuration → training length →
stability → the first experiment (the designer, pre-filled) → run → review and conclude →
adopt → exploitation → run → conclude → adopt → final test → the next round.

The measurements run with the inline executor and tiny options, in this process, the way a
runner stores them (the app's `p` starts the same probes detached; the probe screens' tests
cover that); the runs, decisions, designs, conclusions, launches, the exploitation study
and the final test go through the app's own keys, its child `tunebook` processes and its
detached runners. Each stage's stored decision or result is asserted as it lands.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    private_user_files,
)
from tests.tui.pilot import wait_for
from tunebook.core.demo import prepare_demo
from tunebook.core.design.roles import Role
from tunebook.core.project_start.registry import probe_plan
from tunebook.core.project_start.runner import ProbeRunner
from tunebook.core.session_map import StageAction, session_map
from tunebook.sessions import DecisionKind, ExperimentStatus, Session, TrialStatus
from tunebook.sessions.report import final_test
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.adoption import AdoptionScreen
from tunebook.tui.screens.confirm import ConfirmScreen
from tunebook.tui.screens.designer import AddedScreen, DesignerScreen
from tunebook.tui.screens.exploitation import ExploitationScreen
from tunebook.tui.screens.final_test import FinalTestScreen
from tunebook.tui.screens.project_start import PROJECT_SCREENS
from tunebook.tui.screens.review import NoteScreen, ReviewScreen
from tunebook.tui.screens.run_monitor import RunMonitorScreen
from tunebook.tui.screens.session_map import SessionMapScreen

CHILD_WAIT = 40.0  # seconds: a child `tunebook` process imports torch
RUN_WAIT = 90.0  # seconds: a detached runner trains a handful of tiny trials

#: The measuring steps: (stage, probe, tiny options).
MEASURED = (
    ("batch_size", "batch-size", {"min_steps": 3, "min_seconds": 0.01, "max_size": 64}),
    ("initial_config", "initial-config", {"steps": 20}),
    ("max_train_steps", "training-length", {"steps": 20}),
    ("stability", "stability", {"steps": 20}),
)


def read(path: Path, what: Any) -> Any:
    with Session.open(path, read_only=True) as session:
        return what(session)


def next_key(path: Path) -> str | None:
    stage = read(path, lambda s: session_map(s).next)
    return None if stage is None else stage.key


async def take_next(pilot: Pilot, screen_class: type, what: str, timeout: float = 15.0) -> Any:
    """Press `n` (from whatever screen is up) and wait for the step's screen; a failure
    names the screen that was up instead."""
    app = pilot.app
    await pilot.press("n")
    try:
        return await wait_for(
            pilot, lambda: isinstance(app.screen, screen_class) and app.screen, timeout, what
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen up: {type(app.screen).__name__}") from None


async def decide(pilot: Pilot, path: Path, kind: DecisionKind) -> Any:
    """`d` records the shown value through the child; the stored decision."""
    await pilot.press("d")
    return await wait_for(
        pilot,
        lambda: read(path, lambda s: s.decision(kind)),
        CHILD_WAIT,
        f"the {kind.value} decision",
    )


async def run_to_the_end(pilot: Pilot, path: Path, experiment: str) -> None:
    """`n` starts the pending trials in a detached runner (a child process, which a busy
    machine may take a while to start) and opens the monitor."""
    await take_next(pilot, RunMonitorScreen, f"the monitor of '{experiment}'", CHILD_WAIT)

    def reviewable() -> bool:  # every trial finished and the runner gone
        stage = read(path, lambda s: session_map(s).stage(f"experiment:{experiment}"))
        return stage.action is StageAction.REVIEW

    await wait_for(pilot, reviewable, RUN_WAIT, f"the trials of '{experiment}'")


async def conclude(pilot: Pilot, path: Path, experiment: str) -> None:
    """`n` opens the review; `c`, a note and enter conclude it."""
    review = await take_next(pilot, ReviewScreen, f"the review of '{experiment}'")
    await wait_for(pilot, lambda: review.review is not None, 20, "the review")
    await pilot.press("c")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, NoteScreen), what="the note")
    await pilot.press(*"as reviewed", "enter")
    await wait_for(
        pilot,
        lambda: read(path, lambda s: s.experiment(experiment).status) is ExperimentStatus.CONCLUDED,
        20,
        f"the conclusion of '{experiment}'",
    )


async def adopt(pilot: Pilot, path: Path) -> int:
    """`n` opens the adoption of the recommended trial; its seed runs are measured inline;
    `r` and enter record the launch. The adopted trial."""
    stage = read(path, lambda s: session_map(s).next)
    assert stage.key == "launches" and stage.trial is not None
    screen = await take_next(pilot, AdoptionScreen, "the adoption")
    assert screen.trial_id == stage.trial
    options = {"trial": stage.trial, "seeds": 2}
    await asyncio.to_thread(ProbeRunner(path, "seed-variance", options, executor="inline").run)
    await wait_for(pilot, lambda: pilot.app.screen.check_action("record", ()), 20, "the probe")
    launches = len(read(path, lambda s: s.launches()))
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, NoteScreen), what="the note")
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: len(read(path, lambda s: s.launches())) > launches, 20, "the launch"
    )
    return stage.trial


@pytest.mark.slow
async def test_n_walks_the_guided_path_from_an_empty_session_to_the_next_round(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo.tunebook"
    prepare_demo(path, with_study=False)  # what `tunebook demo` opens in a terminal
    app = TunebookApp(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, SessionMapScreen) and app.screen.stage_map,
            what="the map",
        )
        # Model and optimizer: the shown values, recorded.
        await take_next(pilot, PROJECT_SCREENS["model"], "the model step")
        await wait_for(pilot, lambda: app.screen.view, what="the model step's data")
        model = await decide(pilot, path, DecisionKind.MODEL)
        assert model.value["width"] == 64
        await take_next(pilot, PROJECT_SCREENS["optimizer"], "the optimizer step")
        await wait_for(pilot, lambda: app.screen.view, what="the optimizer step's data")
        assert (await decide(pilot, path, DecisionKind.OPTIMIZER)).value["name"] == "adam"

        # The measured steps: the probe's recommendation, recorded.
        for stage, probe, options in MEASURED:
            screen = await take_next(pilot, PROJECT_SCREENS[stage], f"the {stage} step")
            await asyncio.to_thread(ProbeRunner(path, probe, options, executor="inline").run)
            await wait_for(pilot, screen.recommendation, 20, f"the {probe} recommendation")
            plan = probe_plan(probe)
            decision = await decide(pilot, path, plan.decision)
            measured = read(path, lambda s, kind=plan.kind: s.latest_probe(kind))
            assert decision.value == measured.summary["recommendation"]["value"]
        steps = read(path, lambda s: s.decision(DecisionKind.MAX_TRAIN_STEPS).value)

        # The first experiment: the designer's suggestion, fewer trials, saved.
        designer = await take_next(pilot, DesignerScreen, "the designer")
        await wait_for(pilot, lambda: designer.live is not None, 30, "the designer's check")
        table = designer.query_one("#designer-table", DataTable)
        table.focus()
        table.move_cursor(row=designer.row_keys().index("setting:trials"))
        await pilot.press("enter")
        edit = designer.query_one("#designer-edit", Input)
        edit.value = "3"
        await pilot.press("enter")
        await wait_for(pilot, lambda: designer.draft.search["trials"] == 3, what="3 trials")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, AddedScreen), CHILD_WAIT, "added")
        await pilot.press("enter")
        first = read(path, lambda s: s.experiments())
        assert [(e.name, e.max_train_steps) for e in first] == [("width", steps)]
        assert first[0].design["scientific"] == {"width": [64, 128]}
        assert "learning_rate" in first[0].design["nuisance"]
        assert next(r for r in designer.draft.hparams if r.name == "width").role is (
            Role.SCIENTIFIC
        )

        # Run, review and conclude, adopt.
        await run_to_the_end(pilot, path, "width")
        statuses = {t.status for t in read(path, lambda s: s.trials())}
        assert statuses == {TrialStatus.COMPLETED} and len(read(path, lambda s: s.trials())) == 6
        await conclude(pilot, path, "width")
        adopted = await adopt(pilot, path)
        launch = read(path, lambda s: s.launches())[-1]
        assert launch.trial_id == adopted

        # Exploitation: its Bayesian study, 4 trials, stored, run, concluded, adopted.
        exploit = await take_next(pilot, ExploitationScreen, "the exploitation")
        await wait_for(pilot, lambda: exploit.view and exploit.view.plan, 20, "the plan")
        trials = exploit.query_one("#exploit-trials", Input)
        trials.value = "4"
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: not isinstance(app.screen, ExploitationScreen), CHILD_WAIT, "stored"
        )
        design = read(path, lambda s: s.experiment("width-exploit").design)
        assert design["search"]["algorithm"] == "bayesian" and design["search"]["trials"] == 4
        await run_to_the_end(pilot, path, "width-exploit")
        await conclude(pilot, path, "width-exploit")
        await adopt(pilot, path)

        # The final test, once; then the next round opens the designer from the last one.
        screen = await take_next(pilot, FinalTestScreen, "the final test")
        await wait_for(pilot, lambda: screen.view is not None, 20, "the final test's data")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        tested = await wait_for(pilot, lambda: read(path, final_test), RUN_WAIT, "the test")
        assert tested["trial"] == read(path, lambda s: s.launches())[-1].trial_id
        await wait_for(pilot, lambda: not app.runner_alive, 20, "the runner to exit")
        assert next_key(path) == "next_round"
        await take_next(pilot, DesignerScreen, "the next round's designer")
        await wait_for(pilot, lambda: app.screen.draft is not None, 30, "the copied design")
        assert app.screen.from_experiment == "width-exploit"
