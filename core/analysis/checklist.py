"""The checklist every study's review opens with (PB-11 … PB-14, PB-19, PB-21).

Each item gives a verdict (pass / warn / fail), one paragraph of evidence with the
numbers, a concrete next step (empty on a pass) and its numbers as JSON-able `data`. A
study with no finished trials gives items that say so (warn). The rules, in the items'
order:

- **boundaries** (PB-12): for each float/int range, where the best `top` feasible trials
  sit on the range's own scale (0 at low, 1 at high; log ranges in log space). Any of them
  within the outer `EDGE_SHARE` at one end warns and proposes widening that end by
  `WIDEN_SHARE` of the range's width on its own scale (a factor for log ranges), integer
  ends rounded outwards. Two exceptions: when more than `INSTABILITY_SHARE` of the trials
  that ran within that edge band diverged, the edge is read as an instability and nothing
  is proposed; a linear range starting at 0 keeps 0 as its natural end (no dropout, no
  weight decay), so best trials there are reported without a warning.
- **density** (PB-13): the bootstrap of "the best objective found with k trials"
  (`tunebook.core.analysis.bootstrap`). Searching improved the median best from k = 1 to
  k = n; when more than `DENSITY_SHARE` of that improvement came from the second half of
  the trials (median at n // 2 versus n), more trials would likely still help: warn.
- **infeasible** (PB-11): the share of trials that diverged among those that ran (completed
  or infeasible; failed ones broke and are counted apart). Above `INFEASIBLE_WARN` warns,
  above `INFEASIBLE_FAIL` fails. Each float/int range is cut into thirds on its own scale;
  the third with the highest divergence share is named when it holds at least
  `MIN_REGION_TRIALS` trials and its share is at least `CONCENTRATED_SHARE` and
  `CONCENTRATION` times the overall share.
- **curves** (PB-14): `tunebook.core.analysis.curves.diagnose` on the best `top` trials'
  training loss and validation objective; any finding warns, and so do best trials that
  recorded no curves at all.
- **best_steps** (PB-19): where the feasible trials' best checkpoints land in
  `max_train_steps`: all within the first `EARLY_SHARE` warns and proposes
  `SHORTER_HEADROOM` times the latest best step; more than `MOST_SHARE` of them in the last
  `1 - LATE_FROM` warns and proposes `LONGER_FACTOR` times the steps.
- **input_bound** (PB-21): trials whose data wait `data / (data + compute)` exceeds
  `INPUT_BOUND_SHARE`, the batch-size probe's threshold; any warns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import numpy as np

from tunebook.core.analysis.bootstrap import best_of_k
from tunebook.core.analysis.curves import KEYS as CURVE_KEYS
from tunebook.core.analysis.curves import diagnose
from tunebook.core.analysis.study import StudyView
from tunebook.core.project_start.batch_size import INPUT_BOUND_SHARE
from tunebook.core.search.space import Float, Int, is_number
from tunebook.sessions import Session, Trial, TrialStatus

EDGE_SHARE = 0.1
WIDEN_SHARE = 0.5
INSTABILITY_SHARE = 0.5
DENSITY_SHARE = 0.1
INFEASIBLE_WARN = 0.2
INFEASIBLE_FAIL = 0.5
MIN_REGION_TRIALS = 3
CONCENTRATED_SHARE = 0.5
CONCENTRATION = 1.5
EARLY_SHARE = 0.1
LATE_FROM = 0.75
MOST_SHARE = 0.5
SHORTER_HEADROOM = 2.0
LONGER_FACTOR = 2.0
#: How many input-bound trials the evidence names.
NAMED_TRIALS = 5

#: Each item's key, title and playbook entry, in the checklist's order.
ITEMS = (
    ("boundaries", "Search-space boundaries", "PB-12"),
    ("density", "Enough trials", "PB-13"),
    ("infeasible", "Infeasible trials", "PB-11"),
    ("curves", "Training curves of the best trials", "PB-14"),
    ("best_steps", "Where the best checkpoints land", "PB-19"),
    ("input_bound", "Input-bound trials", "PB-21"),
)
THIRDS = ("lower", "middle", "upper")
CURVE_ADVICE = {
    "overfitting": "regularize (dropout, weight decay, augmentation) or add data; the best "
    "checkpoint is what counts, so the result itself stands",
    "late_variance": "decay the learning rate towards the end or use a larger batch size",
    "still_improving": "train longer: raise max_train_steps for the next experiment (PB-19)",
    "saturated_early": "fewer steps would reach the same result (PB-19)",
    "train_loss_rising": "look for a bug or a too-high learning rate",
}


class Verdict(str, Enum):
    """An item's outcome, from fine to needs fixing before drawing conclusions."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


