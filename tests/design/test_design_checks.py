"""Design-time checks of `new` and `experiment add` (issue #8 items 2, 4, 5, 6), through the
`tunebook` command (a real subprocess where the process matters, else `main` in-process) on
real files, with real one-step training."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import warm_settings
from tests.execution.conftest import cli, sha256, spec_text
from tests.execution.workloads import TINY_REF
from tunebook.core import api
from tunebook.sessions import Session
from tunebook.tui.cli import main

BROKEN = Path(__file__).with_name("broken_workloads.py").resolve()


def tunebook(capsys: pytest.CaptureFixture[str], *args: object) -> subprocess.CompletedProcess[str]:
    """`tunebook ARGS` run in this process, shaped like `cli`'s result."""
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def _one_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    ("workload", "needle"),
    [
        ("WrongShape", "model output has shape (16, 3), expected (16,)"),
        ("TooFewLogits", "loss() raised IndexError"),
        ("WrongFirstLayer", "the model's forward pass raised RuntimeError"),
    ],
)
def test_new_refuses_a_workload_that_cannot_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workload: str, needle: str
) -> None:
    path = tmp_path / "s.tunebook"
    if workload == "WrongShape":  # once as a real process
        result = cli("new", path, "--workload", f"{BROKEN}:{workload}")
    else:
        result = tunebook(capsys, "new", path, "--workload", f"{BROKEN}:{workload}")
    _one_line(result, 2, needle)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a partial file


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ("[fixed]\noutputs = 2", "study 'broken': workload"),
        ("[scientific]\ninputs = [8, 5]", "study 'inputs=5': workload"),
    ],
)
def test_experiment_add_refuses_a_study_that_cannot_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, needle: str
) -> None:
    path = tmp_path / "s.tunebook"
    assert tunebook(capsys, "new", path, "--workload", f"{BROKEN}:Classifier").returncode == 0
    spec = tmp_path / "broken.toml"
    spec.write_text(
        'name = "broken"\ngoal = "g"\nmax_train_steps = 10\n'
        f"{section}\n[nuisance]\nlearning_rate = {{ low = 1e-3, high = 1e-2 }}\n"
        "[search]\ntrials = 2\n"
    )
    before = sha256(path)
    _one_line(tunebook(capsys, "experiment", "add", path, spec), 2, needle)
    assert sha256(path) == before


@pytest.fixture
def tiny_session(tmp_path: Path) -> Path:
    path = tmp_path / "s.tunebook"
    with Session.create(path, TINY_REF):
        pass
    return path


