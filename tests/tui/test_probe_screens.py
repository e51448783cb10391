"""The measuring project-start screens (batch size, initial configuration, training length,
stability): what they show of a real probe, `d` recording the recommendation, `p` refused
on a read-only session, `p` and `x` starting and stopping a real probe, and snapshots on
fixed probe data."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.tui.pilot import wait_for
from tests.tui.test_snapshots import SIZES, settle
from tunebook.core.project_start.registry import probe_plan
from tunebook.core.project_start.runner import ProbeRunner
from tunebook.sessions import DecisionKind, Session
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens.confirm import ConfirmScreen
from tunebook.tui.screens.project_start.probe_screen import ProbeScreen
from tunebook.tui.screens.session_map import SessionMapScreen


@pytest.fixture(autouse=True)
def private_user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recent files and keymap in a private folder, never the user's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", "state")
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", "config")


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session with a real, completed batch-size probe (tiny options, measured inline)."""
    path = tmp_path_factory.mktemp("measured") / "s.tunebook"
    Session.create(path, "tabular", {}).close()
    options = {"min_steps": 3, "min_seconds": 0.01, "max_size": 64}
    ProbeRunner(path, "batch-size", options, executor="inline").run()
    return path


@pytest.fixture
def session(measured: Path, tmp_path: Path) -> Path:
    """A private copy of the measured session."""
    return Path(shutil.copy(measured, tmp_path / "s.tunebook"))


async def open_step(pilot: Pilot, key: str) -> ProbeScreen:
    """Open the session's map, then the project-start screen of stage `key`, once read."""
    app: TunebookApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen), what="the map")
    assert app.show_project_step(key)
    screen = await wait_for(
        pilot,
        lambda: isinstance(app.screen, ProbeScreen) and app.screen.view and app.screen,
        what=f"the {key} screen",
    )
    return screen


def notifications(app: TunebookApp) -> list[str]:
    return [n.message for n in app._notifications]


def rows_of(screen: ProbeScreen) -> list[list[str]]:
    table = screen.query_one("#probe-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_batch_size_shows_the_probe_and_records_its_recommendation(session: Path) -> None:
    with Session.open(session, read_only=True) as s:
        probe = s.latest_probe(probe_plan("batch-size").kind)
    summary = probe.summary
    app = TunebookApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_step(pilot, "batch_size")
        rows = rows_of(screen)
        assert [int(r[0]) for r in rows] == [r["batch_size"] for r in summary["rows"]]
        assert [r[1] for r in rows] == [f"{r['examples_per_second']:,.0f}" for r in summary["rows"]]
        recommended = summary["recommendation"]["value"]
        notes = str(screen.query_one("#probe-notes", Static).render())
        assert f"recommended: {recommended}" in notes
        assert summary["recommendation"]["rationale"][:40] in notes
        assert "completed" in str(screen.query_one("#probe-head", Static).render())
        await pilot.press("d")

        def decided() -> Any:
            with Session.open(session, read_only=True) as s:
                return s.decision(DecisionKind.BATCH_SIZE)

        decision = await wait_for(pilot, decided, timeout=20, what="the decision")
        assert decision.value == recommended
        await wait_for(pilot, lambda: "decided: " in str(screen.query_one("#probe-head").render()))


async def test_measuring_is_refused_on_a_read_only_session(session: Path) -> None:
    app = TunebookApp(session, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_step(pilot, "initial_config")
        await pilot.press("p")
        await wait_for(pilot, lambda: any("read-only" in m for m in notifications(app)))
        assert not any("started" in m for m in notifications(app))


async def test_p_starts_a_probe_and_x_stops_it(session: Path) -> None:
    app = TunebookApp(session)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_step(pilot, "initial_config")
        assert "not measured" in str(screen.query_one("#probe-head", Static).render())
        await pilot.press("p")
        await wait_for(pilot, lambda: app.runner_alive, timeout=20, what="the runner")
        head = await wait_for(
            pilot,
            lambda: "measuring" in (t := str(screen.query_one("#probe-head").render())) and t,
            what="measuring",
        )
        assert "measuring" in head
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="confirm")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: any(m.startswith("runner stopped") for m in notifications(app)),
            timeout=30,
            what="the stop",
        )
        with Session.open(session, read_only=True) as s:
            probe = s.latest_probe(probe_plan("initial-config").kind)
        assert probe.status in ("stopped", "completed")


# -- snapshots on fixed data -------------------------------------------------------------------


def fixed_probe(path: Path, name: str, config: Mapping[str, Any], points: Mapping) -> Path:
    """A session holding a completed probe `name` with these points (no measuring: the
    numbers are fixed, so the screen draws the same every time)."""
    plan = probe_plan(name)
    with Session.create(path, "tabular", {}) as session:
        numbered = {k: {**p, "index": i} for i, (k, p) in enumerate(points.items())}
        summary = plan.summarize(config, numbered)
        session.add_probe(
            plan.kind, config, {"status": "completed", "points": numbered, "summary": summary}
        )
    return path


