"""A resumed trial reproduces an uninterrupted one exactly (deterministic CPU mode).

The interrupted run and the resumption each happen in a fresh interpreter, as after a
crash: this file doubles as the script they run (``python test_resume.py run|resume``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tunebook.core.execution.trial_config import (
    DEFAULT_CHECKPOINT_MIN_SECONDS,
    config_from_hparams,
)
from tunebook.core.training import (
    OPTIMIZERS,
    MemoryReporter,
    TrainingStatus,
    TrialConfig,
    train_trial,
)
from tunebook.core.workloads import load_workload
from tunebook.core.workloads.loading import workload_class_name
from tunebook.sessions.errors import BadInput

STOP_AFTER = 13
CHECKPOINT_EVERY = 5


def config(**changes: Any) -> TrialConfig:
    """Exercises every piece of state: dropout RNG, ghost batch norm buffers, Adam moments,
    warmup + cosine schedule, clipping, several epochs (7 steps each), best-2 tracking."""
    settings: dict[str, Any] = {
        "hparams": {
            "width": 16,
            "depth": 2,
            "dropout": 0.2,
            "norm": "batch",
            "virtual_batch_size": 128,
            "learning_rate": 3e-3,
            "schedule": "cosine",
            "warmup_steps": 3,
        },
        "optimizer": "adam",
        "batch_size": 512,
        "max_train_steps": 24,
        "eval_every": 4,
        "eval_train_examples": 100,
        "keep_best": 2,
        "checkpoint_every": CHECKPOINT_EVERY,
        "grad_clip": 1.0,
        "init_seed": 3,
        "data_seed": 4,
        "threads": 1,
    }
    return TrialConfig(**{**settings, **changes})


def recorded(reporter: MemoryReporter, upto: int | None = None) -> dict[str, Any]:
    """Every logged value except wall-clock timings, as JSON-able data."""

    def keep(step: int) -> bool:
        return upto is None or step <= upto

    return {
        "steps": {
            str(step): {k: v for k, v in values.items() if not k.startswith("time/")}
            for step, values in sorted(reporter.steps.items())
            if keep(step)
        },
        "evals": {str(step): dict(v) for step, v in sorted(reporter.evals.items()) if keep(step)},
        "best": [[value, step] for value, step, _ in reporter.best],
    }


def merged(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Metrics of the interrupted run up to its checkpoint, then those of the resumption."""
    return {
        "steps": {**before["steps"], **after["steps"]},
        "evals": {**before["evals"], **after["evals"]},
        "best": after["best"],
    }


def interrupted_run(folder: Path) -> None:
    """Run until ``STOP_AFTER`` and store the metrics and every resume state."""
    reporter = MemoryReporter(stop_after=STOP_AFTER)
    result = train_trial(load_workload("tabular"), config(), reporter)
    assert result.status is TrainingStatus.STOPPED
    for step, state in reporter.states.items():
        (folder / f"state-{step}.pt").write_bytes(state)
    (folder / "interrupted.json").write_text(json.dumps(recorded(reporter)))


def resumed_run(folder: Path, step: int) -> None:
    """Resume from the state saved at ``step`` and store the metrics logged from there on."""
    reporter = MemoryReporter()
    state = (folder / f"state-{step}.pt").read_bytes()
    # The reporter of a real session still holds the best checkpoints from before the stop.
    before = json.loads((folder / "interrupted.json").read_text())
    reporter.best = [(value, best_step, b"") for value, best_step in before["best"]]
    result = train_trial(load_workload("tabular"), config(), reporter, resume_state=state)
    assert result.status is TrainingStatus.COMPLETED and result.steps_done == 24
    (folder / f"resumed-{step}.json").write_text(json.dumps(recorded(reporter)))


def python(*args: str) -> None:
    completed = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr


def test_resumed_trial_in_new_processes_matches_an_uninterrupted_one(tmp_path: Path):
    reporter = MemoryReporter()
    result = train_trial(load_workload("tabular"), config(), reporter)
    assert result.status is TrainingStatus.COMPLETED
    uninterrupted = json.loads(json.dumps(recorded(reporter)))

    python("run", str(tmp_path))
    saved = sorted(int(p.stem.split("-")[1]) for p in tmp_path.glob("state-*.pt"))
    assert saved == [5, 10, STOP_AFTER]  # periodic checkpoints, then the one at the stop
    python("resume", str(tmp_path), "10", str(STOP_AFTER))

    interrupted = json.loads((tmp_path / "interrupted.json").read_text())
    for step in (10, STOP_AFTER):  # as after a crash at step 13, and after a clean stop
        before = {
            "steps": {k: v for k, v in interrupted["steps"].items() if int(k) <= step},
            "evals": {k: v for k, v in interrupted["evals"].items() if int(k) <= step},
        }
        after = json.loads((tmp_path / f"resumed-{step}.json").read_text())
        assert merged(before, after) == uninterrupted  # bitwise: floats round-trip JSON


