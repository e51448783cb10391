"""The session map: the playbook's stages in order, each with where this session stands.

Model → optimizer → batch size → initial configuration → training length (PB-1 … PB-4,
PB-19), then the experiments (rounds, PB-5: designed, run, reviewed and concluded), the
adoption of a concluded round's best configuration (PB-17), exploitation (PB-18), the
final test (PB-18) and the next round. Each stage is done, stale (with the reason),
running, the recommended next step, or not started, and says what the session holds and
the command that does the step today. The guided path is the recommended next step, taken
one after another: the app's `n` key, and `next_step` in `tunebook status --json`. The
app's Session map screen and `tunebook status` both draw this; neither decides anything
itself.

Imports only `tunebook.sessions`, so `status` stays free of torch.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from tunebook.sessions import (
    Decision,
    DecisionKind,
    Experiment,
    ExperimentStatus,
    Launch,
    Probe,
    ProbeKind,
    Session,
    StudySummary,
    TrialStatus,
    current_baseline,
)
from tunebook.sessions.report import RUNNER_STALE_AFTER, counts_with_planned, final_test
from tunebook.sessions.text import plural


class StageState(str, Enum):
    """Where one stage stands."""

    DONE = "done"
    STALE = "stale"  # decided, but an input it depends on changed since
    RUNNING = "running"
    NEXT = "next"  # the recommended next step (at most one stage)
    NOT_STARTED = "not started"


class StageAction(str, Enum):
    """What the app does when the user takes a stage's step."""

    NONE = ""
    RUN = "run"  # start the runner on the pending trials
    MONITOR = "monitor"  # watch the run
    PROJECT_STEP = "project step"  # the project-start screen of the stage (model … stability)
    DESIGN = "design"  # the experiment designer (a first experiment, or one from `experiment`)
    REVIEW = "review"  # the experiment's review: checklist, plots, conclusion
    ADOPT = "adopt"  # the seed-variance comparison of `trial`, then the launch
    EXPLOIT = "exploit"  # the Bayesian study over `experiment`'s refined space
    FINAL_TEST = "final test"  # the one test-set evaluation


@dataclass(frozen=True)
class Stage:
    """One step of the playbook as this session stands on it."""

    key: str  # "model", …, "experiment:NAME", "launches"
    title: str
    playbook: tuple[str, ...]  # the PB ids this stage implements
    state: StageState
    summary: str  # what the session holds for this stage
    reason: str = ""  # why stale, or why it is the next step
    command: str = ""  # the CLI command that does this step today ("" when there is none)
    action: StageAction = StageAction.NONE
    experiment: str | None = None  # the experiment the action opens (review, exploit, design)
    trial: int | None = None  # the trial the action opens (adopt)

    @property
    def about(self) -> str:
        """What the playbook says this stage is for, in a sentence."""
        return STAGE_ABOUT["experiment" if self.key.startswith("experiment") else self.key]

    def to_dict(self) -> dict[str, Any]:
        """The stage as `status --json` writes it."""
        return {
            "key": self.key,
            "title": self.title,
            "playbook": list(self.playbook),
            "state": self.state.value,
            "summary": self.summary,
            "reason": self.reason,
            "command": self.command,
        }

    @property
    def actionable(self) -> bool:
        """True when the user can take this step now, in the app or with a command."""
        return self.action is not StageAction.NONE or bool(self.command)


@dataclass(frozen=True)
class SessionMap:
    """The stages in the playbook's order, at most one of them `NEXT` (or the recommended
    step is a `STALE` decision, named by `stale_next`: it keeps showing as stale)."""

    stages: tuple[Stage, ...]
    runner_alive: bool
    stale_next: str | None = None

    @property
    def next(self) -> Stage | None:
        """The recommended next step, or None when there is nothing to recommend."""
        if self.stale_next is not None:
            return self.stage(self.stale_next)
        return next((s for s in self.stages if s.state is StageState.NEXT), None)

    def stage(self, key: str) -> Stage:
        """The stage named `key`; KeyError when the session has no such stage."""
        for stage in self.stages:
            if stage.key == key:
                return stage
        raise KeyError(key)