def batch_point(eps: float, memory: float) -> dict[str, Any]:
    return {
        "status": "ok",
        "examples_per_second": eps,
        "seconds_per_step": 0.001,
        "spread": 0.05,
        "data_share": 0.02,
        "peak_memory_mb": memory,
    }


def batch_session(path: Path) -> Path:
    config = {"device": "cpu", "memory_budget_mb": 4096.0}
    points = {
        "b16": batch_point(10000, 40),
        "b32": batch_point(19500, 70),
        "b64": batch_point(30000, 130),
        "b128": batch_point(31000, 250),
        "b256": {"status": "out_of_memory", "error": "over the 4096 MB memory budget"},
    }
    return fixed_probe(path, "batch-size", config, points)


def stability_session(path: Path) -> Path:
    config = {
        "best_learning_rate": 0.01,
        "rate": 0.02,
        "steps": 40,
        "max_train_steps": 1000,
        "warmups": [10, 100],
        "sweep_grad_norms": [0.5 + 0.01 * i for i in range(40)],
        "above_best": [
            {"learning_rate": 0.0316, "loss": [2.0 - 0.02 * i for i in range(40)], "status": "ok"}
        ],
    }
    spike = [2.0 - 0.03 * i for i in range(10)] + [4.0 + i for i in range(30)]
    points = {
        "2x": {
            "status": "completed",
            "loss": spike,
            "grad_norm": [0.6 + 0.05 * i for i in range(40)],
        },
        "warmup=10": {"status": "completed", "loss": [2.0 - 0.04 * i for i in range(40)]},
    }
    return fixed_probe(path, "stability", config, points)


def screen_ready(pilot: Pilot) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, ProbeScreen) and screen.view is not None


def initial_session(path: Path) -> Path:
    config = {
        "learning_rates": [0.0001, 0.001, 0.01],
        "objective": "error",
        "mode": "min",
        "steps": 200,
        "probed_seconds_per_step": 0.0008,
        "max_train_steps": None,
    }
    curves = {0.0001: 0.70, 0.001: 0.40, 0.01: 0.26}
    points = {"chance": {"status": "ok", "chance": 0.74, "metric": "error", "mode": "min"}}
    for lr, best in curves.items():
        points[f"lr={lr:.4g}"] = {
            "status": "completed",
            "best_value": best,
            "best_step": 200,
            "final_value": best,
            "steps": 200,
            "seconds_per_step": 0.0009,
            "wall_seconds": 0.3,
            "validation": [[20 * i, 0.74 - (0.74 - best) * i / 10] for i in range(1, 11)],
        }
    return fixed_probe(path, "initial-config", config, points)


def sweep_session(path: Path) -> Path:
    config = {
        "learning_rates": [0.001, 0.00316, 0.01],
        "steps": 400,
        "mode": "min",
        "objective": "error",
        "chance": 0.74,
    }
    points = {}
    for lr, best, speed in ((0.001, 0.30, 1), (0.00316, 0.25, 2), (0.01, 0.27, 3)):
        train = [[40 * i, max(0.05, 0.74 - 0.07 * speed * i)] for i in range(1, 11)]
        points[f"lr={lr:.4g}"] = {
            "status": "completed",
            "best_value": best,
            "best_step": 400,
            "final_value": best,
            "train": train,
            "validation": [[step, best + value / 10] for step, value in train],
        }
    return fixed_probe(path, "training-length", config, points)


async def test_training_length_table_and_proposal_are_the_summary(tmp_path: Path) -> None:
    path = sweep_session(tmp_path / "sweep.tunebook")
    with Session.open(path, read_only=True) as s:
        summary = s.latest_probe(probe_plan("training-length").kind).summary
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_step(pilot, "max_train_steps")
        rows = rows_of(screen)
        assert [float(r[0]) for r in rows] == [r["learning_rate"] for r in summary["rows"]]
        assert [r[4] for r in rows] == [str(r["fit_step"] or "—") for r in summary["rows"]]
        head = str(screen.query_one("#probe-head").render())
        assert f"recommended: {summary['recommendation']['value']}" in " ".join(head.split())


#: (stage key, session builder) of each measuring screen drawn on fixed data.
FIXED_SCREENS = {
    "batch_size": batch_session,
    "initial_config": initial_session,
    "max_train_steps": sweep_session,
    "stability": stability_session,
}


class TestSnapshots:
    @pytest.mark.parametrize("size", SIZES)
    @pytest.mark.parametrize("key", FIXED_SCREENS)
    def test_screen(self, snap_compare, key: str, size: tuple[int, int]) -> None:
        path = FIXED_SCREENS[key](Path(f"{key}.tunebook"))

        async def run_before(pilot: Pilot) -> None:
            await settle(pilot, lambda: isinstance(pilot.app.screen, SessionMapScreen))
            pilot.app.show_project_step(key)  # type: ignore[attr-defined]
            await settle(pilot, lambda: screen_ready(pilot))

        assert snap_compare(TunebookApp(path), terminal_size=size, run_before=run_before)
