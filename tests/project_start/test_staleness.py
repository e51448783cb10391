"""Deciding the optimizer again marks the batch-size decision stale, everywhere it shows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.project_start.helpers import new_session
from tests.project_start.workloads import SLOW_REF
from tunebook.core.experiments import session_workload
from tunebook.core.project_start.decisions import decide
from tunebook.core.project_start.optimizer import decide_optimizer
from tunebook.core.session_map import StageState, session_map
from tunebook.sessions import DecisionKind, Session


def batch_size_stage(session: Session) -> object:
    """The session map's batch-size stage."""
    return next(s for s in session_map(session).stages if s.key == "batch_size")


def status_json(path: Path) -> dict:
    """`tunebook status PATH --json`, run as a command."""
    done = subprocess.run(
        [sys.executable, "-m", "tunebook.tui.cli", "status", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_changing_the_optimizer_makes_the_batch_size_stale(tmp_path: Path) -> None:
    """A batch size decided with adam is stale once the optimizer becomes sgd; deciding the
    optimizer to the same effective value (a default spelled out, another learning rate)
    changes nothing; deciding the batch size anew clears the flag."""
    path = new_session(tmp_path, SLOW_REF, optimizer="adam")
    with Session.open(path) as session:
        workload = session_workload(session)
        decide(session, workload, DecisionKind.BATCH_SIZE, 64, "measured")
        # The same optimizer again: a default spelled out, and a learning rate (which is
        # decided with the initial configuration, not with the batch size).
        decide_optimizer(session, workload, "adam", {"one_minus_beta1": 0.1})
        decide_optimizer(session, workload, "adam", {"learning_rate": 0.01})
        assert not session.decision(DecisionKind.BATCH_SIZE).stale
        assert batch_size_stage(session).state is StageState.DONE

        decide_optimizer(session, workload, "sgd")
        decision = session.decision(DecisionKind.BATCH_SIZE)
        assert decision.stale
        assert "optimizer" in decision.stale_reason and "sgd" in decision.stale_reason
        stage = batch_size_stage(session)
        assert stage.state is StageState.STALE
        assert stage.reason == decision.stale_reason

    shown = {d["kind"]: d for d in status_json(path)["decisions"]}
    assert shown["batch_size"]["stale"] is True
    assert shown["batch_size"]["value"] == 64
    assert shown["optimizer"]["stale"] is False

    with Session.open(path) as session:
        decide(session, session_workload(session), DecisionKind.BATCH_SIZE, 32, "re-probed")
        assert not session.decision(DecisionKind.BATCH_SIZE).stale
        assert batch_size_stage(session).state is StageState.DONE
