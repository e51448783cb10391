"""Every key binding of the app is remappable and explained: an id, a description, and an
id unique to its screen (the keymap file and the help screen name bindings by id)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.binding import Binding

from tunebook.tui.app import TunebookApp
from tunebook.tui.screens import screen_classes
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