SEVERITY = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.FAIL: 2}


@dataclass(frozen=True)
class CheckItem:
    """One checklist item: its verdict, the evidence with the numbers, a next step (empty
    on a pass) and the numbers themselves (JSON-able)."""

    key: str
    title: str
    playbook: str
    verdict: Verdict
    evidence: str
    next_step: str
    data: dict[str, Any]


def _item(key: str, verdict: Verdict, evidence: str, next_step: str = "", **data: Any) -> CheckItem:
    [(title, playbook)] = [(t, p) for k, t, p in ITEMS if k == key]
    return CheckItem(key, title, playbook, verdict, evidence, next_step, dict(data))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _num(x: float) -> str:
    return f"{x:.4g}"


def _numeric_dims(view: StudyView) -> list[tuple[str, Float | Int]]:
    return [(name, dim) for name, dim in view.space.items() if isinstance(dim, (Float, Int))]


def _position(view: StudyView, trial: Trial, name: str, dim: Float | Int) -> float | None:
    value = view.value_of(trial, name)
    if not is_number(value) or not math.isfinite(value) or (dim.scale == "log" and value <= 0):
        return None
    return dim.encode(value)


def _at_edge(position: float, side: str) -> bool:
    return position <= EDGE_SHARE if side == "low" else position >= 1.0 - EDGE_SHARE


def _ran(view: StudyView) -> tuple[Trial, ...]:
    return tuple(
        t for t in view.trials if t.status in (TrialStatus.COMPLETED, TrialStatus.INFEASIBLE)
    )


#: Hyperparameters counted in training steps: no schedule goes past `max_train_steps`.
STEP_COUNTS = ("warmup_steps", "decay_start")


def _widened(dim: Float | Int, side: str, ceiling: float | None = None) -> float | int:
    """The end on `side` moved outwards by `WIDEN_SHARE` of the width on its own scale,
    never below 0 from a non-negative range nor above `ceiling`."""
    if dim.scale == "log":
        factor = (dim.high / dim.low) ** WIDEN_SHARE
        end = dim.low / factor if side == "low" else dim.high * factor
    else:
        step = WIDEN_SHARE * (dim.high - dim.low)
        end = dim.low - step if side == "low" else dim.high + step
        if side == "low" and dim.low >= 0:
            end = max(end, 0.0)
    if side == "high" and ceiling is not None:
        end = min(end, max(ceiling, dim.high))
    if isinstance(dim, Int):
        end = math.floor(end) if side == "low" else math.ceil(end)
        return max(end, 1) if dim.scale == "log" else end
    return float(f"{end:.3g}")