def test_resumed_images_trial_with_augmentation_matches_in_process():
    workload = load_workload("images")
    settings = {
        "hparams": {"channels": 4, "stages": 1, "augment": True, "learning_rate": 1e-2},
        "batch_size": 16,
        "max_train_steps": 8,
        "eval_every": 4,
        "eval_batch_size": 500,
        "checkpoint_every": 3,
    }
    full = MemoryReporter()
    train_trial(workload, TrialConfig(**settings), full)
    first = MemoryReporter(stop_after=5)
    train_trial(workload, TrialConfig(**settings), first)
    assert sorted(first.states) == [3, 5]
    second = MemoryReporter()
    train_trial(workload, TrialConfig(**settings), second, resume_state=first.states[3])
    before = recorded(first, upto=3)
    assert merged(before, recorded(second))["steps"] == recorded(full)["steps"]
    assert merged(before, recorded(second))["evals"] == recorded(full)["evals"]


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_state_survives_a_resume(optimizer: str):
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05}.get(optimizer, 3e-3)
    settings = config(
        optimizer=optimizer,
        hparams={**config().hparams, "learning_rate": lr},
        max_train_steps=6,
        eval_every=3,
        checkpoint_every=2,
    )
    full, first, second = MemoryReporter(), MemoryReporter(stop_after=3), MemoryReporter()
    train_trial(load_workload("tabular"), settings, full)
    train_trial(load_workload("tabular"), settings, first)
    train_trial(load_workload("tabular"), settings, second, resume_state=first.states[2])
    assert merged(recorded(first, upto=2), recorded(second))["steps"] == recorded(full)["steps"]


def test_state_from_another_trial_is_refused():
    reporter = MemoryReporter(stop_after=2)
    train_trial(load_workload("tabular"), config(), reporter)
    state = reporter.states[2]
    with pytest.raises(BadInput, match=r"belongs to a different trial \(its settings differ\)"):
        train_trial(load_workload("tabular"), config(batch_size=256), MemoryReporter(), state)
    with pytest.raises(BadInput, match=r"\(its hyperparameters differ\)"):
        changed = config(hparams={**config().hparams, "dropout": 0.3})
        train_trial(load_workload("tabular"), changed, MemoryReporter(), state)
    # Values equal after coercion and omitted defaults do not count as changes.
    same = config(hparams={**config().hparams, "width": 16.0, "activation": "relu"}, threads=2)
    assert train_trial(load_workload("tabular"), same, MemoryReporter(), state).steps_done == 24


def test_a_workload_file_moved_or_touched_still_takes_its_trials_state(tmp_path: Path):
    """A workload file's module name carries its path and modification time, but a resume
    state names the class by its file's stem: a Ray node unpacks the file elsewhere on every
    run, and a copy or `touch` changes its time. A different class is still refused."""
    source = Path(__file__).parents[1] / "execution" / "workloads.py"
    first, second = tmp_path / "a" / "workloads.py", tmp_path / "b" / "workloads.py"
    for copy in (first, second):
        copy.parent.mkdir()
        copy.write_text(source.read_text())
    tiny = config_from_hparams(
        load_workload(f"{first}:Tiny"),
        {"learning_rate": 0.01},
        max_train_steps=20,
        settings={"checkpoint_every": 5},
    )
    stopped = MemoryReporter(stop_after=10)
    train_trial(load_workload(f"{first}:Tiny"), tiny, stopped)
    state = stopped.states[10]
    resumed = MemoryReporter()
    result = train_trial(load_workload(f"{second}:Tiny"), tiny, resumed, state)
    assert result.status is TrainingStatus.COMPLETED and min(resumed.steps) == 11
    second.write_text(source.read_text().replace("class Tiny(", "class Other(") + "\nTiny = 0\n")
    with pytest.raises(BadInput, match=r"\(its workload differ\)"):
        train_trial(load_workload(f"{second}:Other"), tiny, MemoryReporter(), state)
    # States saved before the class was named by its stem carry the import name: the same.
    assert workload_class_name("tunebook_workload_my_data_0123456789ab.Tiny") == "my_data.Tiny"
    builtin = "tunebook.core.workloads.tabular.TabularWorkload"
    assert workload_class_name(builtin) == builtin


def test_a_trial_shorter_than_the_time_floor_saves_no_resume_state_until_stopped():
    """`checkpoint_min_seconds`: a trial that ends within the floor writes no intermediate
    resume state (re-running it costs less); 0 saves at each cadence step; a stop still
    saves; and a state saved under one floor resumes under another."""
    floor = config(checkpoint_min_seconds=3600.0)
    unsaved = MemoryReporter()
    train_trial(load_workload("tabular"), floor, unsaved)
    assert unsaved.states == {}
    every = MemoryReporter()
    train_trial(load_workload("tabular"), config(), every)
    assert sorted(every.states) == [5, 10, 15, 20]
    stopped = MemoryReporter(stop_after=STOP_AFTER)
    train_trial(load_workload("tabular"), floor, stopped)
    assert sorted(stopped.states) == [STOP_AFTER]
    state = stopped.states[STOP_AFTER]
    assert train_trial(load_workload("tabular"), config(), MemoryReporter(), state).steps_done == 24


def test_the_time_floor_applies_only_to_the_default_cadence():
    """A design that sets `checkpoint_every` gets exactly that cadence; the default one (a
    tenth of the budget) waits DEFAULT_CHECKPOINT_MIN_SECONDS between saves."""
    workload = load_workload("tabular")
    default = config_from_hparams(workload, {}, max_train_steps=300)
    assert (default.checkpoint_every, default.checkpoint_min_seconds) == (
        30,
        DEFAULT_CHECKPOINT_MIN_SECONDS,
    )
    chosen = config_from_hparams(
        workload, {}, max_train_steps=300, settings={"checkpoint_every": 30}
    )
    assert (chosen.checkpoint_every, chosen.checkpoint_min_seconds) == (30, 0.0)
    with pytest.raises(BadInput, match="checkpoint_min_seconds must be a non-negative number"):
        config(checkpoint_min_seconds=float("nan"))


def test_corrupt_state_is_bad_input():
    with pytest.raises(BadInput, match="saved trial state is unreadable"):
        train_trial(load_workload("tabular"), config(), MemoryReporter(), b"not a state")


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2])
    if command == "run":
        interrupted_run(folder)
    else:
        for step in sys.argv[3:]:
            resumed_run(folder, int(step))
