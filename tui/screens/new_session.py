"""New session: a path, a workload (a built-in or a `file.py:Class` / `pkg.mod:Class`
reference) and its options, created exactly as `tunebook new` creates it (PB-1).

Creating calls the same `parse_options` and `core.api.create_session` as the command line,
so the checks (the path is new and its folder exists, the workload loads and trains one step
on 16 examples) and their one-sentence errors are the same; an error is shown next to the
form and nothing is written. The built-in list and the creation import torch, so both run
in thread workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import (
    Button,
    Header,
    Input,
    Label,
    LoadingIndicator,
    OptionList,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option

from tunebook.sessions import SessionInfo, TunebookError, describe_facts
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import TunebookScreen
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.path_input import PathInput
from tunebook.tui.widgets.text_input import TextInput

INTRO = (
    "A session file holds one workload's tuning. Creating it trains one step on 16 "
    "examples first: nothing is written unless the workload trains."
)


@dataclass(frozen=True)
class BuiltinWorkload:
    """A built-in workload as the form lists it."""

    name: str
    description: str


def builtin_choices() -> list[BuiltinWorkload]:
    """The built-in workloads with their one-line descriptions (imports torch: a worker)."""
    from tunebook.core.workloads import builtin_workloads

    return [BuiltinWorkload(name, cls.description) for name, cls in builtin_workloads().items()]


def option_lines(text: str) -> list[str]:
    """The form's options box as `tunebook new -o` arguments: one KEY=VALUE per non-blank
    line, surrounding spaces dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def create_from_form(path: str, workload: str, options: str) -> SessionInfo:
    """Create the session the way `tunebook new PATH --workload W -o ...` does (same checks,
    same order, same errors); raises TunebookError with one sentence."""
    from tunebook.core.api import create_session
    from tunebook.core.workload_source import parse_options
    from tunebook.sessions import Session

    Session.check_new_path(path)
    return create_session(path, workload, parse_options(option_lines(options)))


def error_sentence(error: BaseException) -> str:
    """The one sentence the command line prints for `error`."""
    if isinstance(error, TunebookError):
        return str(error)
    return f"internal error: {type(error).__name__}: {error}"