def _boundaries(view: StudyView, top: int) -> CheckItem:
    best = view.ranked()[:top]
    dims = _numeric_dims(view)
    if not best:
        return _item(
            "boundaries",
            Verdict.WARN,
            "No feasible trial yet: there are no best trials to place in the ranges.",
            "Run trials that complete before reading the boundaries.",
        )
    if not dims:
        return _item(
            "boundaries", Verdict.PASS, "The study varies no float or integer range.", dims={}
        )
    ran = _ran(view)
    notes, steps, per_dim = [], [], {}
    for name, dim in dims:
        positions = [p for t in best if (p := _position(view, t, name, dim)) is not None]
        sides = [side for side in ("low", "high") if any(_at_edge(p, side) for p in positions)]
        proposed = {"low": dim.low, "high": dim.high}
        unstable, natural = [], []
        where = ", ".join(f"{p:.2f}" for p in positions)
        for side in sides:
            band = [
                t
                for t in ran
                if (p := _position(view, t, name, dim)) is not None and _at_edge(p, side)
            ]
            diverged = sum(t.status is TrialStatus.INFEASIBLE for t in band)
            if diverged > INSTABILITY_SHARE * len(band):
                unstable.append(side)
                notes.append(
                    f"{name}: the best trials sit at its {side} end ({where} of the range), "
                    f"but {diverged} of the {len(band)} trials there diverged: that edge "
                    "is where training becomes unstable, not a boundary to widen."
                )
                steps.append(
                    f"keep {name}'s {side} end; to go further, stabilise training first "
                    "(learning-rate warmup, gradient clipping)"
                )
                continue
            ceiling = view.max_train_steps if name in STEP_COUNTS else None
            end = _widened(dim, side, ceiling)
            if end == getattr(dim, side):
                natural.append(side)
                notes.append(
                    f"{name}: the best trials sit at its natural end {_num(end)} ({where} of "
                    "the range)."
                )
                continue
            proposed[side] = end
        widen = [s for s in sides if s not in unstable and s not in natural]
        if widen:
            scale = f", {dim.scale}" if dim.scale == "log" else ""
            notes.append(
                f"{name} ({_num(dim.low)} … {_num(dim.high)}{scale}): the best {len(best)} "
                f"trials sit at {where} of the range, within {EDGE_SHARE:.0%} of its "
                f"{' and '.join(widen)} end."
            )
            steps.append(
                f"widen {name} to {_num(proposed['low'])} … {_num(proposed['high'])} and re-run"
            )
        per_dim[name] = {
            "positions": positions,
            "side": "both" if len(sides) == 2 else (sides[0] if sides else None),
            "widen": widen,
            "unstable": unstable,
            "proposed_low": proposed["low"],
            "proposed_high": proposed["high"],
        }
    warned = [n for n, d in per_dim.items() if d["widen"] or d["unstable"]]
    if not warned:
        evidence = (
            f"The best {len(best)} trials lie inside every range (not within {EDGE_SHARE:.0%} "
            f"of an end) of {', '.join(name for name, _ in dims)}."
        )
        return _item("boundaries", Verdict.PASS, " ".join([evidence, *notes]), dims=per_dim)
    return _item(
        "boundaries",
        Verdict.WARN,
        " ".join(notes),
        _sentence("; ".join(steps)) + " (PB-12).",
        dims=per_dim,
    )


