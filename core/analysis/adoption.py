"""Adopting a trial as the new baseline only on evidence beyond the seed noise (PB-5, PB-17).

Before a launch, the seed-variance probe re-runs the candidate trial's configuration (its
study's fixed values and its own params, its experiment's step budget) with `seeds` new
seeds, `FIRST_SEED + i` for both the initialisation and the data order, and does the same
for the current baseline (the latest launch's trial) unless an earlier completed
seed-variance probe already measured that configuration: those runs are reused, never
measured twice. Both are trained and judged on the candidate study's objective.

The rule (`compare_seeds`): the difference of the two means is *beyond the seed noise*
when Welch's t-test (unequal variances, two-sided) gives p < `ALPHA` (5%) AND the
difference is larger than `NOISE_MULTIPLE` (1) pooled standard deviation,
sqrt((s_candidate² + s_baseline²) / 2) — significant, and as large as one seed's typical
spread (with many seeds a tiny but consistent difference passes the test alone). When both
sets have no spread at all (deterministic training) any difference is beyond the noise.
Each set needs `MIN_SEEDS` completed runs. With no baseline (the first launch) the probe
reports the candidate's distribution only. The probe proposes no decision: the command
records a launch with the summary as its evidence (`launch_record`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tunebook.core.project_start.probe import (
    TRAIN_UNIT,
    Points,
    ProbePlan,
    Unit,
    feasible_runs,
    run_problem,
    train_payload,
)
from tunebook.sessions import (
    BadInput,
    Launch,
    ProbeKind,
    Session,
    TrialStatus,
    TunebookError,
    current_baseline,
)

if TYPE_CHECKING:
    from tunebook.core.project_start.project import Project
    from tunebook.core.workloads import Workload

#: Seeds per configuration unless `--seeds` says otherwise.
DEFAULT_SEEDS = 5
#: The fewest seeds (and completed runs) a standard deviation can be computed from.
MIN_SEEDS = 2
#: Seed i of a re-run initialises and orders the data with `FIRST_SEED + i`: away from the
#: small seeds studies give their trials, so the runs are new draws.
FIRST_SEED = 1000
#: Welch's t-test significance level (two-sided).
ALPHA = 0.05
#: The difference must also exceed this many pooled standard deviations.
NOISE_MULTIPLE = 1.0
#: Evaluations per run when the experiment's design sets no `eval_every`, as trials do
#: (`trial_config.DEFAULT_EVAL_EVERY_FRACTION`; not imported: that module loads torch).
EVALUATIONS_PER_RUN = 20
ROLES = ("candidate", "baseline")
#: What makes two seed-variance measurements of a configuration the same measurement.
SPEC_KEYS = ("trial", "hparams", "max_train_steps", "eval_every", "objective", "mode")
RUN_KEYS = ("seed", "status", "best_value", "best_step", "final_value", "wall_seconds", "reason")


@dataclass(frozen=True)
class Distribution:
    """One configuration's best objectives over seeds: mean and sample standard deviation."""

    values: tuple[float, ...]
    mean: float | None
    std: float | None

    @property
    def n(self) -> int:
        """How many completed seed runs."""
        return len(self.values)


@dataclass(frozen=True)
class SeedComparison:
    """The candidate against the baseline. `difference` is candidate − baseline (means);
    `improvement` is the same signed so that positive is better for the objective."""

    difference: float
    improvement: float
    pooled_std: float
    t: float | None
    p_value: float | None
    beyond_noise: bool
    better: bool
    verdict: str


def distribution(values: Sequence[float]) -> Distribution:
    """Mean and sample standard deviation (None below two values) of `values`."""
    values = tuple(float(v) for v in values)
    mean = statistics.fmean(values) if values else None
    std = statistics.stdev(values) if len(values) >= MIN_SEEDS else None
    return Distribution(values, mean, std)


