"""`status` and the export show what `new` measured and which algorithm chose each point:
split sizes and data notes, per-trial samplers, and best values within one validation
example of the experiment's best (issue #8 items 5 and 6)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.sessions.helpers import run_cli
from tunebook.sessions import Session, TrialStatus, WorkloadFacts

V1_FILE = Path(__file__).parent / "sessions" / "data" / "v1_bayesian.tunebook"
FACTS = WorkloadFacts(
    "classification", 700, 200, 100, classes=3, notes=("target 'y' has many distinct values",)
)


def _session(path: Path, best_values: dict[str, float]) -> Path:
    """An experiment with one study per entry, each with one completed trial of that value."""
    with Session.create(path, "tabular") as session:
        session.record_workload_facts(FACTS)
        experiment = session.add_experiment("width", "Does width help?", {}, 50)
        for name, value in best_values.items():
            study = session.add_study(experiment.id, name, {}, "quasi-random", 1, 0, "error", "min")
            params = {"learning_rate": 0.01}
            trial = session.add_trial(study.id, params, 1, 2, sampler="quasi-random")
            session.start_trial(trial.id)
            session.finish_trial(trial.id, TrialStatus.COMPLETED, best_step=5, best_value=value)
    return path


@pytest.fixture
def close_call(tmp_path: Path) -> Path:
    # 200 validation examples: one example is 0.005. 0.2525 is half an example from 0.25;
    # 0.2600 is two examples away.
    return _session(tmp_path / "s.tunebook", {"w=64": 0.25, "w=128": 0.2525, "w=256": 0.26})


def test_status_json_carries_the_facts_and_the_one_example_marks(close_call: Path) -> None:
    result = run_cli("status", str(close_call), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["workload_facts"]["validation_examples"] == 200
    assert data["workload_facts"]["notes"] == list(FACTS.notes)
    studies = {s["name"]: s for s in data["experiments"][0]["studies"]}
    assert {n: s["within_one_example_of_best"] for n, s in studies.items()} == {
        "w=64": True,  # the best itself
        "w=128": True,
        "w=256": False,
    }
    assert studies["w=64"]["samplers"] == {"quasi-random": 1}


def test_status_and_markdown_mark_differences_below_one_example(close_call: Path) -> None:
    status = run_cli("status", str(close_call))
    assert status.returncode == 0, status.stderr
    text = status.stdout
    assert "split sizes: 700 training, 200 validation, 100 test examples" in text
    assert "note: target 'y' has many distinct values" in text
    marked = [line for line in text.splitlines() if "≈" in line and "│" in line]
    assert len(marked) == 1 and "w=128" in marked[0]
    assert "within one validation example of the experiment's best" in text
    report = run_cli("export", "--format", "md", str(close_call)).stdout
    assert "- Data: split sizes: 700 training, 200 validation, 100 test examples" in report
    rows = [line for line in report.splitlines() if line.startswith("| w=")]
    assert [("≈" in row) for row in rows] == [False, True, False]


def test_unknown_facts_are_said_to_be_unknown_and_mark_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.tunebook"
    shutil.copyfile(V1_FILE, path)  # a real v1 file: migrated, its split sizes never measured
    status = run_cli("status", str(path))
    assert status.returncode == 0, status.stderr
    assert "split sizes: unknown" in status.stdout and "≈" not in status.stdout
    data = json.loads(run_cli("status", str(path), "--json").stdout)
    assert data["workload_facts"] is None
    (study,) = data["experiments"][0]["studies"]
    assert study["within_one_example_of_best"] is None


def test_a_bayesian_study_shows_its_quasi_random_start_up_per_trial(tmp_path: Path) -> None:
    path = tmp_path / "old.tunebook"
    shutil.copyfile(V1_FILE, path)  # 12 bayesian trials: 10 start-up points, then 2 chosen
    status = run_cli("status", str(path)).stdout  # the table may wrap the cell at 80 columns
    assert "10 quasi-random +" in status and "2 bayesian" in status
    data = json.loads(run_cli("status", str(path), "--json").stdout)
    (study,) = data["experiments"][0]["studies"]
    assert study["samplers"] == {"quasi-random": 10, "bayesian": 2}
    rows = list(csv.DictReader(io.StringIO(run_cli("export", "--format", "csv", str(path)).stdout)))
    assert [row["sampler"] for row in rows] == ["quasi-random"] * 10 + ["bayesian"] * 2
    document = json.loads(run_cli("export", "--format", "json", str(path)).stdout)
    assert [t["sampler"] for t in document["trials"]] == ["quasi-random"] * 10 + ["bayesian"] * 2
    report = run_cli("export", "--format", "md", str(path)).stdout
    assert "10 quasi-random + 2 bayesian" in report