def _density(view: StudyView) -> CheckItem:
    values = [t.best_value for t in view.feasible]
    n = len(values)
    points = best_of_k(values, view.mode)
    data = {"bootstrap": [asdict(p) for p in points]}
    if n < 2:
        return _item(
            "density",
            Verdict.WARN,
            f"Only {n} feasible trial{'s' if n != 1 else ''}: too few to tell how much luck "
            "the best result holds.",
            "Run more trials (PB-13).",
            **data,
        )
    by_k = {p.k: p for p in points}
    one, half, full = by_k[1], by_k[n // 2], by_k[n]
    total = abs(one.median - full.median)
    late = abs(half.median - full.median)
    share = late / total if total > 0 else 0.0
    evidence = (
        f"Median best objective with all {n} feasible trials: {_num(full.median)} "
        f"(10–90%: {_num(full.low)} … {_num(full.high)}); with {n // 2}: {_num(half.median)}; "
        f"with one: {_num(one.median)}. The second half of the trials bought {share:.0%} of "
        f"the improvement the search made (more than {DENSITY_SHARE:.0%} warns)."
    )
    data |= {"share": share, "k_half": n // 2, "k_all": n}
    if share > DENSITY_SHARE:
        return _item(
            "density",
            Verdict.WARN,
            evidence + " More trials would likely still improve the best result.",
            f"Run more trials (e.g. {2 * n} instead of {n}) before concluding (PB-13).",
            **data,
        )
    return _item("density", Verdict.PASS, evidence, **data)


def _regions(view: StudyView, ran: Sequence[Trial]) -> dict[str, list[dict[str, Any]]]:
    regions = {}
    for name, dim in _numeric_dims(view):
        counts = np.zeros((len(THIRDS), 2), dtype=int)  # trials, infeasible
        for t in ran:
            p = _position(view, t, name, dim)
            if p is not None:
                third = min(int(p * len(THIRDS)), len(THIRDS) - 1)
                counts[third] += (1, t.status is TrialStatus.INFEASIBLE)
        regions[name] = [
            {
                "third": third,
                "low": dim.decode(i / len(THIRDS)),
                "high": dim.decode((i + 1) / len(THIRDS)),
                "trials": int(counts[i, 0]),
                "infeasible": int(counts[i, 1]),
            }
            for i, third in enumerate(THIRDS)
        ]
    return regions


def _infeasible(view: StudyView) -> CheckItem:
    ran = _ran(view)
    failed = sum(t.status is TrialStatus.FAILED for t in view.trials)
    if not ran:
        return _item(
            "infeasible",
            Verdict.WARN,
            f"No trial ran to the end ({failed} failed).",
            "Fix the failures and run the trials (PB-11).",
        )
    diverged = sum(t.status is TrialStatus.INFEASIBLE for t in ran)
    fraction = diverged / len(ran)
    regions = _regions(view, ran)
    floor = max(CONCENTRATED_SHARE, CONCENTRATION * fraction)
    candidates = [
        (r["infeasible"] / r["trials"], r["infeasible"], name, r)
        for name, thirds in regions.items()
        for r in thirds
        if r["trials"] >= MIN_REGION_TRIALS and r["infeasible"] / r["trials"] >= floor
    ]
    evidence = f"{diverged} of {len(ran)} trials diverged ({fraction:.0%})"
    evidence += f"; {failed} failed and are not counted." if failed else "."
    concentrated = None
    if candidates and diverged:
        share, count, name, r = max(candidates, key=lambda c: (c[0], c[1]))
        concentrated = {"dimension": name, **r}
        evidence += (
            f" Divergence concentrates in the {r['third']} third of {name} "
            f"({_num(r['low'])} … {_num(r['high'])}): {count} of {r['trials']} trials there "
            f"({share:.0%})."
        )
    data = {"fraction": fraction, "infeasible": diverged, "trials": len(ran), "failed": failed}
    data |= {"regions": regions, "concentrated": concentrated}
    where = (
        f" (the {concentrated['third']} third of {concentrated['dimension']})"
        if concentrated
        else ""
    )
    if fraction > INFEASIBLE_FAIL:
        return _item(
            "infeasible",
            Verdict.FAIL,
            evidence + f" Above {INFEASIBLE_FAIL:.0%} the study says little.",
            f"Narrow the space away from where trials diverge{where}, or stabilise training "
            "(learning-rate warmup, gradient clipping), then re-run (PB-11).",
            **data,
        )
    if fraction > INFEASIBLE_WARN:
        return _item(
            "infeasible",
            Verdict.WARN,
            evidence + f" Above {INFEASIBLE_WARN:.0%} warns.",
            f"Look at where trials diverge{where}: narrow the range away from it or "
            "stabilise training there (warmup, gradient clipping) before concluding (PB-11).",
            **data,
        )
    return _item("infeasible", Verdict.PASS, evidence, **data)


def _curves(session: Session, view: StudyView, top: int) -> CheckItem:
    best = view.ranked()[:top]
    if not best:
        return _item(
            "curves",
            Verdict.WARN,
            "No feasible trial yet: there are no best trials' curves to read.",
            "Run trials that complete before reading their curves.",
        )
    validation = f"validation/{view.metric}"
    per_trial, parts, seen = [], [], set()
    for t in best:
        series = session.trial_series(t.id, ["train/loss", validation])
        train, val = series.get("train/loss"), series.get(validation)
        findings = diagnose(
            train.steps if train else [],
            train.values if train else [],
            val.steps if val else [],
            val.values if val else [],
            view.mode,
            view.max_train_steps,
        )
        per_trial.append({"trial": t.id, "findings": [f.key for f in findings]})
        seen.update(f.key for f in findings)
        if not (train or val):
            parts.append(f"trial {t.id}: no curves recorded.")
        elif findings:
            parts.append(f"trial {t.id}: " + "; ".join(f.message for f in findings) + ".")
        else:
            parts.append(f"trial {t.id}: no finding.")
    evidence = f"The best {len(best)} trials' curves — " + " ".join(parts)
    if all(part.endswith("no curves recorded.") for part in parts):
        return _item(
            "curves",
            Verdict.WARN,
            evidence,
            "Re-run the best trial to record its curves (PB-14).",
            trials=per_trial,
        )
    if not seen:
        return _item("curves", Verdict.PASS, evidence, trials=per_trial)
    advice = [f"{key.replace('_', ' ')}: {CURVE_ADVICE[key]}" for key in CURVE_KEYS if key in seen]
    return _item(
        "curves",
        Verdict.WARN,
        evidence,
        _sentence("; ".join(advice)) + " (PB-14).",
        trials=per_trial,
    )


def _best_steps(view: StudyView) -> CheckItem:
    steps = [t.best_step for t in view.feasible if t.best_step is not None]
    limit = view.max_train_steps
    if not steps:
        return _item(
            "best_steps",
            Verdict.WARN,
            "No feasible trial recorded a best step yet.",
            "Run trials that complete before reading where their best checkpoints land.",
        )
    shares = np.array(steps, dtype=float) / limit
    early = int((shares <= EARLY_SHARE).sum())
    late = int((shares >= LATE_FROM).sum())
    q1, median, q3 = (float(q) for q in np.percentile(shares, [25, 50, 75]))
    evidence = (
        f"Best checkpoints of {len(steps)} feasible trials land at {q1:.0%} / {median:.0%} / "
        f"{q3:.0%} of the {limit} steps (quartiles); {early} in the first {EARLY_SHARE:.0%}, "
        f"{late} in the last {1 - LATE_FROM:.0%}."
    )
    data = {"trials": len(steps), "quartiles": [q1, median, q3], "early": early, "late": late}
    if early == len(steps):
        proposal = max(1, math.ceil(SHORTER_HEADROOM * max(steps)))
        return _item(
            "best_steps",
            Verdict.WARN,
            evidence + " Every trial peaked early: most of the steps were spent for nothing.",
            f"Use fewer steps in the next experiment, e.g. max_train_steps = {proposal} "
            f"({SHORTER_HEADROOM:g}× the latest best step; PB-19).",
            proposed_max_train_steps=proposal,
            **data,
        )
    if late > MOST_SHARE * len(steps):
        proposal = math.ceil(LONGER_FACTOR * limit)
        return _item(
            "best_steps",
            Verdict.WARN,
            evidence + " Most trials were still at their best near the end.",
            f"Consider training longer in the next experiment, e.g. max_train_steps = "
            f"{proposal} (PB-19).",
            proposed_max_train_steps=proposal,
            **data,
        )
    return _item("best_steps", Verdict.PASS, evidence, proposed_max_train_steps=None, **data)


def _input_bound(view: StudyView) -> CheckItem:
    timed = [t for t in view.finished if t.data_seconds + t.compute_seconds > 0]
    if not timed:
        return _item(
            "input_bound",
            Verdict.WARN,
            "No finished trial recorded its data and compute time: cannot tell.",
            "Re-run a trial to record its timing (PB-21).",
        )
    share = {t.id: t.data_seconds / (t.data_seconds + t.compute_seconds) for t in timed}
    flagged = sorted((s, tid) for tid, s in share.items() if s > INPUT_BOUND_SHARE)[::-1]
    median = float(np.median(list(share.values())))
    data = {
        "threshold": INPUT_BOUND_SHARE,
        "median_share": median,
        "trials": [{"trial": tid, "share": s} for s, tid in flagged],
    }
    evidence = (
        f"{len(flagged)} of {len(timed)} trials waited for data more than "
        f"{INPUT_BOUND_SHARE:.0%} of the time; the median share is {median:.0%}."
    )
    if not flagged:
        return _item("input_bound", Verdict.PASS, evidence, **data)
    named = ", ".join(f"trial {tid} ({s:.0%})" for s, tid in flagged[:NAMED_TRIALS])
    more = f" and {len(flagged) - NAMED_TRIALS} more" if len(flagged) > NAMED_TRIALS else ""
    return _item(
        "input_bound",
        Verdict.WARN,
        f"{evidence} Input-bound: {named}{more}.",
        "Profile the input pipeline: prefetch, co-locate the data, drop unused features "
        "early (PB-21).",
        **data,
    )


def study_checklist(session: Session, view: StudyView, top: int = 3) -> tuple[CheckItem, ...]:
    """The review's checklist for one study, in `ITEMS` order; `top` best trials feed the
    boundary and curve checks."""
    if not view.finished:
        return tuple(
            _item(
                key,
                Verdict.WARN,
                f"Study '{view.study.name}' has no finished trials yet: nothing to check.",
                "Run the study's trials, then review it.",
            )
            for key, _, _ in ITEMS
        )
    checks: tuple[Callable[[], CheckItem], ...] = (
        lambda: _boundaries(view, top),
        lambda: _density(view),
        lambda: _infeasible(view),
        lambda: _curves(session, view, top),
        lambda: _best_steps(view),
        lambda: _input_bound(view),
    )
    return tuple(check() for check in checks)


def experiment_checklist(session: Session, views: Sequence[StudyView]) -> tuple[CheckItem, ...]:
    """The checklist over an experiment's studies: per item the worst verdict, the evidence
    naming each study, and the studies' data under `data["studies"]`."""
    if not views:
        return tuple(
            _item(key, Verdict.WARN, "The experiment has no studies yet.", "Add and run a study.")
            for key, _, _ in ITEMS
        )
    per_study = [study_checklist(session, view) for view in views]
    combined = []
    for i, (key, _, _) in enumerate(ITEMS):
        items = [(view.study, checks[i]) for view, checks in zip(views, per_study)]
        verdict = max((item.verdict for _, item in items), key=SEVERITY.__getitem__)
        flagged = [(s, item) for s, item in items if item.verdict is not Verdict.PASS]
        passed = [s.name for s, item in items if item.verdict is Verdict.PASS]
        parts = [f"'{s.name}' ({item.verdict.value}): {item.evidence}" for s, item in flagged]
        if passed:
            parts.append("Passes in " + ", ".join(f"'{name}'" for name in passed) + ".")
        next_step = " ".join(f"'{s.name}': {item.next_step}" for s, item in flagged)
        studies = [
            {"study": s.name, "study_id": s.id, "verdict": item.verdict.value, "data": item.data}
            for s, item in items
        ]
        combined.append(_item(key, verdict, " ".join(parts), next_step, studies=studies))
    return tuple(combined)