def compare_seeds(
    candidate: Sequence[float], baseline: Sequence[float], mode: str
) -> SeedComparison | None:
    """Whether the candidate's mean differs from the baseline's beyond the seed noise (the
    module's rule); None when either has fewer than `MIN_SEEDS` values."""
    cand, base = distribution(candidate), distribution(baseline)
    if cand.std is None or base.std is None or cand.mean is None or base.mean is None:
        return None
    difference = cand.mean - base.mean
    improvement = -difference if mode == "min" else difference
    pooled = math.sqrt((cand.std**2 + base.std**2) / 2)
    if pooled == 0:
        t = p_value = None
        beyond = difference != 0
    else:
        from scipy.stats import ttest_ind

        result = ttest_ind(cand.values, base.values, equal_var=False)
        t, p_value = float(result.statistic), float(result.pvalue)
        beyond = p_value < ALPHA and abs(difference) > NOISE_MULTIPLE * pooled
    better = improvement > 0
    if beyond:
        verdict = f"{'better' if better else 'worse'} than the baseline beyond the seed noise"
    else:
        verdict = "not beyond the seed noise: the difference may be luck of the seeds"
    return SeedComparison(difference, improvement, pooled, t, p_value, beyond, better, verdict)


class SeedVarianceProbe(ProbePlan):
    """N-seed re-runs of a candidate trial and of the current baseline (PB-17)."""

    kind = ProbeKind.SEED_VARIANCE
    name = "seed-variance"
    title = "Seed variance"
    playbook = ("PB-5", "PB-17")
    decision = None

    def plan_config(
        self, session: Session, workload: Workload, project: Project, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        seeds = int(options.get("seeds") or DEFAULT_SEEDS)
        if seeds < MIN_SEEDS:
            raise BadInput(f"--seeds must be at least {MIN_SEEDS}, got {seeds}")
        if options.get("trial") is None:
            raise BadInput("the seed-variance probe needs a trial to re-run")
        trial_id = int(options["trial"])
        candidate = session.trial(trial_id)
        if candidate.status is not TrialStatus.COMPLETED:
            raise BadInput(
                f"trial {trial_id} is {candidate.status.value}: only a completed trial "
                "can be adopted"
            )
        study = session.study(candidate.study_id)
        objective = (study.objective_metric, study.objective_mode)
        config: dict[str, Any] = {
            "seeds": seeds,
            "objective": objective[0],
            "mode": objective[1],
            "candidate": _spec(session, trial_id, objective),
            "baseline": None,
        }
        launch = current_baseline(session.launches())
        if launch is not None:
            if launch.trial_id == trial_id:
                raise BadInput(f"trial {trial_id} is already the baseline (launch {launch.id})")
            baseline = _spec(session, int(launch.trial_id or 0), objective)
            config["baseline"] = {**baseline, "launch": launch.id, **_measured(session, baseline)}
        return config

    def next_units(self, config: Mapping[str, Any], points: Points) -> list[Unit]:
        units = []
        for role in ROLES:
            spec = config[role]
            if spec is None or spec.get("reused_from") is not None:
                continue
            for seed in _seeds(config):
                payload = train_payload(
                    config,
                    spec["hparams"],
                    max_train_steps=spec["max_train_steps"],
                    eval_every=spec["eval_every"],
                    init_seed=seed,
                    data_seed=seed,
                    objective=[spec["objective"], spec["mode"]],
                )
                units.append(Unit(_key(role, seed), TRAIN_UNIT, payload))
        return units

    def summarize(self, config: Mapping[str, Any], points: Points) -> dict[str, Any]:
        mode = config["mode"]
        sides: dict[str, Any] = {}
        warnings = []
        for role in ROLES:
            spec = config[role]
            if spec is None:
                sides[role] = None
                continue
            runs = seed_runs(config, role, points)
            values = [r["best_value"] for r in feasible_runs(runs)]
            warnings += [
                f"{role} seed {r['seed']} {r['status']}: {run_problem(r)}"
                for r in runs
                if r.get("status") != "completed"
            ]
            sides[role] = {
                "trial": spec["trial"],
                "launch": spec.get("launch"),
                "reused_from": spec.get("reused_from"),
                "runs": runs,
                **asdict(distribution(values)),
                "n": len(values),
            }
        comparison = None
        if sides["baseline"] is None:
            verdict = "no baseline to beat: this is the first launch"
        else:
            found = compare_seeds(sides["candidate"]["values"], sides["baseline"]["values"], mode)
            comparison = None if found is None else asdict(found)
            verdict = (
                f"too few completed seed runs to compare (at least {MIN_SEEDS} each)"
                if found is None
                else found.verdict
            )
        if sides["candidate"]["n"] < MIN_SEEDS:
            warnings.append(
                f"only {sides['candidate']['n']} of the candidate's seed runs completed: "
                "its seed variance is not known"
            )
        return {
            "objective": config["objective"],
            "mode": mode,
            "seeds": config["seeds"],
            "rule": {"alpha": ALPHA, "noise_multiple": NOISE_MULTIPLE, "min_seeds": MIN_SEEDS},
            "candidate": sides["candidate"],
            "baseline": sides["baseline"],
            "comparison": comparison,
            "verdict": verdict,
            "recommendation": None,
            "warnings": warnings,
        }


def seed_runs(config: Mapping[str, Any], role: str, points: Points) -> list[dict[str, Any]]:
    """One role's seed runs, in seed order: reused ones, else those measured so far."""
    spec = config[role]
    if spec.get("reused_from") is not None:
        return [dict(r) for r in spec["runs"]]
    return [
        _run_row(seed, points[_key(role, seed)])
        for seed in _seeds(config)
        if _key(role, seed) in points
    ]


def launch_record(session: Session, probe_id: int, note: str = "") -> Launch:
    """Record the candidate of a completed seed-variance probe as the new baseline, its
    summary's numbers as the evidence and the user's `note`; TunebookError when fewer than
    `MIN_SEEDS` of its seed runs completed."""
    probe = session.probe(probe_id)
    if probe.kind is not ProbeKind.SEED_VARIANCE or probe.status != "completed":
        raise BadInput(f"probe {probe_id} is not a completed seed-variance probe")
    summary = probe.summary
    if summary["candidate"]["n"] < MIN_SEEDS:
        raise TunebookError(
            f"only {summary['candidate']['n']} of the candidate's seed runs completed: "
            "no launch recorded without its seed variance"
        )
    candidate = probe.config["candidate"]
    study = session.study(session.trial(candidate["trial"]).study_id)
    evidence = {
        "probe": probe.id,
        "playbook": list(SeedVarianceProbe.playbook),
        **{k: summary[k] for k in ("objective", "mode", "seeds", "rule", "comparison")},
        "verdict": summary["verdict"],
        **{role: _evidence_side(summary[role]) for role in ROLES},
    }
    config = {
        "hparams": candidate["hparams"],
        "max_train_steps": candidate["max_train_steps"],
        "study": study.id,
    }
    return session.add_launch(
        config, evidence, note, trial_id=candidate["trial"], experiment_id=study.experiment_id
    )


def _evidence_side(side: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if side is None:
        return None
    keep = ("trial", "launch", "reused_from", "mean", "std", "n")
    runs = [{k: r.get(k) for k in ("seed", "status", "best_value")} for r in side["runs"]]
    return {**{k: side[k] for k in keep}, "runs": runs}


def _spec(session: Session, trial_id: int, objective: tuple[str, str]) -> dict[str, Any]:
    """What re-running a trial trains: as `execution.runner.task_for` builds it."""
    trial = session.trial(trial_id)
    study = session.study(trial.study_id)
    experiment = session.experiment(study.experiment_id)
    steps = experiment.max_train_steps
    training = experiment.design.get("training", {})
    return {
        "trial": trial.id,
        "hparams": {**study.fixed, **trial.params},
        "max_train_steps": steps,
        "eval_every": int(training.get("eval_every") or max(1, steps // EVALUATIONS_PER_RUN)),
        "objective": objective[0],
        "mode": objective[1],
    }


def _measured(session: Session, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The newest completed seed-variance probe's runs of the same configuration, as
    `{reused_from, runs}`, when at least `MIN_SEEDS` of them completed; else {}."""
    wanted = {k: spec[k] for k in SPEC_KEYS}
    for probe in reversed(session.probes(ProbeKind.SEED_VARIANCE)):
        if probe.status != "completed":
            continue
        for role in ROLES:
            earlier = probe.config.get(role)
            if earlier is None or {k: earlier.get(k) for k in SPEC_KEYS} != wanted:
                continue
            runs = seed_runs(probe.config, role, probe.points)
            if len(feasible_runs(runs)) >= MIN_SEEDS:
                return {"reused_from": earlier.get("reused_from") or probe.id, "runs": runs}
    return {}


def _seeds(config: Mapping[str, Any]) -> range:
    return range(FIRST_SEED, FIRST_SEED + int(config["seeds"]))


def _key(role: str, seed: int) -> str:
    return f"{role}/seed={seed}"


def _run_row(seed: int, point: Mapping[str, Any]) -> dict[str, Any]:
    return {"seed": seed, **{k: point.get(k) for k in RUN_KEYS if k != "seed"}}
