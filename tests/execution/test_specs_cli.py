"""`tunebook experiment add` with malformed specs: every mistake exits 2 with exactly one
line on stderr naming its key path, and the session file is left byte for byte as it was
(DESIGN.md, "The experiment spec" and "The command line")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.execution.conftest import cli, sha256
from tests.execution.workloads import TINY_REF
from tunebook.sessions import Session
from tunebook.tui.cli import main

BASE = """\
name = "lr"
goal = "Which learning rate?"
max_train_steps = 30

[fixed]
optimizer = "adam"
batch_size = 32

[scientific]
width = [8, 16]

[nuisance]
learning_rate = { low = 1e-3, high = 3e-2, scale = "log" }

[search]
algorithm = "quasi-random"
trials = 3
"""
LR = 'learning_rate = { low = 1e-3, high = 3e-2, scale = "log" }'
SEARCH = 'algorithm = "quasi-random"\ntrials = 3'


def edited(old: str, new: str) -> str:
    """BASE with `old` (which must occur once) replaced by `new`."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


#: (case id, spec text, what the one error line must contain: the key path at fault).
MALFORMED: list[tuple[str, str, tuple[str, ...]]] = [
    ("unknown-top-key", 'colour = "red"\n' + BASE, ("unknown key 'colour' at top level",)),
    ("unknown-search-key", edited("trials = 3", "trails = 3"), ("[search]", "'trails'")),
    (
        "unknown-dimension-key",
        edited('scale = "log" }', 'scale = "log", step = 2 }'),
        ("[nuisance.learning_rate]", "step"),
    ),
    (
        "steps-as-string",
        edited("max_train_steps = 30", 'max_train_steps = "30"'),
        ("max_train_steps",),
    ),
    ("trials-as-float", edited("trials = 3", "trials = 2.5"), ("[search] trials",)),
    (
        "fixed-as-table",
        edited("batch_size = 32", "batch_size = { a = 1 }"),
        ("[fixed] batch_size",),
    ),
    ("section-as-value", edited("[fixed]\n", 'fixed = "adam"\n[other]\n'), ("fixed",)),
    ("bad-scale", edited('scale = "log"', 'scale = "log2"'), ("[nuisance.learning_rate]", "log2")),
    (
        "low-above-high",
        edited(LR, "learning_rate = { low = 0.1, high = 0.01 }"),
        ("[nuisance.learning_rate]",),
    ),
    (
        "low-equals-high",
        edited(LR, "learning_rate = { low = 0.01, high = 0.01 }"),
        ("[nuisance.learning_rate]",),
    ),
    (
        "log-with-zero-bound",
        edited("low = 1e-3", "low = 0.0"),
        ("[nuisance.learning_rate]",),
    ),
    (
        "log-with-negative-bound",
        edited("low = 1e-3", "low = -1e-3"),
        ("[nuisance.learning_rate]",),
    ),
    (
        "unknown-nuisance-hparam",
        edited("learning_rate = {", "learning_rat = {"),
        ("[nuisance.learning_rat]", "learning_rate"),
    ),
    ("unknown-fixed-hparam", edited("batch_size = 32", "colour = 3"), ("[fixed.colour]",)),
    ("scientific-without-values", edited("width = [8, 16]", "width = []"), ("[scientific.width]",)),
    ("scientific-not-array", edited("width = [8, 16]", "width = 8"), ("[scientific.width]",)),
    (
        "scientific-mixed-kinds",
        edited("width = [8, 16]", 'width = [8, "wide"]'),
        ("[scientific.width]",),
    ),
    (
        "same-name-in-two-sections",
        edited("batch_size = 32", "batch_size = 32\nwidth = 8"),
        ("'width'", "[fixed]", "[scientific]"),
    ),
    (
        "max-train-steps-as-nuisance",
        edited(LR, LR + "\nmax_train_steps = { low = 10, high = 100 }"),
        ("max_train_steps", "nuisance"),
    ),
    ("bad-toml", edited('name = "lr"', 'name = "lr'), ("invalid TOML at line 1",)),
    (
        "grid-over-three-dims",
        edited(
            f"{LR}\n\n[search]\n{SEARCH}",
            f'{LR}\none_minus_beta1 = {{ low = 0.01, high = 0.5, scale = "log" }}\n'
            'epsilon = { low = 1e-9, high = 1e-6, scale = "log" }\n\n[search]\n'
            'algorithm = "grid"',
        ),
        ("[search] grid search covers at most 2",),
    ),
    ("zero-trials", edited("trials = 3", "trials = 0"), ("[search] trials",)),
    (
        "mode-maximize",
        BASE + '\n[objective]\nmetric = "error"\nmode = "maximize"\n',
        ("[objective] mode", "maximize"),
    ),
    (
        "unknown-algorithm",
        edited('algorithm = "quasi-random"', 'algorithm = "hyperband"'),
        ("[search] algorithm", "hyperband"),
    ),
    (
        "conditional-on-unknown-value",
        BASE.replace(
            "\n[search]",
            "\n[nuisance.when.width.32]\nlearning_rate = { low = 0.1, high = 0.5 }\n\n[search]",
        ),
        ("[nuisance.when.width.32]",),
    ),
    (
        "conditional-on-non-scientific",
        BASE.replace(
            "\n[search]",
            "\n[nuisance.when.optimizer.adam]\nlearning_rate = { low = 0.1, high = 0.5 }\n"
            "\n[search]",
        ),
        ("[nuisance.when.optimizer]",),
    ),
    ("missing-name", edited('name = "lr"\n', ""), ("name is missing",)),
    (
        "combined-grid",
        edited(SEARCH, 'algorithm = "grid"\nlayout = "combined"'),
        ("[search] layout",),
    ),
    ("negative-seed", edited("trials = 3", "trials = 3\nseed = -1"), ("[search] seed",)),
    (
        "eval-every-beyond-budget",
        edited("max_train_steps = 30", "max_train_steps = 30\neval_every = 31"),
        ("eval_every",),
    ),
    ("dimension-not-a-table", edited(LR, "learning_rate = 0.1"), ("[nuisance.learning_rate]",)),
    (
        "architecture-value-of-the-wrong-kind",
        edited("width = [8, 16]", 'width = ["wide", "narrow"]'),
        ("study 'width=wide'", "hyperparameter 'width' must be a number"),
    ),
    (
        "optimizer-value-torch-rejects",
        edited(LR, "learning_rate = { low = -1e-3, high = 3e-2 }"),
        ("study 'width=8'", "Invalid learning rate"),
    ),
    # Issue #7 item 6: values that crashed (exit 1) with an internal error.
    ("batch-size-inf", edited("batch_size = 32", "batch_size = inf"), ("[fixed] batch_size",)),
    ("batch-size-nan", edited("batch_size = 32", "batch_size = nan"), ("[fixed] batch_size",)),
    (
        "batch-size-string",
        edited("batch_size = 32", 'batch_size = "abc"'),
        ("[fixed] batch_size: ",),
    ),
    ("batch-size-array", edited("batch_size = 32", "batch_size = [64]"), ("[fixed] batch_size: ",)),
    ("grad-clip-string", edited("batch_size = 32", 'grad_clip = "none"'), ("[fixed] grad_clip: ",)),
    ("decay-start-nan", edited("batch_size = 32", "decay_start = nan"), ("[fixed] decay_start",)),
    (
        "decay-start-nan-nuisance",
        edited(LR, LR + "\ndecay_start = { values = [1, nan] }"),
        ("[nuisance.decay_start]", "finite"),
    ),
    ("trials-2-63", edited("trials = 3", f"trials = {2**63}"), ("[search] trials", "at most")),
    (
        "steps-2-63",
        edited("max_train_steps = 30", f"max_train_steps = {2**63}"),
        ("max_train_steps must be at most",),
    ),
    ("huge-integer", edited("trials = 3", "trials = " + "9" * 5000), ("too many digits",)),
    (
        "nested-5000-deep",
        edited("batch_size = 32", "batch_size = " + "[" * 5000 + "]" * 5000),
        ("nested too deeply",),
    ),
    ("key-with-newline", edited("batch_size = 32", r'"a\nb" = 1'), (r'[fixed."a\nb"]',)),
    (
        "key-with-escape-sequence",
        edited("trials = 3", "trials = 3\n" + r'"\u001b[2J\u202e" = 1'),
        (r"[search] unknown key '\x1b[2J\u202e'",),
    ),
    (
        "startup-trials-without-bayesian",
        edited("trials = 3", "trials = 3\nstartup_trials = 2"),
        ("[search] startup_trials applies only",),
    ),
    (
        "startup-trials-zero",
        edited(SEARCH, 'algorithm = "bayesian"\ntrials = 3\nstartup_trials = 0'),
        ("[search] startup_trials must be a positive integer",),
    ),
    (
        "too-many-studies",
        edited("width = [8, 16]", f"width = {list(range(1, 41))}\nsleep_ms = {list(range(40))}"),
        ("[scientific]", "1,600 combinations"),
    ),
]


