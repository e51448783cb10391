"""The final test (PB-18): the chosen checkpoint evaluated on the test split, once.

Before it runs, the screen says which trial it will evaluate (the latest launch's, the
adopted configuration) and why it runs only once; `t` asks for a confirmation and starts
the `final-test` probe in a detached runner (the app never evaluates nor writes). Once it
has run, the screen shows what `tunebook final-test --show` prints: every metric on the test
and validation splits, the warnings, and that it will not run again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static

from tunebook.sessions import ProbeKind, current_baseline
from tunebook.sessions.report import RUNNER_STALE_AFTER, final_test
from tunebook.sessions.text import safe_text
from tunebook.tui.probe_text import final_test_rows, number
from tunebook.tui.screens.base import SessionScreen
from tunebook.tui.screens.confirm import ConfirmScreen
from tunebook.tui.widgets.key_footer import KeyFooter
from tunebook.tui.widgets.read_only_banner import ReadOnlyBanner
from tunebook.tui.widgets.tables import Row, refill

if TYPE_CHECKING:
    from tunebook.sessions import Probe, Session

COLUMNS = (("metric", "metric"), ("test", "test"), ("validation", "validation"))


@dataclass(frozen=True)
class FinalTestView:
    """The latest final-test probe, the trial it would evaluate and what stands in its way."""

    probe: Probe | None
    recorded: Mapping[str, Any] | None
    trial: int | None
    test_examples: int | None  # as measured by `tunebook new`
    facts_measured: bool  # False: a session made without `new`; the probe will tell
    runner_alive: bool

    @property
    def no_test_split(self) -> bool:
        """True when the workload is known to have no test split."""
        return self.facts_measured and self.test_examples is None


def read_final_test(session: Session) -> FinalTestView:
    """What the screen shows, from a read-only session (in a thread worker)."""
    baseline = current_baseline(session.launches())
    runner = session.runner()
    facts = session.info().workload_facts
    return FinalTestView(
        probe=session.latest_probe(ProbeKind.FINAL_TEST),
        recorded=final_test(session),
        trial=None if baseline is None else baseline.trial_id,
        test_examples=None if facts is None else facts.test_examples,
        facts_measured=facts is not None,
        runner_alive=runner is not None and runner.is_alive(RUNNER_STALE_AFTER),
    )


def metric_rows(summary: Mapping[str, Any]) -> list[Row]:
    """Each metric on test and validation, then the examples counted (as the CLI prints)."""
    if not summary.get("test"):
        return []
    return [
        (metric, (Text(safe_text(metric)), Text(test, justify="right"), Text(val, justify="right")))
        for metric, test, val in final_test_rows(summary)
    ]


class FinalTestScreen(SessionScreen):
    """The one test-set evaluation of the session."""

    DEFAULT_CSS = """
    FinalTestScreen #final-body { padding: 0 1; }
    FinalTestScreen #final-head, FinalTestScreen #final-notes { height: auto; }
    FinalTestScreen #final-table { height: auto; margin: 1 0; }
    """

    BINDINGS = [
        Binding(
            "t",
            "evaluate",
            "Evaluate once",
            id="final_test.evaluate",
            tooltip="Evaluate the adopted trial's best checkpoint on the test split, once",
        ),
        Binding("escape", "back", "Back", id="final_test.back", tooltip="Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: FinalTestView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReadOnlyBanner()
        with VerticalScroll(id="final-body"):
            yield Static("reading the session…", id="final-head", markup=False)
            yield DataTable(id="final-table", cursor_type="row", zebra_stripes=False)
            yield Static(id="final-notes", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.sub_title = "final test (PB-18)"
        super().on_mount()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def reload(self) -> None:
        view = self.read(read_final_test)
        self.app.call_from_thread(self._show, view)

    def _show(self, view: FinalTestView) -> None:
        self.view = view
        probe = view.probe
        summary = probe.summary if probe is not None and probe.status == "completed" else {}
        refill(self.query_one("#final-table", DataTable), COLUMNS, metric_rows(summary))
        self.query_one("#final-head", Static).update(self._head(view))
        notes = Text()
        for warning in summary.get("warnings", []):
            notes.append(f"warning: {safe_text(warning)}\n", style="yellow")
        self.query_one("#final-notes", Static).update(notes)
        self.refresh_bindings()

    def _head(self, view: FinalTestView) -> Text:
        recorded = view.recorded
        if recorded is not None:
            return Text.assemble(
                (
                    f"Test {safe_text(recorded['objective'])}: {number(recorded['value'])}",
                    "bold",
                ),
                f"  — trial {recorded['trial']} ({safe_text(recorded['experiment'])}), best "
                f"checkpoint at step {recorded['checkpoint_step']}. Evaluated once; the test "
                "set is not evaluated again in this session (PB-18).",
            )
        about = (
            "The test split reports the final choice; it must not inform a choice, or it "
            "becomes a second validation set. So it is evaluated once, at the very end "
            "(PB-18). "
        )
        if view.no_test_split:
            return Text(about + "This workload has no test split: there is nothing to evaluate.")
        if view.probe is not None and view.probe.status == "running":
            return Text(about + f"Evaluating trial {view.probe.config.get('trial')}…")
        if view.trial is None:
            return Text(
                about + "No configuration is adopted yet: adopt one from the Review screen (a)."
            )
        examples = "" if view.test_examples is None else f"{view.test_examples} "
        return Text(
            about + f"t evaluates the adopted trial {view.trial}'s best checkpoint on the "
            f"{examples}test examples."
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "evaluate":
            view = self.view
            return (
                view is not None
                and view.recorded is None
                and view.trial is not None
                and not view.no_test_split
                and not view.runner_alive
            )
        return True

    def action_evaluate(self) -> None:
        """Confirm, then start the final-test probe in a detached runner."""
        view = self.view
        refusal = self.tunebook.write_refusal()
        if refusal or view is None or view.trial is None:
            self.notify(safe_text(refusal or "no adopted trial to evaluate"), severity="warning")
            return
        trial = view.trial

        def answered(yes: bool | None) -> None:
            if yes:
                self._start(trial)

        self.app.push_screen(
            ConfirmScreen(
                f"Evaluate trial {trial} on the test split?",
                "This runs once per session: look at it only when every choice is made.",
                "Evaluate",
            ),
            answered,
        )

    @work(thread=True, exclusive=True, group="start", exit_on_error=False)
    def _start(self, trial: int) -> None:
        from tunebook.core.execution.control import ProbeRequest

        request = ProbeRequest("final-test", (("--trial", str(trial)),))
        self.tunebook.start_detached(self.session_path, request, f"final test of trial {trial}")

    def action_back(self) -> None:
        """Back to the previous screen."""
        self.app.pop_screen()
