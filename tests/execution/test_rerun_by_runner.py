"""`tunebook run --rerun TRIAL`: the runner resets a finished trial and trains it again
(the app's rerun, so that the app itself never writes the session file)."""

from __future__ import annotations

from pathlib import Path

from tests.execution.conftest import cli, new_session, spec_text, trials_of
from tunebook.core.execution.runner import Runner
from tunebook.sessions import Session, TrialStatus


def test_rerun_trains_a_finished_trial_again_with_the_same_result(tmp_path: Path) -> None:
    path = new_session(tmp_path, spec_text(steps=20, trials=2))
    Runner(path, executor="inline").run()
    first = {t.id: t for t in trials_of(path)}
    target = min(first)
    assert first[target].status is TrialStatus.COMPLETED
    Runner(path, executor="inline", rerun=[target]).run()
    again = {t.id: t for t in trials_of(path)}
    assert again[target].attempts == first[target].attempts + 1
    assert again[target].best_value == first[target].best_value  # deterministic on CPU
    untouched = max(first)
    assert again[untouched].attempts == first[untouched].attempts
    with Session.open(path, read_only=True) as session:
        assert [e.kind for e in session.events()].count("trial.rerun") == 1


def test_an_unknown_trial_is_one_sentence_and_nothing_changes(tmp_path: Path) -> None:
    path = new_session(tmp_path, spec_text(steps=20, trials=1))
    before = trials_of(path)
    result = cli("run", path, "--executor", "inline", "--rerun", "99")
    assert result.returncode == 2
    assert result.stderr.strip() == f"tunebook: no trial 99 in '{path}'"
    assert trials_of(path) == before  # not even the planned trials were drawn
    with Session.open(path, read_only=True) as session:
        assert session.runner() is None