#: The project-start decisions (PB-1 … PB-4, PB-19), in the playbook's order.
DECISION_STAGES: tuple[tuple[DecisionKind, str, tuple[str, ...], str], ...] = (
    (DecisionKind.MODEL, "Model", ("PB-1", "PB-4"), "model"),
    (DecisionKind.OPTIMIZER, "Optimizer", ("PB-2",), "optimizer"),
    (DecisionKind.BATCH_SIZE, "Batch size", ("PB-3", "PB-21"), "batch_size"),
    (DecisionKind.INITIAL_CONFIG, "Initial configuration", ("PB-4",), "learning_rate"),
    (DecisionKind.MAX_TRAIN_STEPS, "Training length", ("PB-19", "PB-20"), "max_train_steps"),
    (DecisionKind.STABILITY, "Stability", ("PB-30", "PB-31"), "warmup_steps"),
)

#: The probe that measures for each decision (model and optimizer have none).
PROBE_KINDS = {
    DecisionKind.BATCH_SIZE: ProbeKind.BATCH_SIZE,
    DecisionKind.INITIAL_CONFIG: ProbeKind.INITIAL_CONFIG,
    DecisionKind.MAX_TRAIN_STEPS: ProbeKind.LEARNING_RATE,
    DecisionKind.STABILITY: ProbeKind.STABILITY,
}

#: The command that takes each project-start step (`tunebook probe NAME PATH`).
PROBE_NAMES = {
    DecisionKind.MODEL: "model",
    DecisionKind.OPTIMIZER: "optimizer",
    DecisionKind.BATCH_SIZE: "batch-size",
    DecisionKind.INITIAL_CONFIG: "initial-config",
    DecisionKind.MAX_TRAIN_STEPS: "training-length",
    DecisionKind.STABILITY: "stability",
}


#: What each stage is for, after the playbook (shown beside the stage in the app).
STAGE_ABOUT = {
    "model": "Start from a well-established architecture; its hyperparameters define a "
    "family of models, and the smallest sensible member is the right start.",
    "optimizer": "Use the most popular optimizer for the kind of problem, and be ready to "
    "tune all its hyperparameters; simpler variants with fixed extras are fine early on.",
    "batch_size": "Batch size sets training speed, not validation performance: take the "
    "largest size that still nearly doubles throughput when doubled, and fit it in memory.",
    "initial_config": "A simple, fast, reasonable start: constant learning rate, no extras, "
    "clearly better than chance.",
    "max_train_steps": "Never tune the step budget: pick one value for all trials, and read "
    "where the best checkpoints land to shorten or lengthen it.",
    "stability": "Look above the best learning rate: if twice it is unstable, a short warmup "
    "or gradient clipping may let training use higher rates.",
    "experiment": "One narrow goal per round: scientific hyperparameters measured, nuisance "
    "ones tuned away, fixed ones held; check the results before concluding.",
    "launches": "Adopt a change as the new baseline only on strong evidence, knowing the "
    "trial-to-trial variance.",
    "exploitation": "Once the exploration has answered its questions, spend the rest of the "
    "budget on Bayesian search over the refined space to find the best configuration.",
    "final_test": "Evaluate the chosen configuration on the test split once, at the very end; "
    "never tune against it.",
    "next_round": "Tuning is a loop: the next round asks a new narrow question, starting from "
    "the current baseline.",
}


def session_map(session: Session) -> SessionMap:
    """Compute every stage of `session` and mark the recommended next step."""
    runner = session.runner()
    alive = runner is not None and runner.is_alive(RUNNER_STALE_AFTER)
    path = shlex.quote(str(session.path))
    experiments = session.experiments()
    latest: dict[DecisionKind, Decision] = {d.kind: d for d in session.decisions()}
    stages = [
        _decision_stage(
            kind, title, playbook, key, latest.get(kind), experiments, path, _probe(session, kind)
        )
        for kind, title, playbook, key in DECISION_STAGES
    ]
    if alive:
        stages = [_probing(stage, runner.command) for stage in stages]
    summaries = session.study_summaries()
    rounds = [_Round.of(e, summaries) for e in experiments]
    stages += _experiment_stages(rounds, alive, path)
    launches = session.launches()
    stages.append(_adoption_stage(session, rounds, launches, path))
    if rounds:
        stages += [
            _exploitation_stage(rounds, path),
            _final_test_stage(session, launches, path),
            Stage(
                key="next_round",
                title="Next round",
                playbook=("PB-5", "PB-7"),
                state=StageState.NOT_STARTED,
                summary=f"a new experiment starting from '{rounds[-1].experiment.name}'",
                command=f"tunebook experiment add {path} SPEC.toml",
                action=StageAction.DESIGN,
                experiment=rounds[-1].experiment.name,
            ),
        ]
    marked, stale_next = _mark_next(stages)
    return SessionMap(tuple(marked), alive, stale_next)


