"""The tunebook app: its screens' shell, the open session, its watcher and runner controls.

Data flows one way (DESIGN.md, "The TUI"): a thread worker polls the session file and posts
`SessionChanged`; the app turns that into reactive attributes (`data_version`,
`runner_alive`, `session_problem`) that screens watch and reload from. Screens read through
`read_session` in their own thread workers and never write; starting and stopping the
runner go through `tunebook.core.execution.control`, which starts the same detached runner
as `tunebook run --detach` (the app never trains in its own process).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from tunebook.core.execution.control import ProbeRequest, RunRequest, StartResult
from tunebook.core.execution.warm_client import start_soon
from tunebook.sessions import BadInput, Session, TunebookError
from tunebook.sessions.connection import read_only_reason
from tunebook.sessions.text import safe_text
from tunebook.sessions.watch import FileIdentity, SessionWatcher, unreadable_problem
from tunebook.tui.commands import DesignerCommands, ScreenCommands
from tunebook.tui.keymap import check_binding_ids, keymap_path, load_keymap
from tunebook.tui.messages import (
    RunnerStarted,
    RunnerStopped,
    SessionChanged,
    SessionOpened,
    SessionProblem,
)
from tunebook.tui.recent import remember

if TYPE_CHECKING:
    from tunebook.core.session_map import SessionMap

T = TypeVar("T")

STOP_TIMEOUT = 120.0  # seconds the app waits for a stopped runner to checkpoint and exit
DARK_THEME, LIGHT_THEME = "textual-dark", "textual-light"


def read_session(path: Path, read: Callable[[Session], T]) -> T:
    """Open the session read-only, call `read` on it, close it: for screens' thread workers
    (a SQLite connection belongs to the thread that opened it, and opening costs ~1 ms)."""
    with Session.open(path, read_only=True) as session:
        return read(session)


class TunebookApp(App[None]):
    """Home → session map → run monitor / experiments → trial detail, over one session."""

    TITLE = "tunebook"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {ScreenCommands, DesignerCommands}
    BINDINGS = [
        Binding(
            "n",
            "next_step",
            "Next step",
            id="app.next",
            tooltip="Take the session map's recommended next step (the guided path)",
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Keys and glossary"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (a run keeps running)"),
        Binding(
            "ctrl+t",
            "toggle_theme",
            "Theme",
            id="app.theme",
            show=False,
            tooltip="Switch between the dark and the light theme",
        ),
    ]

    #: Bumped each time the open session file changes; screens watch it and reload.
    data_version: reactive[int] = reactive(0, init=False)
    #: Whether a runner is writing the open session now.
    runner_alive: reactive[bool] = reactive(False, init=False)
    #: One sentence when the open session file went bad, else empty.
    session_problem: reactive[str] = reactive("", init=False)

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        read_only: bool = False,
        run_request: RunRequest | None = None,
        keymap_file: Path | None = None,
    ) -> None:
        super().__init__()
        self._initial_path = Path(path) if path is not None else None
        self._initial_read_only = read_only
        #: Where the runs the app starts train: `tunebook run`'s options, from the command
        #: line; by default half the cores' worker processes.
        self.run_request = with_default_workers(run_request or RunRequest())
        self._keymap_file = keymap_path() if keymap_file is None else keymap_file
        self._watch_stop = threading.Event()
        #: The open session, or None on Home.
        self.session_path: Path | None = None
        #: Why the open session cannot be written ("" when it can).
        self.read_only_reason = ""

    # -- start-up ---------------------------------------------------------------------------

    def on_mount(self) -> None:
        from tunebook.tui.screens.home import HomeScreen

        self.theme = DARK_THEME
        self._apply_keymap()
        self.push_screen(HomeScreen())
        if self._initial_path is not None:
            self.open_session(self._initial_path, read_only=self._initial_read_only)

    def _apply_keymap(self) -> None:
        """Apply the user's key remapping; a bad file is a warning, never a failed start."""
        try:
            keymap = load_keymap(self._keymap_file)
            check_binding_ids(keymap, self.binding_ids(), self._keymap_file)
        except BadInput as exc:
            self.notify(str(exc), title="Keymap ignored", severity="warning", timeout=10)
            return
        if keymap:
            self.set_keymap(keymap)

    def binding_ids(self) -> set[str]:
        """Every binding id of the app and its screens (what a keymap may name)."""
        from tunebook.tui.screens import screen_classes

        ids = {b.id for b in self.BINDINGS if isinstance(b, Binding) and b.id}
        for screen_class in screen_classes():
            ids |= {b.id for b in screen_class.BINDINGS if isinstance(b, Binding) and b.id}
        return ids

    # -- the open session -------------------------------------------------------------------

    def open_session(self, path: Path, read_only: bool = False) -> None:
        """Check `path` opens as a session (in a worker), then show its map and watch it."""
        self._open_session(Path(path), read_only)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def _open_session(self, path: Path, read_only: bool) -> None:
        # Read-only even when writable: the app itself never writes, and a runner may be
        # writing now. (An old-schema file is still upgraded, as for `tunebook status`.)
        Session.open(path, read_only=True).close()
        opened = FileIdentity.of(path)  # what the watcher compares with, from now on
        reason = read_only_reason(path) or ("opened with --read-only" if read_only else "")
        self.call_from_thread(self._show_session, path, reason, opened)
        if not reason:
            with contextlib.suppress(BadInput):  # a bad setting is the run's to report
                start_soon()  # runs started here fork their workers from it

    def _show_session(self, path: Path, reason: str, opened: FileIdentity | None) -> None:
        from tunebook.tui.screens.session_map import SessionMapScreen

        self._stop_watching()
        self.session_path, self.read_only_reason = path, reason
        self.session_problem = ""
        self.sub_title = safe_text(str(path)) + ("  [read-only]" if reason else "")
        remember(path)
        self.post_message(SessionOpened(path, reason))
        self._watch_stop = threading.Event()
        self._watch_session(path, self._watch_stop, opened)
        self.push_screen(SessionMapScreen())

    def close_session(self) -> None:
        """Stop watching the session (back on Home); a runner keeps running."""
        self._stop_watching()
        self.session_path, self.read_only_reason = None, ""
        self.sub_title = ""

    def _stop_watching(self) -> None:
        self._watch_stop.set()

    @work(thread=True, group="watch", exit_on_error=False)
    def _watch_session(
        self, path: Path, stop: threading.Event, opened: FileIdentity | None
    ) -> None:
        try:
            watcher = SessionWatcher(path, opened)
        except Exception:  # gone bad since it was opened: say so, as a poll would
            self.post_message(SessionProblem(unreadable_problem(path, opened)))
            return
        try:
            self.post_message(SessionChanged(0, watcher.runner_alive()))

            def changed(change):
                if stop.is_set():
                    return
                if change.problem:
                    self.post_message(SessionProblem(change.problem))
                else:
                    self.post_message(SessionChanged(change.version, change.runner_alive))

            watcher.watch(changed, stop)
        finally:
            watcher.close()

    def on_session_changed(self, message: SessionChanged) -> None:
        self.runner_alive = message.runner_alive
        self.data_version += 1

    def on_session_problem(self, message: SessionProblem) -> None:
        self.session_problem = message.problem
        self.notify(safe_text(message.problem), title="Session file", severity="error", timeout=30)

    # -- navigation -------------------------------------------------------------------------

    def show_monitor(self) -> None:
        """The run monitor of the open session."""
        from tunebook.tui.screens.run_monitor import RunMonitorScreen

        self.push_screen(RunMonitorScreen())

    def show_experiments(self) -> None:
        """The experiments and studies of the open session."""
        from tunebook.tui.screens.experiments import ExperimentsScreen

        self.push_screen(ExperimentsScreen())

    def show_review(self, experiment_name: str | None = None) -> None:
        """The review of experiment `experiment_name` (the latest when None): its checklist
        and plots, the numbers of `tunebook review`."""
        from tunebook.tui.screens.review import ReviewScreen

        self.push_screen(ReviewScreen(experiment_name))

    def show_exploitation(self, experiment_name: str) -> None:
        """The refined space of a concluded exploration and its Bayesian study (PB-18)."""
        from tunebook.tui.screens.exploitation import ExploitationScreen

        self.push_screen(ExploitationScreen(experiment_name))

    def show_promotion(self, experiment_name: str) -> None:
        """The longer round of a finished experiment: its best trials with more steps (PB-20)."""
        from tunebook.tui.screens.promotion import PromotionScreen

        self.push_screen(PromotionScreen(experiment_name))

    def show_final_test(self) -> None:
        """The session's one test-set evaluation (PB-18)."""
        from tunebook.tui.screens.final_test import FinalTestScreen

        self.push_screen(FinalTestScreen())

    def show_designer(self, from_experiment: str | None = None) -> None:
        """The experiment designer: a new experiment over the session's decisions, or one
        copied from experiment `from_experiment` with its goal and name cleared."""
        from tunebook.tui.screens.designer import DesignerScreen

        self.push_screen(DesignerScreen(from_experiment))

    def show_adoption(self, trial_id: int) -> None:
        """The seed-variance comparison of trial `trial_id` with the baseline, and its
        launch (PB-17)."""
        from tunebook.tui.screens.adoption import AdoptionScreen

        self.push_screen(AdoptionScreen(trial_id))

    def action_next_step(self) -> None:
        """Take the session map's recommended next step from any screen: back to the map,
        then on to the step (the guided path)."""
        if self.session_path is not None:
            self._next_step(self.session_path)

    @work(thread=True, exclusive=True, group="next", exit_on_error=False)
    def _next_step(self, path: Path) -> None:
        from tunebook.core.session_map import session_map

        computed = read_session(path, session_map)
        self.call_from_thread(self._take_next_step, computed)

    def _take_next_step(self, computed: SessionMap) -> None:
        from tunebook.tui.screens.session_map import SessionMapScreen

        maps = [s for s in self.screen_stack if isinstance(s, SessionMapScreen)]
        if not maps or self.session_path is None:
            return
        while self.screen is not maps[-1]:
            self.pop_screen()
        maps[-1].take_next(computed)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_step":
            # Not on Home, and not where leaving would drop the user's unsaved work.
            return self.session_path is not None and getattr(self.screen, "GUIDED", True)
        return True

    def show_project_step(self, key: str) -> bool:
        """The project-start screen of stage `key` (model … stability); False when the
        stage has none."""
        from tunebook.tui.screens.project_start import PROJECT_SCREENS

        screen = PROJECT_SCREENS.get(key)
        if screen is None:
            return False
        self.push_screen(screen())
        return True

    def show_trial(self, trial_id: int) -> None:
        """One trial in full."""
        from tunebook.tui.screens.trial_detail import TrialDetailScreen

        self.push_screen(TrialDetailScreen(trial_id))

    # -- the runner -------------------------------------------------------------------------

    def write_refusal(self) -> str:
        """Why the open session cannot be changed from the app now ("" when it can)."""
        if self.session_path is None:
            return "no session is open"
        if self.read_only_reason:
            return f"the session is read-only: {self.read_only_reason}"
        if self.session_problem:
            return self.session_problem
        return ""

    def action_start_run(self) -> bool:
        """Start a detached runner on the open session's pending trials; False (and a
        notification saying why) when it cannot start."""
        return self.start_run()

    def start_run(self, rerun: tuple[int, ...] = ()) -> bool:
        """Start a detached runner that first resets the `rerun` trials to pending (the
        runner writes; the app never does), then runs every pending trial."""
        refusal = self.write_refusal()
        if not refusal and self.runner_alive:
            refusal = "a runner is already running"
        if refusal or self.session_path is None:
            self.notify(safe_text(refusal), title="Cannot start a run", severity="warning")
            return False
        self._start_runner(self.session_path, rerun)
        return True

    def action_run_options(self) -> None:
        """Change where the runs the app starts train (a dialog of `tunebook run`'s options);
        a run already going keeps its own."""
        from tunebook.tui.screens.run_options import RunOptionsScreen

        def chosen(request: RunRequest | None) -> None:
            if request is None:
                return
            request = with_default_workers(request)
            if request != self.run_request:
                self.run_request = request
                options = safe_text(" ".join(request.arguments()))
                self.notify(f"the runs started from now on: tunebook run PATH {options}")

        self.push_screen(RunOptionsScreen(self.run_request), chosen)

    @work(thread=True, exclusive=True, group="runner", exit_on_error=False)
    def _start_runner(self, path: Path, rerun: tuple[int, ...]) -> None:
        request = replace(self.run_request, rerun=rerun)
        started = self.start_detached(path, request, "runner", where_runs_train(request))
        self.post_message(RunnerStarted(started.pid))

    def start_detached(
        self, path: Path, request: RunRequest | ProbeRequest, what: str, where: str = ""
    ) -> StartResult:
        """Start a detached runner (from a worker thread): its foreign-code notices, then
        "`what` started (pid …`where`); log …"; should it fail once started, an error
        notification says so when it does (a failure `start_runner` cannot see)."""
        from tunebook.core.execution.control import log_path_of, start_runner

        notices: list[str] = []
        log = safe_text(str(log_path_of(path)))

        def failed(sentence: str) -> None:  # in the runner's reaper thread, maybe after us
            if self.is_running:
                with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                    self.call_from_thread(
                        self.notify,
                        f"{safe_text(sentence)}; log {log}",
                        title=what,
                        severity="error",
                        timeout=30,
                    )

        started = start_runner(path, request, notices.append, on_failure=failed)
        for line in notices:
            self.call_from_thread(self.notify, safe_text(line), severity="warning", timeout=15)
        self.call_from_thread(self.notify, f"{what} started (pid {started.pid}{where}); log {log}")
        return started

    def action_stop_run(self) -> None:
        """Ask for confirmation, then stop the runner gracefully (trials checkpoint)."""
        from tunebook.tui.screens.confirm import ConfirmScreen

        if self.session_path is None or not self.runner_alive:
            self.notify("no runner is running on this session", severity="warning")
            return
        path = self.session_path

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._stop_runner(path)

        self.push_screen(
            ConfirmScreen(
                "Stop the run?",
                "Running trials save a checkpoint and go back to pending, and a probe keeps "
                "the points it has measured; starting again resumes them.",
                confirm="Stop",
            ),
            confirmed,
        )

    @work(thread=True, exclusive=True, group="runner", exit_on_error=False)
    def _stop_runner(self, path: Path) -> None:
        from tunebook.core.execution.control import stop_runner

        stopping = "stopping: running trials save checkpoints, probes keep their points"
        self.call_from_thread(self.notify, stopping)
        result = stop_runner(path, timeout=STOP_TIMEOUT)
        pid = result.runner.pid if result.runner else None
        self.post_message(RunnerStopped(pid, result.seconds))
        self.call_from_thread(self.notify, f"runner stopped in {result.seconds:.1f} s")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notification, never read as markup: messages carry paths, names and
        errors from files and users (`[fixed]` in a message is shown, not applied)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- faults ---------------------------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The app's own workers' exceptions become one sentence (screens forward theirs to
        `report_error` too: worker messages do not bubble)."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.error)

    def report_error(self, error: BaseException) -> None:
        """One sentence in an error notification: never a dead app or a traceback."""
        if isinstance(error, TunebookError):
            message = str(error)
        else:
            message = f"internal error: {type(error).__name__}: {error}"
        self.notify(safe_text(message), title="Error", severity="error", timeout=15)

    # -- app-wide actions -------------------------------------------------------------------

    def action_help(self) -> None:
        """Keys of the current screen and the glossary."""
        from tunebook.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_theme(self) -> None:
        """Dark ↔ light."""
        self.theme = LIGHT_THEME if self.theme == DARK_THEME else DARK_THEME

    def on_unmount(self) -> None:
        self._stop_watching()


def with_default_workers(request: RunRequest) -> RunRequest:
    """`request`, with half the cores' worker processes when it names no number of them."""
    if request.executor == "process" and request.workers is None:
        return replace(request, workers=default_workers())
    return request


def where_runs_train(request: RunRequest) -> str:
    """What the start notice adds for runs that leave this machine's worker processes."""
    if request.executor != "ray":
        return ""
    return f", its trials as Ray tasks on {safe_text(request.address or 'a local Ray instance')}"


def default_workers() -> int:
    """Worker processes for a run started from the app: half the cores, at least one, so
    the machine keeps a core for the app and the runner."""
    return max(1, (os.cpu_count() or 2) // 2)
