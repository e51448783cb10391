"""Every key binding of the app is remappable and explained: an id, a description, and an
id unique to its screen (the keymap file and the help screen name bindings by id)."""

from __future__ import annotations

from textual.binding import Binding

from tunebook.tui.app import TunebookApp
from tunebook.tui.screens import screen_classes


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
