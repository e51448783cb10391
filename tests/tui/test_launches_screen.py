"""The launch history: `L` from the session map and the review and the palette from any
screen open it; each launch's date, trial, experiment, verdict and note, and the highlighted
one's evidence (both distributions, Welch's p, the rule) and config; a launch recorded some
other way shows its evidence as stored; with none, how to make one; snapshots at both
sizes."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.tui.detail_helpers import (  # noqa: F401 - private_user_files is an autouse fixture
    private_user_files,
    session_app,
)
from tests.tui.pilot import wait_for
from tests.tui.test_adoption_screen import adoptable
from tests.tui.test_review_screen import column, open_review
from tests.tui.test_snapshots import SIZES, settle
from tunebook.core.analysis.adoption import (
    ALPHA,
    FIRST_SEED,
    MIN_SEEDS,
    NOISE_MULTIPLE,
    compare_seeds,
    distribution,
)
from tunebook.sessions import Session
from tunebook.tui.app import TunebookApp
from tunebook.tui.commands import session_commands
from tunebook.tui.screens.launches import EMPTY, LaunchesScreen
from tunebook.tui.screens.trial_detail import TrialDetailScreen

#: 2024-05-01 12:00 UTC, 2024-05-03 09:30 UTC, 2024-05-07 18:05 UTC.
CREATED = (1714564800.0, 1714728600.0, 1715105100.0)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so launch dates read the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def side(trial: int, values: list[float], launch: int | None = None) -> dict[str, Any]:
    """One configuration's evidence, as `launch_record` stores it."""
    found = distribution(values)
    runs = [
        {"seed": FIRST_SEED + i, "status": "completed", "best_value": v}
        for i, v in enumerate(values)
    ]
    keep = {"mean": found.mean, "std": found.std, "n": found.n}
    return {"trial": trial, "launch": launch, "reused_from": None, **keep, "runs": runs}


def evidence(
    probe: int, candidate: dict[str, Any], baseline: dict[str, Any] | None
) -> dict[str, Any]:
    """A seed-variance launch's evidence (`launch_record`'s shape) from fixed numbers."""
    found = None
    if baseline is not None:
        values = [[r["best_value"] for r in s["runs"]] for s in (candidate, baseline)]
        found = compare_seeds(values[0], values[1], "min")
    verdict = "no baseline to beat: this is the first launch" if found is None else found.verdict
    return {
        "probe": probe,
        "playbook": ["PB-5", "PB-17"],
        "objective": "error",
        "mode": "min",
        "seeds": len(candidate["runs"]),
        "rule": {"alpha": ALPHA, "noise_multiple": NOISE_MULTIPLE, "min_seeds": MIN_SEEDS},
        "comparison": None if found is None else asdict(found),
        "verdict": verdict,
        "candidate": candidate,
        "baseline": baseline,
    }


def launched(path: Path) -> Path:
    """Three launches: trial 1 first, trial 2 beyond the seed noise, and one recorded
    without a trial or the probe's evidence (an older tunebook's)."""
    first, second = adoptable(path)
    base = [0.586, 0.615, 0.582]
    with Session.open(path) as session:
        experiment = session.experiment("lr").id
        for trial, lr, ev, note in (
            (first, 1e-2, evidence(1, side(first, base), None), "the first baseline"),
            (
                second,
                3e-2,
                evidence(2, side(second, [0.551, 0.566, 0.547]), side(first, base, 1)),
                "higher rate, [b]clearly[/b] better",
            ),
        ):
            config = {"hparams": {"depth": 1, "learning_rate": lr}, "max_train_steps": 6}
            session.add_launch(config, ev, note, trial_id=trial, experiment_id=experiment)
        session.add_launch({"depth": 3}, {"isolation": "depth=3 best"}, "")
    with sqlite3.connect(path) as db:  # fixed dates for the snapshots
        for launch_id, created in enumerate(CREATED, 1):
            db.execute("UPDATE launches SET created_at = ? WHERE id = ?", (created, launch_id))
    return path


async def open_launches(app: TunebookApp, pilot: Pilot) -> LaunchesScreen:
    await pilot.press("L")
    return await wait_for(
        pilot,
        lambda: isinstance(app.screen, LaunchesScreen) and app.screen.history and app.screen,
        what="the launch history",
    )


