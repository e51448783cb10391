"""The initial-configuration step (PB-4): simple, fast, and clearly better than chance.

The chance baseline, each short constant-rate run's best objective, whether the best
clearly beats chance, the estimated time per trial, and the runs' validation curves."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import TabPane

from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import number
from tunebook.tui.screens.project_start.probe_screen import (
    ProbeScreen,
    ProbeView,
    probe_bindings,
    rate_table,
    series,
)
from tunebook.tui.widgets.curve_chart import PALETTE, Curve, CurveChart
from tunebook.tui.widgets.tables import Row

VERDICT = {True: "clearly beats it", False: "does NOT clearly beat it", None: "—"}


class InitialConfigScreen(ProbeScreen):
    """Initial configuration: short runs at a constant rate against chance."""

    PROBE = "initial-config"
    DECIDE = "initial-config"
    STAGE = "initial_config"
    BINDINGS = probe_bindings("initial_config")

    def compose_charts(self) -> ComposeResult:
        with TabPane("Validation", id="validation"):
            yield CurveChart("validation objective", id="validation-chart")

    def table(self, view: ProbeView) -> tuple[Sequence[tuple[str, str]], list[Row]]:
        return rate_table(view, "runs", ("sps", "s/step", "seconds_per_step", ".3g"))

    def notes(self, view: ProbeView) -> Text:
        summary = view.summary
        text = Text()
        if not summary:
            return text
        objective = safe_text(str(summary.get("objective")))
        text.append(f"chance level ({objective}): ", style="bold")
        text.append(number(summary.get("chance")))
        text.append("; the best run ")
        beats = summary.get("beats_chance")
        text.append(VERDICT[beats], style={True: "green", False: "bold red"}.get(beats, ""))
        text.append("\n")
        text.append("estimated time per trial: ", style="bold")
        if summary.get("seconds_per_trial") is None:
            text.append("— (once a run completes)")
        else:
            text.append(
                f"{summary['seconds_per_trial']:.1f} s at {summary['trial_steps']} steps "
                f"({number(summary.get('seconds_per_step'), '.3g')} s/step)"
            )
        return text

    def draw_charts(self, view: ProbeView) -> None:
        runs = view.summary.get("runs", [])
        curves = []
        last = 0.0
        for index, run in enumerate(runs):
            steps, values = series(run.get("validation"))
            last = max([last, *steps])
            curves.append(
                Curve(f"lr {run['learning_rate']:.3g}", steps, values, PALETTE[index % 10])
            )
        chance = view.summary.get("chance")
        if chance is not None and last:
            curves.append(Curve("chance", [0, last], [chance, chance], PALETTE[7]))
        objective = safe_text(str(view.summary.get("objective", "objective")))
        self.query_one("#validation-chart", CurveChart).show(
            curves, empty_text="no evaluation yet", title=f"validation {objective}"
        )
