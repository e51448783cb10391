"""The session map: the playbook's stages in order with where this session stands on each,
and the recommended next step one key away (`n`). Computed by `core.session_map`."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Static

from tunebook.core.session_map import SessionMap, Stage, StageAction, StageState, session_map
from tunebook.sessions.text import safe_text
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import refill

STATE_STYLE = {
    StageState.DONE: ("✓ done", "green"),
    StageState.STALE: ("! stale", "yellow"),
    StageState.RUNNING: ("▶ running", "cyan"),
    StageState.NEXT: ("→ next", "bold magenta"),
    StageState.NOT_STARTED: ("· not started", "dim"),
}


def stage_detail(stage: Stage) -> Text:
    """The highlighted stage in full: what the session holds, why, and how to take it."""
    text = Text()
    text.append(safe_text(stage.title), style="bold")
    text.append(f"  ({', '.join(stage.playbook)})  {stage.state.value}\n", style="dim")
    text.append(stage.about + "\n", style="italic")
    text.append(safe_text(stage.summary) + "\n")
    if stage.reason:
        label = "stale: " if stage.state is StageState.STALE else "why: "
        text.append(label, style="bold")
        text.append(safe_text(stage.reason) + "\n")
    if stage.action is not StageAction.NONE:
        text.append("enter: ", style="bold")
        text.append(ACTION_LABELS[stage.action] + "\n")
    if stage.command:
        text.append("command: ", style="bold")
        text.append(
            safe_text(stage.command) + "  (enter copies it)\n"
            if stage.action is StageAction.NONE
            else safe_text(stage.command) + "\n"
        )
    if not stage.actionable:
        text.append("set in an experiment spec's [fixed] table today", style="dim")
    return text


STAGE_COLUMNS = (("state", "state"), ("stage", "stage"), ("summary", "this session"))
#: The state and stage columns' widths; "this session" takes what is left of the table.
FIXED_WIDTHS = {"state": 13, "stage": 21}

ACTION_LABELS = {
    StageAction.RUN: "start a run of the pending trials",
    StageAction.MONITOR: "watch the run",
    StageAction.PROJECT_STEP: "open this step: its choices, probe and decision",
    StageAction.DESIGN: "open the experiment designer",
    StageAction.REVIEW: "open the review: checklist, plots, conclusion",
    StageAction.ADOPT: "compare the trial with the baseline across seeds, then adopt it",
    StageAction.EXPLOIT: "open the refined space and store its Bayesian study",
    StageAction.FINAL_TEST: "evaluate the baseline on the test split, once",
}


class SessionMapScreen(SessionScreen):
    """Every playbook stage with its state; enter takes the highlighted one, n the next."""

    BINDINGS = [
        Binding("n", "next_step", "Next step", id="map.next", tooltip="Take the recommended step"),
        Binding("enter", "take_step", "Take step", id="map.take", show=False),
        Binding("m", "monitor", "Monitor", id="map.monitor", tooltip="Trials, progress, curves"),
        Binding("e", "experiments", "Experiments", id="map.experiments"),
        Binding("r", "run", "Run", id="map.run", tooltip="Start a run of the pending trials"),
        Binding("o", "note", "Note", id="map.note", tooltip="Attach a note to the session"),
        Binding(
            "L",
            "launches",
            "Launch history",
            id="map.launches",
            show=False,
            tooltip="Every adopted baseline with its evidence and config",
        ),
        Binding("escape", "home", "Home", id="map.home", tooltip="Back to the home screen"),
    ]

    stage_map: reactive[SessionMap | None] = reactive(None, init=False)

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with Vertical(id="map-body"):
            yield Static(id="session-line", markup=False)
            yield DataTable(id="stages", cursor_type="row", zebra_stripes=False)
            yield Static(id="stage-detail", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one("#stages", DataTable)
        refill(table, STAGE_COLUMNS, [], widths=FIXED_WIDTHS)
        table.focus()
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        computed, info = self.read(lambda session: (session_map(session), session.info()))
        facts = info.workload_facts
        line = Text.assemble(
            ("workload ", "dim"),
            (safe_text(info.workload), "bold"),
            (
                f" · {facts.train_examples} training, {facts.validation_examples} validation "
                "examples"
                if facts is not None
                else "",
                "dim",
            ),
            (" · ", "dim"),
            ("● running", "green") if computed.runner_alive else ("○ no runner", "dim"),
        )
        self.app.call_from_thread(self.query_one("#session-line", Static).update, line)
        self.app.call_from_thread(setattr, self, "stage_map", computed)

    def watch_stage_map(self, computed: SessionMap | None) -> None:
        if computed is None:
            return
        table = self.query_one("#stages", DataTable)
        first_paint = table.row_count == 0
        rows = []
        for stage in computed.stages:
            label, style = STATE_STYLE[stage.state]
            cells = (
                Text(label, style=style),
                Text(safe_text(stage.title)),
                Text(safe_text(stage.summary), overflow="ellipsis", no_wrap=True),
            )
            rows.append((stage.key, cells))
        refill(table, STAGE_COLUMNS, rows, widths=self._widths(table))
        if first_paint and computed.next is not None:  # start on the recommended step
            table.move_cursor(row=computed.stages.index(computed.next))
        self._show_detail()
        self.refresh_bindings()

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_resize(self) -> None:
        """Refit "this session" to the new width (its long summaries end in an ellipsis)."""
        if self.stage_map is not None:
            self.watch_stage_map(self.stage_map)

    @staticmethod
    def _widths(table: DataTable) -> dict[str, int]:
        """The fixed widths, and "this session" as wide as what is left of the table (each
        column pads one space either side); fitted to its text before the first layout."""
        left = table.size.width - sum(width + 2 for width in FIXED_WIDTHS.values()) - 2
        return {**FIXED_WIDTHS, "summary": left} if left >= 20 else FIXED_WIDTHS

    def _highlighted(self) -> Stage | None:
        if self.stage_map is None:
            return None
        row = self.query_one("#stages", DataTable).cursor_row
        return self.stage_map.stages[row] if 0 <= row < len(self.stage_map.stages) else None

    def _show_detail(self) -> None:
        stage = self._highlighted()
        if stage is not None:
            self.query_one("#stage-detail", Static).update(stage_detail(stage))

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_take_step()

    def action_take_step(self) -> None:
        """Take the highlighted stage's step (or copy its command)."""
        stage = self._highlighted()
        if stage is not None:
            self.take(stage)

    def action_next_step(self) -> None:
        """Take the recommended next step, as the file says it now: what the map shows may
        be a moment behind a command that has just stored something (its watcher looks four
        times a second), and the step it recommended then may be done."""
        self.tunebook.action_next_step()

    def take_next(self, computed: SessionMap) -> None:
        """Take `computed`'s recommended step; while a runner works, watch it (there is
        always a step otherwise: at the least, designing the next round)."""
        if computed.next is not None:
            self.take(computed.next)
        else:
            self.action_monitor()

    def take(self, stage: Stage) -> None:
        """Do what `stage` asks: start a run, open the monitor, a project-start step, the
        designer, a review, an adoption, the exploitation or the final test, or copy the
        command that does it."""
        app = self.tunebook
        if stage.action is StageAction.RUN:
            self.action_run()
        elif stage.action is StageAction.MONITOR:
            self.action_monitor()
        elif stage.action is StageAction.DESIGN:
            app.show_designer(stage.experiment)
        elif stage.action is StageAction.REVIEW:
            app.show_review(stage.experiment)
        elif stage.action is StageAction.ADOPT and stage.trial is not None:
            app.show_adoption(stage.trial)
        elif stage.action is StageAction.EXPLOIT and stage.experiment is not None:
            app.show_exploitation(stage.experiment)
        elif stage.action is StageAction.FINAL_TEST:
            app.show_final_test()
        elif stage.action is StageAction.PROJECT_STEP and app.show_project_step(stage.key):
            return
        elif stage.command:
            self.app.copy_to_clipboard(stage.command)
            self.notify(f"copied: {safe_text(stage.command)}")
        else:
            self.notify(f"{stage.title}: set it in an experiment spec's [fixed] table today")

    def action_monitor(self) -> None:
        """Open the run monitor."""
        self.tunebook.show_monitor()

    def action_experiments(self) -> None:
        """Open the experiments and studies."""
        self.tunebook.show_experiments()

    def action_launches(self) -> None:
        """Open the launch history."""
        from tunebook.tui.screens.launches import LaunchesScreen

        self.app.push_screen(LaunchesScreen())

    def action_run(self) -> None:
        """Start a run, then watch it."""
        if self.tunebook.action_start_run():
            self.tunebook.show_monitor()

    def action_note(self) -> None:
        """Attach a note to the session (PB-24), through a `tunebook note` child."""
        from tunebook.tui.screens.notes import ask_note

        ask_note(self, "the session")

    def action_home(self) -> None:
        """Back to Home; a run keeps running."""
        self.tunebook.close_session()
        self.dismiss()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            pending = self.stage_map is not None and any(
                s.action is StageAction.RUN for s in self.stage_map.stages
            )
            if not pending or self.tunebook.write_refusal() or self.tunebook.runner_alive:
                return None  # dimmed: nothing to run, read-only (the banner) or running
        return True