@dataclass(frozen=True)
class _Round:
    """One experiment with its trial counts and its best feasible trial so far."""

    experiment: Experiment
    counts: dict[str, int]
    best_trial: int | None

    @classmethod
    def of(cls, experiment: Experiment, summaries: Iterable[StudySummary]) -> _Round:
        counts = {s.value: 0 for s in TrialStatus}
        best: tuple[float, int] | None = None
        for summary in summaries:
            if summary.study.experiment_id != experiment.id:
                continue
            for status, count in counts_with_planned(summary.study, summary.counts).items():
                counts[status] += count
            if summary.best_value is not None and summary.best_trial_id is not None:
                sign = -1.0 if summary.study.objective_mode == "max" else 1.0
                candidate = (sign * summary.best_value, summary.best_trial_id)
                best = candidate if best is None or candidate < best else best
        return cls(experiment, counts, None if best is None else best[1])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[s.value] for s in TrialStatus if s.is_finished())

    @property
    def concluded(self) -> bool:
        return self.experiment.status is ExperimentStatus.CONCLUDED

    @property
    def exploits(self) -> bool:
        """Whether the round is exploitation: a Bayesian search (PB-18)."""
        return self.experiment.design.get("search", {}).get("algorithm") == "bayesian"


def _decision_stage(
    kind: DecisionKind,
    title: str,
    playbook: tuple[str, ...],
    key: str,
    decision: Decision | None,
    experiments: Iterable[Any],
    path: str,
    probe: Probe | None,
) -> Stage:
    """A project-start stage: its decision when one is recorded, else its probe's
    recommendation waiting to be confirmed, else what the experiments use for it."""
    command = f"tunebook probe {PROBE_NAMES[kind]} {path}"
    common = {"command": command, "action": StageAction.PROJECT_STEP}
    if decision is not None:
        state = StageState.STALE if decision.stale else StageState.DONE
        summary = f"decided: {describe_decision(kind, decision.value)}"
        return Stage(kind.value, title, playbook, state, summary, decision.stale_reason, **common)
    found = (probe.summary.get("recommendation") or {}) if probe is not None else {}
    if probe is not None and probe.status == "completed" and found:
        summary = f"measured: recommends {describe_decision(kind, found['value'])}; not decided yet"
        return Stage(kind.value, title, playbook, StageState.NOT_STARTED, summary, **common)
    used = _values_in_experiments(key, experiments)
    summary = (
        "not decided; set per experiment: " + ", ".join(used)
        if used
        else "not decided; the workload's defaults apply"
    )
    return Stage(kind.value, title, playbook, StageState.NOT_STARTED, summary, **common)


def _probe(session: Session, kind: DecisionKind) -> Probe | None:
    probe_kind = PROBE_KINDS.get(kind)
    return None if probe_kind is None else session.latest_probe(probe_kind)


def _probing(stage: Stage, command: str) -> Stage:
    """The stage whose probe the live runner is measuring shows as running."""
    for kind, name in PROBE_NAMES.items():
        if stage.key == kind.value and command == f"probe {name}":
            return replace(stage, state=StageState.RUNNING, summary="measuring now")
    return stage


def describe_decision(kind: DecisionKind, value: Any) -> str:
    """A decision's value in a few words, as the map and `status` show it."""
    if kind is DecisionKind.OPTIMIZER and isinstance(value, dict):
        frozen = value.get("frozen") or []
        text = str(value.get("name", "?"))
        if frozen:
            text += f" (frozen for now: {', '.join(map(str, frozen))})"
        return text
    if kind is DecisionKind.INITIAL_CONFIG and isinstance(value, dict) and "learning_rate" in value:
        return f"{value.get('schedule', 'constant')} learning rate {_shown(value['learning_rate'])}"
    if kind is DecisionKind.STABILITY and isinstance(value, dict):
        parts = [f"warmup {value['warmup_steps']} steps"] if value.get("warmup_steps") else []
        if value.get("grad_clip"):
            parts.append(f"clip gradients at {_shown(value['grad_clip'])}")
        return ", ".join(parts) or "stable as it is: no warmup, no clipping"
    return _shown(value)