@pytest.fixture
def session(tmp_path: Path) -> Path:
    """An empty `Tiny` session, cleanly closed."""
    path = tmp_path / "s.tunebook"
    with Session.create(path, TINY_REF):
        pass
    return path


def _experiments(path: Path) -> list[str]:
    with Session.open(path, read_only=True) as session:
        return [e.name for e in session.experiments()]


def _refused(session: Path, spec: Path, capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    """Run `experiment add` in this process and check the whole bad-input contract."""
    before = sha256(session)
    code = main(["experiment", "add", str(session), str(spec)])
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert out == ""
    assert len(lines) == 1, err
    assert lines[0].startswith(f"tunebook: {spec}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert sha256(session) == before
    assert _experiments(session) == []


def test_the_base_spec_is_accepted(
    session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "base.toml"
    spec.write_text(BASE)
    assert main(["experiment", "add", str(session), str(spec)]) == 0
    assert "added experiment 'lr' with 2 studies" in capsys.readouterr().out
    assert _experiments(session) == ["lr"]


@pytest.mark.parametrize(
    ("text", "needles"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_spec_is_refused_and_changes_nothing(
    session: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    needles: tuple[str, ...],
) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    _refused(session, spec, capsys, *needles)


def test_unreadable_specs_are_refused(
    session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(session, tmp_path / "missing.toml", capsys, "cannot read the spec")
    _refused(session, tmp_path, capsys, "cannot read the spec")  # a directory
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "débit"\n'.encode("latin-1"))
    _refused(session, latin1, capsys, "not UTF-8")


def test_a_second_experiment_of_the_same_name_is_refused(
    session: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "base.toml"
    spec.write_text(BASE)
    assert main(["experiment", "add", str(session), str(spec)]) == 0
    capsys.readouterr()
    before = sha256(session)
    code = main(["experiment", "add", str(session), str(spec)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "'lr'" in err, err
    assert sha256(session) == before
    assert _experiments(session) == ["lr"]


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (SEARCH, 'trials = 1000000000\nlayout = "combined"', "[search] trials must be at most"),
        (SEARCH, 'algorithm = "grid"\ngrid_points = 300000000', "[search] grid_points"),
        (
            f"{LR}\n\n[search]\n{SEARCH}",
            f"{LR}\none_minus_beta1 = {{ low = 0.01, high = 0.5 }}\n\n[search]\n"
            'algorithm = "grid"\ngrid_points = 9000',
            "the grid has 81,000,000 points",
        ),
    ],
    ids=["combined-billion-trials", "grid-300-million-points", "grid-81-million-cells"],
)
def test_specs_that_hung_or_grew_to_gigabytes_are_refused_at_once(
    session: Path, tmp_path: Path, old: str, new: str, needle: str
) -> None:
    """Issue #7 item 6: a combined layout with 10^9 trials hung (every planned point was
    drawn), a grid of 3·10^8 points grew to gigabytes; both are refused by documented limits."""
    spec = tmp_path / "big.toml"
    spec.write_text(edited(old, new))
    before = sha256(session)
    result = cli("experiment", "add", session, spec, timeout=60)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1 and needle in result.stderr, result.stderr
    assert sha256(session) == before


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (edited('name = "lr"', 'name = "lr'), "invalid TOML at line 1"),
        (edited("width = [", "widht = ["), "[scientific.widht]"),
    ],
    ids=["bad-toml", "unknown-hparam"],
)
def test_the_real_command_exits_2_with_one_line(
    session: Path, tmp_path: Path, text: str, needle: str
) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    before = sha256(session)
    result = cli("experiment", "add", session, spec)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and needle in result.stderr, result.stderr
    assert sha256(session) == before


def test_a_second_experiment_of_the_same_name_is_refused_naming_the_spec(tmp_path: Path) -> None:
    session = tmp_path / "s.tunebook"
    Session.create(session, TINY_REF).close()
    spec = tmp_path / "lr.toml"
    spec.write_text(BASE)
    assert cli("experiment", "add", session, spec).returncode == 0
    before = sha256(session)
    again = cli("experiment", "add", session, spec)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1, again.stderr
    assert again.stderr.startswith(f"tunebook: {spec}: name: an experiment named 'lr' already")
    assert sha256(session) == before
