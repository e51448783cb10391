"""The adoption screen on real seed-variance probes (measured inline on a tiny tabular
session): `a` on the review opens the highlighted ranked trial or the study's best, the seed
runs and findings are the probe summary's (what `tunebook adopt` prints), the screen redraws
as the runner stores runs, `r` records the launch, and `p` starts the detached probe with
the contract of `tunebook probe seed-variance PATH --trial N --seeds N`."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.analysis.sessions import LR, finished
from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    notices,
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tests.tui.test_review_screen import column, open_review
from tunebook.core.analysis.adoption import launch_record
from tunebook.core.execution import control
from tunebook.core.project_start.runner import ProbeProgress, ProbeRunner
from tunebook.sessions import ProbeKind, Session, TrialStatus
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.adoption import AdoptionScreen
from tunebook.tui.screens.review import NoteScreen


def adoptable(path: Path) -> tuple[int, int]:
    """Two completed trials (learning rates 1e-2 and 3e-2, the second the best) and a
    diverged one, in a study of six-step trials: re-runs take milliseconds."""
    with Session.create(path, "tabular", {}) as session:
        experiment = session.add_experiment("lr", "Which learning rate?", {}, 6)
        layout = {"space": {"learning_rate": LR}, "scientific": {}, "sampled_scientific": []}
        study = session.add_study(
            experiment.id, "s", layout, "quasi-random", 3, 0, "error", "min", {"depth": 1}
        )
        first = finished(session, study.id, {"learning_rate": 1e-2}, best=0.4)
        second = finished(session, study.id, {"learning_rate": 3e-2}, best=0.35)
        finished(session, study.id, {"learning_rate": 0.09}, TrialStatus.INFEASIBLE)
    return first, second


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`measured`: the first trial's completed two-seed probe, no launch yet; `partial`: then
    launched, and the second trial's probe stopped after its first seed run."""
    folder = tmp_path_factory.mktemp("adoption")
    path = folder / "s.tunebook"
    first, second = adoptable(path)
    ProbeRunner(path, "seed-variance", {"trial": first, "seeds": 2}, executor="inline").run()
    measured = Path(shutil.copy(path, folder / "measured.tunebook"))
    with Session.open(path) as session:
        launch_record(session, session.latest_probe(ProbeKind.SEED_VARIANCE).id, "first")
    stop = threading.Event()

    def stop_after_one(progress: ProbeProgress) -> None:
        if progress.last is not None:
            stop.set()

    options = {"trial": second, "seeds": 2}
    runner = ProbeRunner(path, "seed-variance", options, executor="inline", stop=stop)
    runner.progress = stop_after_one
    assert runner.run().status == "stopped"
    return {"measured": measured, "partial": path}


@pytest.fixture
def copy(probed: dict[str, Path], tmp_path: Path):  # type: ignore[no-untyped-def]
    """A private copy of one of the probed sessions."""
    return lambda name: Path(shutil.copy(probed[name], tmp_path / f"{name}.tunebook"))


async def adoption(app: TunebookApp, pilot: Pilot) -> AdoptionScreen:
    """Wait until the adoption screen has read the session."""
    return await wait_for(
        pilot,
        lambda: isinstance(app.screen, AdoptionScreen) and app.screen.view and app.screen,
        what="the adoption screen",
    )


