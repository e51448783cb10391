"""Learning-rate schedules (PB-27) and their extension rules (PB-20)."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tunebook.core.training.schedules import Schedule, extend_cosine, extend_linear, lr_at
from tunebook.sessions.errors import BadInput


def test_constant_with_warmup_rises_linearly_then_holds():
    rates = [lr_at(t, 1.0, 10, "constant", warmup_steps=4) for t in range(1, 11)]
    assert rates == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def test_linear_decay_reaches_the_final_factor_at_the_last_step():
    assert lr_at(1, 2.0, 100, "linear") == pytest.approx(2.0 * 0.99)
    assert lr_at(50, 2.0, 100, "linear") == pytest.approx(1.0)
    assert lr_at(100, 2.0, 100, "linear") == 0.0
    assert lr_at(100, 2.0, 100, "linear", final_lr_factor=0.1) == pytest.approx(0.2)


def test_cosine_decay_after_warmup():
    assert lr_at(10, 1.0, 110, "cosine", warmup_steps=10) == 1.0
    assert lr_at(60, 1.0, 110, "cosine", warmup_steps=10) == pytest.approx(0.5)
    assert lr_at(110, 1.0, 110, "cosine", warmup_steps=10) == pytest.approx(0.0)


def test_decay_start_holds_the_base_rate_first():
    schedule = Schedule("linear", max_steps=100, decay_start=80)
    assert schedule.lr(80, 1.0) == 1.0
    assert schedule.lr(90, 1.0) == pytest.approx(0.5)


def test_extend_linear_lengthens_the_constant_part_only():
    old = Schedule("linear", max_steps=100, warmup_steps=10, decay_start=40)
    new = extend_linear(old, 300)
    assert (new.max_steps, new.warmup_steps, new.decay_start) == (300, 10, 240)
    for t in range(1, 41):
        assert new.lr(t, 1.0) == old.lr(t, 1.0)
    assert all(new.lr(t, 1.0) == 1.0 for t in range(40, 241))
    for t in range(41, 101):  # the decay keeps its length and shape, moved to the end
        assert new.lr(t + 200, 1.0) == pytest.approx(old.lr(t, 1.0))


def test_extend_cosine_keeps_base_rate_and_stretches_the_decay():
    old = Schedule("cosine", max_steps=100, warmup_steps=5, final_lr_factor=0.1)
    new = extend_cosine(old, 400)
    assert (new.max_steps, new.warmup_steps, new.final_lr_factor) == (400, 5, 0.1)
    assert new.lr(5, 3.0) == old.lr(5, 3.0) == 3.0
    assert new.lr(400, 3.0) == pytest.approx(old.lr(100, 3.0))
    for fraction in (0.2, 0.4, 0.6, 0.8):  # same shape at the same fraction of the decay
        assert new.lr(round(5 + 395 * fraction), 3.0) == pytest.approx(
            old.lr(round(5 + 95 * fraction), 3.0)
        )


def test_extensions_refuse_to_shorten():
    with pytest.raises(BadInput, match="only be extended: 50 steps < 100"):
        extend_linear(Schedule("linear", max_steps=100), 50)


def test_invalid_schedules_are_bad_input():
    with pytest.raises(BadInput, match="schedule 'step' is not known"):
        Schedule("step", max_steps=10)
    with pytest.raises(BadInput, match="warmup_steps must be between 0 and max_train_steps"):
        Schedule("constant", max_steps=10, warmup_steps=20)
    with pytest.raises(BadInput, match="hyperparameter 'warmup_steps' must be an integer"):
        Schedule.from_hparams({"warmup_steps": 2.5}, 10)


def test_from_hparams_fills_defaults():
    assert Schedule.from_hparams({"schedule": "cosine"}, 50) == Schedule("cosine", 50)


@given(
    kind=st.sampled_from(["constant", "linear", "cosine"]),
    max_steps=st.integers(2, 2000),
    warmup_fraction=st.floats(0, 0.5),
    decay_fraction=st.floats(0, 0.9),
    final=st.floats(0, 1),
)
def test_shape_properties(kind, max_steps, warmup_fraction, decay_fraction, final):
    schedule = Schedule(
        kind,
        max_steps,
        warmup_steps=int(warmup_fraction * max_steps),
        decay_start=int(decay_fraction * max_steps),
        final_lr_factor=final,
    )
    rates = [schedule.lr(t, 1.0) for t in range(1, max_steps + 1)]
    warmup = schedule.warmup_steps
    assert all(0 < r <= 1.0 for r in rates[:warmup])
    assert all(a < b for a, b in pairwise(rates[:warmup]))
    after = rates[max(warmup - 1, 0) :]
    assert all(b <= a + 1e-12 for a, b in pairwise(after))  # never increases again
    assert all(final - 1e-12 <= r <= 1.0 for r in after)
    if kind != "constant" and max_steps > max(warmup, schedule.decay_start):
        assert math.isclose(rates[-1], final, abs_tol=1e-12)