def detail(screen: LaunchesScreen) -> str:
    return str(screen.query_one("#launch-detail", Static).render())


@pytest.mark.usefixtures("utc")
async def test_the_history_lists_each_launch_and_its_evidence(tmp_path: Path) -> None:
    path = launched(tmp_path / "l.tunebook")
    with Session.open(path, read_only=True) as session:
        second = session.launches()[1]
    async with session_app(path, [], size=(120, 40)) as (app, pilot):
        screen = await open_launches(app, pilot)  # from the session map
        table = screen.query_one("#launches", DataTable)
        assert column(table, 0) == ["1", "2", "3"]
        assert column(table, 1) == ["2024-05-01 12:00", "2024-05-03 09:30", "2024-05-07 18:05"]
        assert column(table, 2) == ["1", "2", "—"] and column(table, 3) == ["lr", "lr", "—"]
        assert column(table, 4)[:2] == [
            "no baseline to beat: this is the first launch",
            "better than the baseline beyond the seed noise",
        ]
        assert column(table, 5) == ["the first baseline", "higher rate, [b]clearly[/b] better", "—"]
        assert table.cursor_row == 1  # the baseline now: the latest launch naming a trial
        assert "the baseline now: launch 2 (trial 2)" in str(
            screen.query_one("#launches-note", Static).render()
        )
        shown = detail(screen)
        ev = second.evidence
        assert "launch 2, 2024-05-03 09:30: higher rate, [b]clearly[/b] better" in shown
        candidate, baseline = ev["candidate"], ev["baseline"]
        assert (
            f"candidate: trial 2: error {candidate['mean']:.4g} ± {candidate['std']:.4g}, n 3"
        ) in shown
        assert f"baseline: trial 1 (launch 1): error {baseline['mean']:.4g}" in shown
        assert f"Welch's p {ev['comparison']['p_value']:.3g}" in shown
        assert "rule: beyond the seed noise when Welch's p < 0.05" in shown
        assert "config: max_train_steps 6; depth=1, learning_rate=0.03" in shown

        await pilot.press("down")  # recorded without a trial or a probe
        assert "evidence: isolation=depth=3 best" in detail(screen)
        assert "config: depth=3" in detail(screen)
        assert screen.check_action("open_trial", ()) is None  # no trial to open
        await pilot.press("up")
        await pilot.press("up")
        assert "baseline: none (the first launch)" in detail(screen)

        await pilot.press("enter")  # the launch's trial
        trial = await wait_for(pilot, lambda: isinstance(app.screen, TrialDetailScreen))
        assert trial and app.screen.trial_id == 1  # type: ignore[attr-defined]
        await pilot.press("escape", "escape")
        await open_review(app, pilot)
        screen = await open_launches(app, pilot)  # from the review
        assert column(screen.query_one("#launches", DataTable), 0) == ["1", "2", "3"]


async def test_no_launch_yet_says_how_and_the_palette_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "e.tunebook"
    adoptable(path)
    async with session_app(path, []) as (app, pilot):
        app.show_experiments()
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ExperimentsScreen")
        assert [t for t, *_ in session_commands(app.screen)] == ["Launch history"]
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"launch history")
        await pilot.pause(0.3)  # the palette searches in a worker
        await pilot.press("enter")
        screen = await wait_for(
            pilot,
            lambda: isinstance(app.screen, LaunchesScreen) and app.screen.history and app.screen,
        )
        note = str(screen.query_one("#launches-note", Static).render())
        assert note == EMPTY and note.startswith("No launch yet: adopt a trial from the Review")
        assert not screen.query_one("#launches").display
        assert list(session_commands(screen)) == []  # not offered over itself


@pytest.mark.usefixtures("utc")
@pytest.mark.parametrize("size", SIZES)
def test_launches_snapshot(
    snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = launched(Path("launches.tunebook"))

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await settle(pilot, lambda: type(app.screen).__name__ == "SessionMapScreen")
        await pilot.press("L")
        await settle(
            pilot, lambda: isinstance(app.screen, LaunchesScreen) and bool(app.screen.history)
        )
        await pilot.pause(0.1)

    assert snap_compare(TunebookApp(path), terminal_size=size, run_before=run_before)
