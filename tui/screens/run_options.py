"""Where the runs the app starts train: `tunebook run`'s target options, set in a dialog.

The app starts every run as a detached `tunebook run`; this dialog edits the options it
passes (executor, workers, device, and Ray's address and per-trial resources), checked as
the command line checks them (`request_from_options`), so a person over SSH never has to
restart the app with other flags. It shows the equivalent command-line options as it goes.
"""

from __future__ import annotations

from typing import NamedTuple

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tunebook.core.execution.control import RunRequest
from tunebook.core.execution.devices import AUTO
from tunebook.core.execution.executors import EXECUTORS
from tunebook.sessions import BadInput
from tunebook.sessions.text import safe_text
from tunebook.tui.widgets.text_input import TextInput


class Field(NamedTuple):
    """A text field of the dialog and the `tunebook run` option it sets; `ray-` ones are for
    Ray only."""

    id: str
    label: str
    option: str
    hint: str


FIELDS = (
    Field("workers", "workers", "--workers", "trials at once (default: half the cores)"),
    Field("device", "device", "--device", "auto, cpu, cuda or cuda:N (default auto)"),
    Field("ray-address", "Ray address", "--address", "a head's HOST:PORT (default: local Ray)"),
    Field("ray-cpus", "CPUs per trial", "--cpus-per-trial", "reserved per trial (default 1)"),
    Field("ray-gpus", "GPUs per trial", "--gpus-per-trial", "below 1 shares a GPU (default 0)"),
)


def field_values(request: RunRequest) -> dict[str, str]:
    """The dialog's text fields for `request` ("" where it takes the default)."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    return {
        "workers": text(request.workers),
        "device": "" if request.device == AUTO else request.device,
        "ray-address": text(request.address),
        "ray-cpus": text(request.cpus_per_trial),
        "ray-gpus": text(request.gpus_per_trial),
    }


def options_of(executor: str, values: dict[str, str]) -> list[str]:
    """`tunebook run`'s options for the dialog's choices: the Ray fields only with Ray."""
    options = ["--executor", executor]
    for field in FIELDS:
        value = values[field.id].strip()
        if value and (executor == "ray" or not field.id.startswith("ray-")):
            options.append(f"{field.option}={value}")
    return options


class RunOptionsScreen(ModalScreen[RunRequest | None]):
    """Dismisses with the new run request when the user applies valid options, else None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="run_options.cancel"),
    ]

    def __init__(self, request: RunRequest) -> None:
        super().__init__()
        self._request = request

    def compose(self) -> ComposeResult:
        values = field_values(self._request)
        with Vertical(id="dialog"):
            yield Label("Where the runs started here train", id="options-title")
            with Horizontal(classes="option-row"):
                yield Label("executor", classes="option-label")
                yield Select(
                    [(name, name) for name in EXECUTORS],
                    value=self._request.executor,
                    allow_blank=False,
                    compact=True,
                    id="executor",
                )
                yield Label("inline: in the runner; ray: Ray tasks", classes="option-hint")
            for field in FIELDS:
                with Horizontal(classes="option-row", id=f"row-{field.id}"):
                    yield Label(field.label, classes="option-label")
                    yield TextInput(
                        values[field.id], id=field.id, placeholder="default", compact=True
                    )
                    hint_id = f"hint-{field.id}"
                    yield Label(field.hint, classes="option-hint", id=hint_id, markup=False)
            yield Static(id="options-command", markup=False)
            yield Static(id="options-error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Use (enter)", variant="primary", id="use", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._show()
        self.query_one("#workers", Input).focus()

    @property
    def executor(self) -> str:
        """The executor chosen now."""
        return str(self.query_one("#executor", Select).value)

    def values(self) -> dict[str, str]:
        """The text fields as typed."""
        return {field.id: self.query_one(f"#{field.id}", Input).value for field in FIELDS}

    @on(Select.Changed)
    @on(Input.Changed)
    def _show(self) -> None:
        """Ray's fields only with Ray; the equivalent `tunebook run` options under them."""
        ray = self.executor == "ray"
        self.query_one("#hint-workers", Label).update(
            f"trials at once (default: {'as many as fit' if ray else 'half the cores'})"
        )
        for field in FIELDS:
            if field.id.startswith("ray-"):
                self.query_one(f"#row-{field.id}").display = ray
        options = " ".join(options_of(self.executor, self.values()))
        self.query_one("#options-command", Static).update(
            f"as: tunebook run PATH {safe_text(options)}"
        )
        self.query_one("#options-error", Static).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#use")
    def _use(self) -> None:
        """Apply the options if `tunebook run` would take them; else say why, in place."""
        from tunebook.tui.cli.run_commands import request_from_options

        try:
            request = request_from_options(options_of(self.executor, self.values()))
        except BadInput as exc:
            self.query_one("#options-error", Static).update(safe_text(str(exc)))
            return
        self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
