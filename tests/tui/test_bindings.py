"""Every key binding of the app is remappable and explained: an id, a description, and an
id unique to its screen (the keymap file and the help screen name bindings by id)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.binding import Binding

from tests.detail_session import make_session
from tests.tui.pilot import wait_for
from tunebook.tui.app import TunebookApp
from tunebook.tui.screens import screen_classes
from tunebook.tui.screens.help import binding_rows
from tunebook.tui.widgets.key_footer import ROOMY_WIDTH, KeyFooter


def test_every_binding_has_an_id_and_a_description() -> None:
    owners = [TunebookApp, *screen_classes()]
    seen: dict[str, str] = {}
    for owner in owners:
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding), f"{owner.__name__}: {binding!r} is a tuple"
            assert binding.id, f"{owner.__name__}: the {binding.key!r} binding has no id"
            assert binding.description, f"{owner.__name__}: {binding.id} has no description"
            assert binding.id not in seen, f"{binding.id} is used by {seen.get(binding.id)}"
            seen[binding.id] = owner.__name__
    assert set(seen) == TunebookApp().binding_ids()


def test_the_key_bar_is_compact_in_a_narrow_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns the key bar packs its keys (the last ones, Help and Quit, fell off the
    end otherwise); from `ROOMY_WIDTH` on it spaces them out."""
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))

    async def compact_at(width: int) -> bool:
        app = TunebookApp()
        async with app.run_test(size=(width, 24)) as pilot:
            await pilot.pause()
            return app.screen.query_one(KeyFooter).compact

    assert asyncio.run(compact_at(80)) is True
    assert asyncio.run(compact_at(ROOMY_WIDTH)) is False


def test_at_80_columns_the_map_and_trial_detail_show_every_key_quit_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two screens with the most keys: each key of the bar ends inside the terminal and
    Quit is among them; the palette's key, left out of the narrow bar, is in Help."""
    monkeypatch.setenv("TUNEBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUNEBOOK_CONFIG_DIR", str(tmp_path / "config"))
    path, trial_id, _ = make_session(tmp_path / "detail.tunebook")

    def shown_keys(app: TunebookApp) -> list[str]:
        """The bar's keys, each checked to end before the palette's key (docked on the
        right, over the others) or the terminal's edge."""
        keys = list(app.screen.query_one(KeyFooter).query("FooterKey"))  # Textual's widget
        edge = min([k.region.x for k in keys if k.key == "ctrl+p"], default=80)
        ends = {k.key: k.region.right for k in keys if k.key != "ctrl+p"}
        assert all(end <= edge for end in ends.values()), (ends, edge)
        return [key.key for key in keys]

    async def scenario() -> None:
        app = TunebookApp(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: type(app.screen).__name__ == "SessionMapScreen")
            await pilot.pause()
            assert "q" in shown_keys(app)
            app.show_trial(trial_id)
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TrialDetailScreen")
            await pilot.pause()
            assert "q" in shown_keys(app)
            assert "ctrl+p" not in shown_keys(app)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
            assert ("ctrl+p", "Command palette", "") in binding_rows(app.screen._over)

    asyncio.run(scenario())
