"""What a trial's training curves say (PB-14, PB-19), by documented rules.

The validation objective is read in its own direction (`mode`); its *scale* is the larger
of the improvement the curve made (first value to best) and the size of its best value, so
the margins below are shares of how much the objective moved or of its level. Non-finite
points are ignored. The rules:

- **overfitting**: the last validation value is worse than the curve's best by more than
  `OVERFIT_MARGIN` of the scale (the best is not the last evaluation).
- **late_variance**: over the last `LATE_SHARE` of the training steps, the step-to-step
  noise of the training loss (the standard deviation of successive differences over √2,
  which ignores a steady trend) exceeds `LATE_NOISE` of the loss's median level there.
- **still_improving**: the last validation value falls in the last `RECENT_SHARE` of
  `max_train_steps`, is the curve's best, and beats the best before that window by more
  than `IMPROVING_MARGIN` of the scale: training longer would likely help.
- **saturated_early**: the validation objective first came within `FLAT_MARGIN` of the
  scale of its best in the first `SATURATED_BY` of `max_train_steps`, and stayed there
  after (the median of the later evaluations and the last one; a curve that rose again is
  overfitting instead): fewer steps would do.
- **train_loss_rising**: the training loss, smoothed by a running median over
  `SMOOTH_SHARE` of its points, rises after its minimum: the minimum lies before the last
  `RISE_MIN_SPAN` of the curve, the points after it trend upwards (a positive
  least-squares slope) and the last smoothed value exceeds the minimum by more than
  `RISE_MARGIN` of the larger of the curve's fall and the minimum's size. The playbook reads
  this as a likely bug.

Each rule needs at least `MIN_POINTS` points of the series it reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OVERFIT_MARGIN = 0.05
LATE_SHARE = 0.25
LATE_NOISE = 0.2
RECENT_SHARE = 0.2
IMPROVING_MARGIN = 0.03
SATURATED_BY = 0.5
FLAT_MARGIN = 0.03
SMOOTH_SHARE = 0.05
RISE_MIN_SPAN = 0.1
RISE_MARGIN = 0.1
MIN_POINTS = 3
#: The finding keys, in the order `diagnose` reports them.
KEYS = ("overfitting", "late_variance", "still_improving", "saturated_early", "train_loss_rising")


@dataclass(frozen=True)
class CurveFinding:
    """One thing a trial's curves show: `key` names the rule, `message` gives the numbers."""

    key: str
    message: str


def _finite(steps: Sequence[int], values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = np.isfinite(v)
    return s[keep], v[keep]


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return values
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(windows, axis=1)


def _validation_findings(
    steps: np.ndarray, values: np.ndarray, mode: str, max_train_steps: int
) -> list[CurveFinding]:
    sign = 1.0 if mode == "min" else -1.0
    loss = sign * values  # lower is better from here on; `sign * x` shows x as logged
    best_at = int(np.argmin(loss))
    best = float(loss[best_at])
    scale = max(abs(float(loss[0]) - best), abs(best))
    if scale == 0.0:
        return []
    findings = []
    gap = float(loss[-1]) - best
    if gap > OVERFIT_MARGIN * scale:
        findings.append(
            CurveFinding(
                "overfitting",
                f"validation objective best {sign * best:.4g} at step {int(steps[best_at])}, "
                f"{sign * float(loss[-1]):.4g} at the end (step {int(steps[-1])}): worse by "
                f"{gap / scale:.0%} of its scale (rule: > {OVERFIT_MARGIN:.0%})",
            )
        )
    window = steps > (1.0 - RECENT_SHARE) * max_train_steps
    if window[-1] and not window.all() and best_at == len(loss) - 1:
        before = float(loss[~window].min())
        gain = before - best
        if gain > IMPROVING_MARGIN * scale:
            findings.append(
                CurveFinding(
                    "still_improving",
                    f"validation objective improved from {sign * before:.4g} to "
                    f"{sign * best:.4g} in the last {RECENT_SHARE:.0%} of the "
                    f"{max_train_steps} steps ({gain / scale:.0%} of its scale; rule: > "
                    f"{IMPROVING_MARGIN:.0%}) and was still at its best at the end",
                )
            )
    near = loss <= best + FLAT_MARGIN * scale
    reached = int(np.argmax(near))
    if (
        steps[reached] <= SATURATED_BY * max_train_steps
        and float(np.median(loss[reached:])) - best <= FLAT_MARGIN * scale
        and gap <= FLAT_MARGIN * scale
    ):
        findings.append(
            CurveFinding(
                "saturated_early",
                f"validation objective came within {FLAT_MARGIN:.0%} of its scale of its best "
                f"{sign * best:.4g} by step {int(steps[reached])} of {max_train_steps} and "
                "stayed there",
            )
        )
    return findings


def _train_findings(steps: np.ndarray, values: np.ndarray) -> list[CurveFinding]:
    findings = []
    last_step = float(steps[-1])
    late = values[steps >= steps[0] + (1.0 - LATE_SHARE) * (last_step - steps[0])]
    if len(late) >= MIN_POINTS:
        level = abs(float(np.median(late)))
        noise = float(np.std(np.diff(late))) / math.sqrt(2.0)
        if level > 0.0 and noise > LATE_NOISE * level:
            findings.append(
                CurveFinding(
                    "late_variance",
                    f"training loss noise in the last {LATE_SHARE:.0%} of steps is "
                    f"{noise / level:.0%} of its level {level:.4g} (rule: > {LATE_NOISE:.0%})",
                )
            )
    smooth = _running_median(values, max(1, round(SMOOTH_SHARE * len(values))))
    low_at = int(np.argmin(smooth))
    low = float(smooth[low_at])
    after = smooth[low_at:]
    span = steps[low_at:]
    fall = float(smooth[: low_at + 1].max()) - low
    rise = float(smooth[-1]) - low
    if (
        len(after) >= MIN_POINTS
        and span[-1] - span[0] >= RISE_MIN_SPAN * (last_step - steps[0])
        and float(np.polyfit(span, after, 1)[0]) > 0.0
        and rise > RISE_MARGIN * max(fall, abs(low))
    ):
        findings.append(
            CurveFinding(
                "train_loss_rising",
                f"smoothed training loss rose from its minimum {low:.4g} at step "
                f"{int(steps[low_at])} to {float(smooth[-1]):.4g} at step {int(last_step)}: "
                "a rising training loss often means a bug or a too-high learning rate",
            )
        )
    return findings


def diagnose(
    train_steps: Sequence[int],
    train_loss: Sequence[float],
    val_steps: Sequence[int],
    val_values: Sequence[float],
    mode: str,
    max_train_steps: int,
) -> tuple[CurveFinding, ...]:
    """The findings the module's rules give for one trial's training loss and validation
    objective (`mode` 'min' or 'max'), in the order overfitting, late variance, still
    improving, saturated early, training loss rising; empty for a clean curve."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    findings: list[CurveFinding] = []
    vs, vv = _finite(val_steps, val_values)
    if len(vv) >= MIN_POINTS:
        findings += _validation_findings(vs, vv, mode, max_train_steps)
    ts, tv = _finite(train_steps, train_loss)
    if len(tv) >= MIN_POINTS:
        findings += _train_findings(ts, tv)
    return tuple(sorted(findings, key=lambda f: KEYS.index(f.key)))