class NewSessionScreen(TunebookScreen):
    """The `tunebook new` form; on success the app opens the new session."""

    BINDINGS = [
        Binding("ctrl+s", "create", "Create", id="new.create", tooltip="Create the session file"),
        Binding("escape", "cancel", "Cancel", id="new.cancel", tooltip="Back to Home"),
    ]

    #: Whether the one-step check and creation are running now.
    creating: reactive[bool] = reactive(False, init=False, bindings=True)
    #: The built-in workloads once loaded (None while loading).
    builtins: reactive[list[BuiltinWorkload] | None] = reactive(None, init=False)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="new-body"):
            yield Static(INTRO, id="new-intro", markup=False)
            with Grid(id="new-form"):
                yield Label("Path", classes="new-label")
                yield PathInput(placeholder="e.g. mlp.tunebook", id="new-path")
                yield Label("Workload", classes="new-label")
                yield OptionList(
                    Option("loading the built-in workloads…", id="", disabled=True),
                    id="new-builtins",
                )
                yield Label("or class", classes="new-label")
                yield TextInput(
                    placeholder="path/to/file.py:Class or package.module:Class",
                    id="new-ref",
                )
                yield Label("Options", classes="new-label")
                yield TextArea(
                    "", id="new-options", soft_wrap=False, show_line_numbers=False,
                    placeholder="KEY=VALUE per line, e.g. csv=data.csv",
                )
            yield Static("", id="new-error", markup=False)
            with Horizontal(id="new-buttons"):
                yield LoadingIndicator(id="new-loading")
                yield Button("Create (ctrl+s)", variant="primary", id="new-create")
                yield Button("Cancel (esc)", id="new-cancel")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#new-loading").display = False
        self.query_one("#new-error").display = False
        self.query_one("#new-path", Input).focus()
        self.load_builtins()

    @work(thread=True, exclusive=True, group="builtins", exit_on_error=False)
    def load_builtins(self) -> None:
        """List the built-ins (imports torch, so in a thread)."""
        choices = builtin_choices()
        self.app.call_from_thread(setattr, self, "builtins", choices)

    def watch_builtins(self, choices: list[BuiltinWorkload] | None) -> None:
        if choices is None:
            return
        options = self.query_one("#new-builtins", OptionList)
        options.clear_options()
        for choice in choices:
            prompt = Text.assemble(
                (safe_text(choice.name).ljust(9), "bold cyan"),
                safe_text(choice.description),
            )
            prompt.no_wrap, prompt.overflow = True, "ellipsis"
            options.add_option(Option(prompt, id=choice.name))
        options.highlighted = 0

    def chosen_workload(self) -> str:
        """The reference typed, else the highlighted built-in's name ("" when neither)."""
        reference = self.query_one("#new-ref", Input).value.strip()
        if reference:
            return reference
        options = self.query_one("#new-builtins", OptionList)
        if self.builtins and options.highlighted is not None:
            return self.builtins[options.highlighted].name
        return ""

    @on(Input.Submitted, "#new-path")
    def _path_entered(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#new-builtins", OptionList).focus()

    @on(OptionList.OptionSelected, "#new-builtins")
    def _builtin_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#new-ref", Input).value = ""
        self.query_one("#new-options", TextArea).focus()

    @on(Input.Submitted, "#new-ref")
    def _reference_entered(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#new-options", TextArea).focus()

    @on(Button.Pressed, "#new-create")
    def _create_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_create()

    @on(Button.Pressed, "#new-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_create(self) -> None:
        """Check and create the session in a worker; the form stays until it succeeds."""
        if self.creating:
            return
        path = os.path.expanduser(self.query_one("#new-path", Input).value.strip())
        workload = self.chosen_workload()
        if not path:
            self.show_error("type a path for the new session file, e.g. mlp.tunebook")
            self.query_one("#new-path", Input).focus()
            return
        if not workload:
            self.show_error("choose a built-in workload or type a file.py:Class reference")
            return
        self.show_error("")
        self._refocus = self.focused  # disabling the form blurs it; restored on failure
        self.creating = True
        self.create(path, workload, self.query_one("#new-options", TextArea).text)

    @work(thread=True, exclusive=True, group="create", exit_on_error=False)
    def create(self, path: str, workload: str, options: str) -> None:
        """The slow part: load the workload, train one step, write the file."""
        try:
            info = create_from_form(path, workload, options)
        except Exception as exc:  # one sentence next to the form, as the CLI prints it
            self.app.call_from_thread(self._failed, error_sentence(exc))
            return
        self.app.call_from_thread(self._created, info)

    def _failed(self, sentence: str) -> None:
        self.creating = False
        self.show_error(sentence)
        refocus = getattr(self, "_refocus", None)
        if refocus is not None and refocus.is_attached and refocus.focusable:
            refocus.focus()
        else:
            self.query_one("#new-path", Input).focus()

    def _created(self, info: SessionInfo) -> None:
        self.creating = False
        lines = [f"created {safe_text(info.path)} for workload {safe_text(info.workload)}"]
        lines.append(describe_facts(info.workload_facts))
        notes = info.workload_facts.notes if info.workload_facts else ()
        lines += [f"note: {safe_text(note)}" for note in notes]
        self.notify("\n".join(lines), title="New session", timeout=15)
        self.dismiss()
        self.tunebook.open_session(Path(info.path))

    def watch_creating(self, creating: bool) -> None:
        self.query_one("#new-loading").display = creating
        self.query_one("#new-create", Button).disabled = creating
        self.query_one("#new-form").disabled = creating

    def show_error(self, sentence: str) -> None:
        """Show `sentence` under the form (hide the line when empty)."""
        error = self.query_one("#new-error", Static)
        error.update(safe_text(sentence))
        error.display = bool(sentence)

    def action_cancel(self) -> None:
        """Back to Home without creating anything."""
        if self.creating:
            self.notify("creating the session: wait for the one-step check", severity="warning")
            return
        self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "create" and self.creating:
            return None
        return True