def text_of(screen: AdoptionScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def expected_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The seed runs as `tunebook adopt` prints them."""
    return [
        [
            f"{role} (trial {side['trial']})",
            str(r["seed"]),
            r["status"],
            f"{r['best_value']:.4g}",
            str(r["best_step"]),
        ]
        for role in ("candidate", "baseline")
        if (side := summary[role])
        for r in side["runs"]
    ]


def rows_of(screen: AdoptionScreen) -> list[list[str]]:
    table = screen.query_one("#seed-runs", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_on_the_ranking_adopts_the_highlighted_trial_and_r_records_it(copy) -> None:  # type: ignore[no-untyped-def]
    path = copy("measured")
    with Session.open(path, read_only=True) as session:
        probe = session.latest_probe(ProbeKind.SEED_VARIANCE)
    summary, first = probe.summary, probe.config["candidate"]["trial"]
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        review = await open_review(app, pilot)
        await pilot.press("6", "down")  # the second-best trial: the one measured
        assert column(review.query_one("#ranking-table", DataTable), 1)[1] == str(first)
        await pilot.press("a")
        screen = await adoption(app, pilot)
        assert screen.trial_id == first
        assert rows_of(screen) == expected_rows(summary)
        head, findings = text_of(screen, "#adopt-head"), text_of(screen, "#adopt-findings")
        assert "completed: 2 of 2 seed runs" in head and "baseline: none yet" in head
        side = summary["candidate"]
        assert f"candidate (trial {first}): error {side['mean']:.4g} ± {side['std']:.4g}" in (
            findings
        )
        assert "verdict: no baseline to beat: this is the first launch" in findings
        assert "rule: beyond the seed noise when Welch's p < 0.05 and the difference" in findings

        await pilot.press("r")
        note = await wait_for(pilot, lambda: isinstance(app.screen, NoteScreen) and app.screen)
        assert "no baseline to beat" in str(note.query_one("#note-body", Static).render())
        note.query_one("#note-input", Input).value = "the [b]first[/b] baseline"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, what="the adoption screen again")
        await wait_for(pilot, lambda: "recorded as launch 1" in text_of(screen, "#adopt-launch"))
        assert "the [b]first[/b] baseline" in text_of(screen, "#adopt-launch")
        assert "baseline: this trial, since launch 1" in text_of(screen, "#adopt-head")
        with Session.open(path, read_only=True) as session:
            (launch,) = session.launches()
        assert (launch.trial_id, launch.evidence["probe"]) == (first, probe.id)
        assert launch.evidence["verdict"] == summary["verdict"]
        await pilot.press("r")  # recorded: the key is disabled
        await pilot.pause(0.1)
        assert app.screen is screen


async def test_the_screen_redraws_as_the_probe_measures(copy) -> None:  # type: ignore[no-untyped-def]
    path = copy("partial")
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        await open_review(app, pilot)
        await pilot.press("a")  # not on the ranking: the study's best trial
        screen = await adoption(app, pilot)
        with Session.open(path, read_only=True) as session:
            second = session.latest_probe(ProbeKind.SEED_VARIANCE).config["candidate"]["trial"]
        assert screen.trial_id == second
        head = text_of(screen, "#adopt-head")
        assert "stopped after 1 of 2 seed runs (p resumes)" in head
        assert "baseline: trial 1 (launch 1)" in head
        rows = rows_of(screen)
        assert [r[0] for r in rows] == [f"candidate (trial {second})"] + ["baseline (trial 1)"] * 2
        assert "the verdict show once every seed run" in text_of(screen, "#adopt-findings")
        assert screen.query_one("#seeds", Input).value == "2"  # p resumes with its settings
        assert screen.check_action("record", ()) is None

        options = {"trial": second, "seeds": 2}
        runner = ProbeRunner(path, "seed-variance", options, executor="inline")
        probe = await asyncio.to_thread(runner.run)  # the file changes under the app
        await wait_for(pilot, lambda: "completed: 2 of 2" in text_of(screen, "#adopt-head"))
        summary = probe.summary
        assert rows_of(screen) == expected_rows(summary)
        findings = text_of(screen, "#adopt-findings")
        comparison = summary["comparison"]
        assert f"difference (candidate − baseline): {comparison['difference']:.4g}" in findings
        assert "(seeds measured by probe 1)" in findings
        assert f"verdict: {summary['verdict']}" in findings
        # Enabled once the app has seen the probe's runner go (its watcher may see the
        # finished probe's rows a moment before that).
        await wait_for(
            pilot, lambda: screen.check_action("record", ()) is True, what="record enabled"
        )


async def test_p_starts_the_detached_probe_and_read_only_refuses(  # type: ignore[no-untyped-def]
    copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy("measured")
    requests: list[control.ProbeRequest] = []

    def start_runner(
        _path: Path, request: control.ProbeRequest, notice: Any, on_failure: Any
    ) -> Any:
        requests.append(request)
        return control.StartResult(4242, Path("s.tunebook.log"))

    monkeypatch.setattr(control, "start_runner", start_runner)
    messages: list[Message] = []
    async with session_app(path, messages) as (app, pilot):
        app.push_screen(AdoptionScreen(2))
        screen = await adoption(app, pilot)
        assert "not measured yet" in text_of(screen, "#adopt-head")
        await pilot.press("p")
        await wait_for(pilot, lambda: requests, what="the runner to start")
        seeds = screen.query_one("#seeds", Input)
        seeds.focus()
        seeds.value = ""
        await pilot.press("3", "enter")
        await wait_for(pilot, lambda: len(requests) == 2, what="the second start")
        assert requests == [
            control.ProbeRequest("seed-variance", (("--trial", "2"), ("--seeds", n)), 2)
            for n in ("5", "3")
        ]
        log = control.log_path_of(path)
        assert f"probe seed-variance of trial 2 started (pid 4242); log {log}" in notices(messages)
    async with session_app(path, messages, read_only=True) as (app, pilot):
        app.push_screen(AdoptionScreen(2))
        await adoption(app, pilot)
        await pilot.press("p")
        await wait_for(
            pilot, lambda: "cannot measure: the session is read-only" in notices(messages)[-1]
        )
    assert len(requests) == 2
