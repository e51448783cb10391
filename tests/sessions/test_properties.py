"""Property tests: every record kind written to a real file comes back out equal."""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunebook.sessions import DecisionKind, ProbeKind, Session, TrialStatus

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(max_size=30)
NAMES = st.text(min_size=1, max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
JSON_DICTS = st.dictionaries(TEXT, JSON, max_size=5)
PARAMS = st.dictionaries(
    NAMES,
    st.floats()
    | st.integers()
    | TEXT
    | st.booleans()
    | st.dictionaries(NAMES, st.floats() | st.integers() | TEXT | st.booleans(), max_size=3),
    max_size=6,
)


def same(a: Any, b: Any) -> bool:
    """Strict equality: types must match (1 is not True, 1.0 is not 1) and NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def same_number(a: float, b: float) -> bool:
    """Equal floats, NaN equal to NaN; the sign of zero is not kept (SQLite stores -0.0 as 0)."""
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_same_is_strict() -> None:
    """The comparator the properties rely on tells apart what `==` conflates."""
    assert same({"a": [math.nan, 1.0]}, {"a": [math.nan, 1.0]})
    assert not same(1, True) and not same(1, 1.0) and not same(0.0, -0.0)
    assert not same({"a": 1}, {"a": 1, "b": 2}) and not same([1], [1, 1])
    assert same_number(math.nan, math.nan) and not same_number(math.nan, 1.0)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One freshly created session file, copied for every example (faster than creating)."""
    path = tmp_path_factory.mktemp("template") / "template.tunebook"
    Session.create(path, "tabular").close()
    return path


@contextmanager
def fresh(template: Path) -> Iterator[Path]:
    """A private copy of the template session, deleted afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.tunebook"
        shutil.copy(template, path)
        yield path


@contextmanager
def written(template: Path, write: Callable[[Session], Any]) -> Iterator[tuple[Any, Session]]:
    """Write through one session, close it, then yield what `write` returned and a
    read-only session freshly opened on the same file."""
    with fresh(template) as path:
        with Session.open(path) as writer:
            returned = write(writer)
        with Session.open(path, read_only=True) as reader:
            yield returned, reader


def _study(session: Session) -> int:
    """An experiment with one study; returns the study id."""
    experiment = session.add_experiment("e", "", {}, 10)
    return session.add_study(experiment.id, "s", {}, "random", 1, 0, "m", "min").id


@SETTINGS
@given(
    entries=st.lists(
        st.tuples(st.sampled_from(DecisionKind), JSON, TEXT, JSON_DICTS), min_size=1, max_size=5
    )
)
def test_decisions_round_trip(template: Path, entries: list[Any]) -> None:
    """Decisions with arbitrary JSON values, rationales and evidence."""
    with written(template, lambda s: [s.record_decision(*e) for e in entries]) as (made, read):
        decisions = read.decisions()
        assert len(decisions) == len(entries)
        for decision, returned, (kind, value, rationale, evidence) in zip(decisions, made, entries):
            assert decision.kind is kind and decision.rationale == rationale
            assert same(decision.value, value) and same(decision.evidence, evidence)
            assert same(returned.value, value) and returned.id == decision.id
        for kind in {e[0] for e in entries}:
            in_force = read.decision(kind)
            newest = [e for e in entries if e[0] is kind][-1]
            assert in_force is not None and same(in_force.value, newest[1])


@SETTINGS
@given(
    experiments=st.dictionaries(
        NAMES, st.tuples(TEXT, JSON_DICTS, st.integers(0, 2**62)), min_size=1, max_size=4
    )
)
def test_experiments_round_trip(template: Path, experiments: dict[str, Any]) -> None:
    """Experiments by name and id, with arbitrary design dicts."""

    def write(session: Session) -> None:
        """The writes under test, through the public API."""
        for name, (goal, design, steps) in experiments.items():
            session.add_experiment(name, goal, design, steps)

    with written(template, write) as (_, read):
        assert [e.name for e in read.experiments()] == list(experiments)
        for name, (goal, design, steps) in experiments.items():
            experiment = read.experiment(name)
            assert experiment.goal == goal and experiment.max_train_steps == steps
            assert same(experiment.design, design)
            assert read.experiment(experiment.id) == experiment


@SETTINGS
@given(
    space=JSON_DICTS,
    fixed=JSON_DICTS,
    algorithm=TEXT,
    budget=INT64,
    seed=INT64,
    metric=TEXT,
    mode=st.sampled_from(["min", "max"]),
)
def test_studies_round_trip(
    template: Path,
    space: dict[str, Any],
    fixed: dict[str, Any],
    algorithm: str,
    budget: int,
    seed: int,
    metric: str,
    mode: str,
) -> None:
    """Studies with arbitrary search spaces and fixed hyperparameters."""

    def write(session: Session) -> Any:
        """The writes under test, through the public API."""
        experiment = session.add_experiment("e", "", {}, 10)
        return session.add_study(
            experiment.id, "s", space, algorithm, budget, seed, metric, mode, fixed
        )

    with written(template, write) as (made, read):
        (study,) = read.studies()
        assert study == read.study(made.id)
        assert (study.algorithm, study.budget, study.seed) == (algorithm, budget, seed)
        assert (study.objective_metric, study.objective_mode) == (metric, mode)
        assert same(study.search_space, space) and same(study.fixed, fixed)
        (summary,) = read.study_summaries()
        assert summary.study == study and summary.best_trial_id is None


@SETTINGS
@given(
    trials=st.lists(
        st.tuples(PARAMS, st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1), TEXT),
        min_size=1,
        max_size=4,
    ),
    best=st.floats(allow_nan=False),
)
def test_trials_round_trip(template: Path, trials: list[Any], best: float) -> None:
    """Trials with nested params of every JSON type, seeds, and a finished outcome."""

    def write(session: Session) -> list[Any]:
        """The writes under test, through the public API."""
        study_id = _study(session)
        made = [session.add_trial(study_id, p, i, d, reproduce=r) for p, i, d, r in trials]
        session.start_trial(made[0].id)
        session.finish_trial(made[0].id, TrialStatus.COMPLETED, best_step=3, best_value=best)
        return made

    with written(template, write) as (made, read):
        stored = read.trials()
        assert [t.number for t in stored] == list(range(len(trials)))
        for trial, (params, init_seed, data_seed, reproduce) in zip(stored, trials):
            assert same(trial.params, params)
            assert (trial.init_seed, trial.data_seed) == (init_seed, data_seed)
            assert trial.reproduce == reproduce
        assert [t.id for t in made] == [t.id for t in stored]
        assert made[1:] == stored[1:]
        first = read.trial(made[0].id)
        assert first.status is TrialStatus.COMPLETED and first.attempts == 1
        assert first.best_step == 3 and first.best_value == best


@SETTINGS
@given(
    logged=st.lists(
        st.tuples(
            st.integers(0, 2**53),
            st.dictionaries(NAMES, st.floats(), min_size=1, max_size=5),
        ),
        min_size=1,
        max_size=40,
    ),
    flush_every=st.integers(1, 64),
)
def test_metrics_round_trip(
    template: Path, logged: list[tuple[int, dict[str, float]]], flush_every: int
) -> None:
    """Metric values (inf, -inf, NaN included) by step; a re-logged step keeps the last value."""
    expected: dict[str, dict[int, float]] = {}
    for step, values in logged:
        for name, value in values.items():
            expected.setdefault(name, {})[step] = value

    def write(session: Session) -> int:
        """The writes under test, through the public API."""
        trial_id = session.add_trial(_study(session), {}, 0, 0).id
        writer = session.metrics_writer(trial_id, flush_every=flush_every)
        for step, values in logged:
            writer.add(step, values)
        writer.flush()
        assert writer.pending == 0
        return trial_id

    with written(template, write) as (trial_id, read):
        series = read.trial_series(trial_id)
        assert sorted(series) == sorted(expected) == read.series_names(trial_id)
        for name, points in expected.items():
            assert series[name].steps == sorted(points)
            stored = series[name].values
            assert all(map(same_number, stored, [points[s] for s in sorted(points)]))
            assert all(type(v) is float for v in stored)
        assert read.metric_count(trial_id) == sum(len(p) for p in expected.values())
        one = next(iter(expected))
        assert read.trial_series(trial_id, [one]).keys() == {one}


@SETTINGS
@given(
    launches=st.lists(
        st.tuples(JSON_DICTS, JSON_DICTS, TEXT, st.booleans()), min_size=1, max_size=4
    )
)
def test_launches_round_trip(template: Path, launches: list[Any]) -> None:
    """Launches with arbitrary configs and evidence, with or without a trial."""

    def write(session: Session) -> int:
        """The writes under test, through the public API."""
        trial_id = session.add_trial(_study(session), {}, 0, 0).id
        for config, evidence, note, linked in launches:
            session.add_launch(config, evidence, note, trial_id if linked else None)
        return trial_id

    with written(template, write) as (trial_id, read):
        stored = read.launches()
        assert len(stored) == len(launches)
        for launch, (config, evidence, note, linked) in zip(stored, launches):
            assert same(launch.config, config) and same(launch.evidence, evidence)
            assert launch.note == note
            assert launch.trial_id == (trial_id if linked else None)


@SETTINGS
@given(notes=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=6))
def test_notes_round_trip(template: Path, notes: list[tuple[str, str]]) -> None:
    """Notes on any target with any text; filtering by target keeps their order."""
    with written(template, lambda s: [s.add_note(t, x) for t, x in notes]) as (made, read):
        stored = read.notes()
        assert [(n.target, n.text) for n in stored] == notes
        assert stored == made
        for target in {t for t, _ in notes}:
            assert [n.text for n in read.notes(target)] == [x for t, x in notes if t == target]


@SETTINGS
@given(
    events=st.lists(st.tuples(TEXT, TEXT, TEXT, JSON_DICTS), min_size=1, max_size=6),
    limit=st.integers(1, 8),
)
def test_events_and_probes_round_trip(template: Path, events: list[Any], limit: int) -> None:
    """Events (after the creation event) and probes with arbitrary JSON data."""

    def write(session: Session) -> None:
        """The writes under test, through the public API."""
        for actor, kind, message, data in events:
            session.log_event(actor, kind, message, data)
            session.add_probe(ProbeKind.LEARNING_RATE, data, {"echo": data})

    with written(template, write) as (_, read):
        stored = read.events()
        assert stored[0].kind == "session.created"
        assert len(stored) == len(events) + 1
        for event, (actor, kind, message, data) in zip(stored[1:], events):
            assert (event.actor, event.kind, event.message) == (actor, kind, message)
            assert same(event.data, data)
        assert read.events(limit=limit) == stored[-limit:]
        for probe, (*_, data) in zip(read.probes(ProbeKind.LEARNING_RATE), events):
            assert same(probe.config, data) and same(probe.results, {"echo": data})