def _values_in_experiments(key: str, experiments: Iterable[Any]) -> list[str]:
    """`'depth' uses adam` for each experiment whose design sets `key`, `'depth' tunes it`
    where the experiment varies it."""
    found = []
    for experiment in experiments:
        design = experiment.design
        if key == "max_train_steps":
            found.append(f"'{experiment.name}' uses {experiment.max_train_steps}")
        elif key in design.get("fixed", {}):
            found.append(f"'{experiment.name}' uses {_shown(design['fixed'][key])}")
        elif key in design.get("scientific", {}) or key in design.get("nuisance", {}):
            found.append(f"'{experiment.name}' tunes it")
    return found


def _experiment_stages(rounds: list[_Round], alive: bool, path: str) -> list[Stage]:
    """One stage per experiment (a round, PB-5): run its trials, then review and conclude."""
    if not rounds:
        return [
            Stage(
                key="experiments",
                title="First experiment",
                playbook=("PB-5", "PB-7", "PB-8", "PB-9"),
                state=StageState.NOT_STARTED,
                summary="no experiment designed yet",
                command=f"tunebook experiment add {path} SPEC.toml",
                action=StageAction.DESIGN,
            )
        ]
    stages = []
    for round_ in rounds:
        counts, experiment = round_.counts, round_.experiment
        unfinished = round_.total - round_.finished
        summary_text = (
            f"{round_.finished}/{round_.total} trials finished: {counts['completed']} "
            f"completed, {counts['infeasible']} infeasible, {counts['failed']} failed"
        )
        name = shlex.quote(experiment.name)
        reason = ""
        if alive and unfinished:
            state, action, command = StageState.RUNNING, StageAction.MONITOR, ""
        elif unfinished:
            state, action = StageState.NOT_STARTED, StageAction.RUN
            command = f"tunebook run {path} --experiment {name}"
            reason = "its trials are waiting to run"
        elif round_.concluded:
            state, action = StageState.DONE, StageAction.REVIEW
            command = f"tunebook review {path} --experiment {name}"
        else:
            state, action = StageState.NOT_STARTED, StageAction.REVIEW
            command = f"tunebook conclude {path} {name} --note TEXT"
            reason = "its trials are finished: check the results before concluding (PB-11 … PB-16)"
        if round_.concluded:
            summary_text += f"; concluded: {experiment.conclusion}"
        stages.append(
            Stage(
                key=f"experiment:{experiment.name}",
                title=f"Experiment '{experiment.name}'",
                playbook=("PB-5", "PB-9", "PB-11"),
                state=state,
                summary=summary_text,
                reason=reason,
                command=command,
                action=action,
                experiment=experiment.name,
            )
        )
    return stages


def _adoption_stage(
    session: Session, rounds: list[_Round], launches: list[Launch], path: str
) -> Stage:
    """Adopt the latest concluded round's best trial, or keep the baseline, on evidence
    (PB-17): done once it is launched, or once its seed-variance comparison found it no
    better than the baseline beyond the seed noise."""
    common = {"key": "launches", "title": "Adoption", "playbook": ("PB-5", "PB-17")}
    adopted = (
        f"{plural(len(launches), 'configuration')} adopted as baseline"
        if launches
        else "no configuration adopted yet"
    )
    candidate = next((r for r in reversed(rounds) if r.concluded and r.best_trial), None)
    if candidate is None:
        state = StageState.DONE if launches else StageState.NOT_STARTED
        return Stage(state=state, summary=adopted, **common)
    name, trial = candidate.experiment.name, candidate.best_trial
    if any(launch.experiment_id == candidate.experiment.id for launch in launches):
        summary = f"{adopted}; the latest from '{name}'"
        return Stage(state=StageState.DONE, summary=summary, **common)
    kept = _baseline_kept(session, trial)
    if kept:
        summary = f"{adopted}; trial {trial} of '{name}' measured: {kept}, the baseline stays"
        return Stage(state=StageState.DONE, summary=summary, **common)
    return Stage(
        state=StageState.NOT_STARTED,
        summary=f"{adopted}; '{name}' is concluded, its best is trial {trial}",
        reason=f"measure trial {trial} against the seed noise, then adopt it on evidence",
        command=f"tunebook adopt {path} {trial}",
        action=StageAction.ADOPT,
        experiment=name,
        trial=trial,
        **common,
    )