def test_bayesian_search_without_optuna_is_refused_at_experiment_add(
    tiny_session: Path, tmp_path: Path
) -> None:
    """optuna made unimportable for real: a sitecustomize shim maps it to None."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import sys\nsys.modules['optuna'] = None\n")
    spec = tmp_path / "bo.toml"
    spec.write_text(spec_text(algorithm="bayesian", trials=12))
    env = {"PYTHONPATH": str(shim), "PATH": str(Path(sys.executable).parent), **warm_settings()}
    before = sha256(tiny_session)
    command = [sys.executable, "-m", "tunebook.tui.cli", "experiment", "add"]
    result = subprocess.run(
        [*command, str(tiny_session), str(spec)], capture_output=True, text=True, env=env
    )
    _one_line(result, 2, '[search] algorithm = "bayesian"', "pip install 'tunebook[bayes]'")
    script = (
        "import sys\nfrom tunebook.core import api\nfrom tunebook.sessions import BadInput\n"
        "try:\n    api.add_experiment(sys.argv[1], sys.argv[2])\n"
        "except BadInput as exc:\n    print(exc)\n    sys.exit(2)\n"
    )
    by_api = subprocess.run(
        [sys.executable, "-c", script, str(tiny_session), str(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert by_api.returncode == 2, by_api.stderr
    assert "pip install 'tunebook[bayes]'" in by_api.stdout
    assert sha256(tiny_session) == before


def test_a_bayesian_budget_inside_the_start_up_says_so(
    tiny_session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "short.toml"
    short.write_text(spec_text(name="short", algorithm="bayesian", trials=4))
    result = tunebook(capsys, "experiment", "add", tiny_session, short)
    assert result.returncode == 0, result.stderr
    assert "every one of the 4 trials per study falls in the quasi-random start-up" in (
        result.stdout
    )
    assert "startup_trials = 10" in result.stdout
    longer = tmp_path / "longer.toml"
    longer.write_text(
        spec_text(name="longer", algorithm="bayesian", trials=4).replace(
            "trials = 4", "trials = 4\nstartup_trials = 2"
        )
    )
    result = tunebook(capsys, "experiment", "add", tiny_session, longer)
    assert result.returncode == 0, result.stderr
    assert "start-up" not in result.stdout


def test_each_trial_records_the_algorithm_that_chose_its_point(
    tiny_session: Path, tmp_path: Path
) -> None:
    bayesian = tmp_path / "bo.toml"
    bayesian.write_text(
        spec_text(name="bo", algorithm="bayesian", trials=4, steps=6).replace(
            "trials = 4", "trials = 4\nstartup_trials = 2"
        )
    )
    qmc = tmp_path / "qmc.toml"
    qmc.write_text(spec_text(name="qmc", trials=2, steps=6))
    api.add_experiment(tiny_session, bayesian)
    api.add_experiment(tiny_session, qmc)
    api.run(tiny_session, executor="inline")
    by_experiment = {
        name: [t.sampler for t in sorted(api.trials(tiny_session, name), key=lambda t: t.number)]
        for name in ("bo", "qmc")
    }
    assert by_experiment == {
        "bo": ["quasi-random", "quasi-random", "bayesian", "bayesian"],
        "qmc": ["quasi-random", "quasi-random"],
    }


def _csv(path: Path, labels: list[str]) -> Path:
    rng = np.random.default_rng(0)
    rows = [f"{a:.4f},{b:.4f},{label}" for (a, b), label in zip(rng.normal(size=(200, 2)), labels)]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path.resolve()


@pytest.mark.parametrize(
    ("labels", "options", "note"),
    [
        (
            [f"{v:.6f}" for v in np.random.default_rng(1).normal(size=200)],
            (),
            "note: the classification target has 140 distinct values in 140 training rows, "
            "more than 10% of them; if it is a quantity, create the session with "
            "-o task=regression",
        ),
        (
            ["0.5", "1.5"] * 100,
            (),
            "note: column 'y' holds fractional numbers such as '0.5', each treated as a class; "
            "if it is a quantity, create the session with -o task=regression",
        ),
        (
            [f"{v:.3f}" for v in np.random.default_rng(1).normal(size=200)],
            ("-o", "task=regression"),
            "note: the loss and mse are on the standardized target (column 'y' minus its "
            "training mean, divided by its training standard deviation)",
        ),
    ],
    ids=["many-distinct-labels", "fractional-labels", "regression"],
)
def test_new_notes_likely_mistakes_and_shows_the_split_sizes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    labels: list[str],
    options: tuple[str, ...],
    note: str,
) -> None:
    data = _csv(tmp_path / "data.csv", labels)
    path = tmp_path / "s.tunebook"
    args = ("new", path, "-w", "tabular", "-o", f"csv={data}", "-o", "target=y", *options)
    result = cli(*args) if options else tunebook(capsys, *args)  # one real process
    assert result.returncode == 0, result.stderr
    assert "split sizes: 140 training, 30 validation, 30 test examples" in result.stdout
    assert note in result.stdout
    with Session.open(path, read_only=True) as session:
        facts = session.info().workload_facts
    assert facts is not None
    assert (facts.train_examples, facts.validation_examples, facts.test_examples) == (140, 30, 30)
    assert any(note.removeprefix("note: ") in stored for stored in facts.notes)


def test_a_plain_classification_csv_draws_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _csv(tmp_path / "data.csv", ["cat", "dog", "bird", "fish"] * 50)
    result = tunebook(
        capsys,
        "new",
        tmp_path / "s.tunebook",
        "-w",
        "tabular",
        "-o",
        f"csv={data}",
        "-o",
        "target=y",
    )
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stdout
    assert "split sizes: 140 training, 30 validation, 30 test examples" in result.stdout


def test_new_checks_a_small_training_split_with_a_batch_that_fits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No batch size is chosen at `new`: 20 rows (14 for training) are not refused for being
    fewer than the default batch of 64."""
    data = tmp_path / "small.csv"
    data.write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    path = tmp_path / "s.tunebook"
    result = tunebook(capsys, "new", path, "-w", "tabular", "-o", f"csv={data}", "-o", "target=y")
    assert result.returncode == 0, result.stderr
    assert "split sizes: 14 training, 3 validation, 3 test examples" in result.stdout
