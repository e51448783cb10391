"""The command palette's providers: the current screen's commands, then the app's, then the
screens of the open session reachable from anywhere (the launch history); and "New
experiment", which opens the designer from any screen over an open session.

Every screen or app command is a binding with an id and a description, so the palette, the
footer, the help screen and the user's keymap all name the same things.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen


def screen_commands(screen: Screen) -> Iterator[tuple[str, str, str, object]]:
    """(title, help, action, namespace) for the screen's bindings, then the app's, skipping
    those without a description and those the screen disables right now."""
    seen: set[str] = set()
    for namespace, bindings in ((screen, screen.BINDINGS), (screen.app, screen.app.BINDINGS)):
        for binding in bindings:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            if binding.action in seen or binding.action == "command_palette":
                continue
            action_name = binding.action.split("(", 1)[0]
            if namespace.check_action(action_name, ()) is False:
                continue
            seen.add(binding.action)
            keys = binding.key_display or binding.key.split(",")[0]
            yield binding.description, f"{binding.tooltip or binding.description} ({keys})", (
                binding.action
            ), namespace


def session_commands(screen: Screen) -> Iterator[tuple[str, str, Callable[[], object]]]:
    """(title, help, callback) for the screens any screen over an open session reaches: the
    launch history (its own screen excepted)."""
    from tunebook.tui.screens.launches import LaunchesScreen

    app = screen.app
    if getattr(app, "session_path", None) is None or isinstance(screen, LaunchesScreen):
        return
    yield (
        "Launch history",
        "Every adopted baseline with its evidence and config",
        lambda: app.push_screen(LaunchesScreen()),
    )


class ScreenCommands(Provider):
    """Commands of the screen the palette was opened over, then the open session's."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        commands = [
            (title, help_text, partial(self._run, action, namespace))
            for title, help_text, action, namespace in screen_commands(self.screen)
        ]
        titles = {title for title, *_ in commands}
        return commands + [c for c in session_commands(self.screen) if c[0] not in titles]

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)

    async def _run(self, action: str, namespace: object) -> None:
        await self.app.run_action(action, default_namespace=namespace)  # type: ignore[arg-type]


class DesignerCommands(Provider):
    """The "New experiment" command: the designer, from any screen over an open session."""

    TITLE = "New experiment"
    HELP = "Design an experiment: goal, roles, search space, budget (PB-5 … PB-10)"

    def _available(self) -> bool:
        return getattr(self.app, "session_path", None) is not None

    async def discover(self) -> Hits:
        if self._available():
            yield DiscoveryHit(self.TITLE, self._open, help=self.HELP)

    async def search(self, query: str) -> Hits:
        if not self._available():
            return
        score = self.matcher(query).match(self.TITLE)
        if score > 0:
            yield Hit(score, self.matcher(query).highlight(self.TITLE), self._open, help=self.HELP)

    def _open(self) -> None:
        self.app.show_designer()  # type: ignore[attr-defined]