def _baseline_kept(session: Session, trial: int | None) -> str:
    """The verdict of a completed seed-variance comparison of `trial` against a baseline
    that did not find it better beyond the seed noise, else ""."""
    for probe in reversed(session.probes(ProbeKind.SEED_VARIANCE)):
        if probe.status != "completed" or probe.config.get("candidate", {}).get("trial") != trial:
            continue
        comparison = probe.summary.get("comparison")
        if comparison and not (comparison.get("beyond") and comparison.get("better")):
            return str(probe.summary.get("verdict", "not better"))
        return ""
    return ""


def _exploitation_stage(rounds: list[_Round], path: str) -> Stage:
    """Exploitation (PB-18): a Bayesian study over the latest concluded exploration's
    refined space, once one is concluded."""
    common = {"key": "exploitation", "title": "Exploitation", "playbook": ("PB-18", "PB-29")}
    exploiting = [r.experiment.name for r in rounds if r.exploits]
    if exploiting:
        summary = "Bayesian search: " + ", ".join(f"'{n}'" for n in exploiting)
        return Stage(state=StageState.DONE, summary=summary, **common)
    source = next((r for r in reversed(rounds) if r.concluded and not r.exploits), None)
    if source is None:
        return Stage(
            state=StageState.NOT_STARTED, summary="after a concluded exploration", **common
        )
    name = source.experiment.name
    return Stage(
        state=StageState.NOT_STARTED,
        summary=f"'{name}' is concluded: its best region can be searched with Bayesian search",
        reason="the exploration is concluded: spend the rest of the budget exploiting it",
        command=f"tunebook exploit {path} {shlex.quote(name)}",
        action=StageAction.EXPLOIT,
        experiment=name,
        **common,
    )


def _final_test_stage(session: Session, launches: list[Launch], path: str) -> Stage:
    """The one test-set evaluation (PB-18), once a configuration is adopted."""
    common = {"key": "final_test", "title": "Final test", "playbook": ("PB-18",)}
    done = final_test(session)
    if done is not None:
        summary = f"test {done['objective']} {done['value']:.4g} (trial {done['trial']})"
        return Stage(state=StageState.DONE, summary=summary, **common)
    facts = session.info().workload_facts
    if facts is not None and not facts.test_examples:
        return Stage(
            state=StageState.NOT_STARTED, summary="the workload has no test split", **common
        )
    if current_baseline(launches) is None:
        return Stage(
            state=StageState.NOT_STARTED, summary="after a configuration is adopted", **common
        )
    return Stage(
        state=StageState.NOT_STARTED,
        summary="the adopted configuration is not evaluated on the test split yet",
        reason="tuning is done: evaluate the baseline on the test split, once",
        command=f"tunebook final-test {path}",
        action=StageAction.FINAL_TEST,
        **common,
    )


def _mark_next(stages: list[Stage]) -> tuple[list[Stage], str | None]:
    """Mark the recommended step: watch a live run; else, before the first experiment, the
    first project-start decision not made (or stale); else the first stage in the playbook's
    order that is not done and can be taken now: run an experiment's trials, review and
    conclude it, adopt its best, exploit, the final test, and at last the next round. Once
    experiments exist, an undecided project-start stage is not pushed: their specs set those
    values. Returns the stages and the key of a stale decision when that is the recommended
    step (it stays `STALE`)."""
    if any(s.state is StageState.RUNNING for s in stages):
        return stages, None
    decisions = {kind.value for kind, *_ in DECISION_STAGES}
    started = any(s.key.startswith("experiment:") for s in stages)
    for index, stage in enumerate(stages):
        if stage.key in decisions and not started and stage.state is StageState.STALE:
            return stages, stage.key
        if stage.key in decisions and not started and stage.state is not StageState.DONE:
            reason = "the playbook decides this before the first experiment"
            stages[index] = replace(stage, state=StageState.NEXT, reason=reason)
            return stages, None
        if stage.key in decisions:
            continue
        if stage.state is StageState.NOT_STARTED and stage.actionable:
            reason = stage.reason or "every tuning round starts with one narrow goal (PB-7)"
            stages[index] = replace(stage, state=StageState.NEXT, reason=reason)
            return stages, None
    return stages, None


def _shown(value: Any) -> str:
    """A decision's or design's value as a person reads it."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={_shown(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
