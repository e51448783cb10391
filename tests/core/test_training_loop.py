"""The training loop: per-step series, exact evaluation, best-N, divergence, bad input."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
import torch
from torch import nn

from tunebook.core.training import (
    MemoryReporter,
    TrainingStatus,
    TrialConfig,
    evaluate,
    train_trial,
)
from tunebook.core.workloads import Splits, Workload, WorkloadError, load_workload, split_tensors
from tunebook.sessions.errors import BadInput

TINY = {"width": 16, "depth": 1, "learning_rate": 3e-3}
STEP_SERIES = {
    "train/loss",
    "train/lr",
    "train/grad_norm",
    "train/clipped",
    "time/data",
    "time/compute",
}


@pytest.fixture(scope="module")
def tabular() -> Workload:
    return load_workload("tabular")


class Blobs(Workload):
    """Two Gaussian blobs, 3 classes; subclasses break one thing each."""

    def splits(self, data_seed: int) -> Splits:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(90, 4, generator=generator)
        y = torch.arange(90) % 3
        x[:, 0] += y
        return Splits(train=(x[:60], y[:60]), validation=(x[60:], y[60:]))

    def model(self, hparams: Any) -> nn.Module:
        return nn.Linear(4, 3)


class TensorCount(Blobs):
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, Any]:
        total, count = super().loss(outputs, targets)
        return total, torch.tensor(count)


class WrongShape(Blobs):
    def model(self, hparams: Any) -> nn.Module:
        return nn.Sequential(nn.Linear(4, 3), nn.Unflatten(1, (1, 3)))


class NanLoss(Blobs):
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        return outputs.sum() * math.nan, len(targets)


class TextMetric(Blobs):
    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, Any]:
        return {"error": ("abc", len(targets))}


class BrokenForward(Blobs):
    def model(self, hparams: Any) -> nn.Module:
        return nn.Linear(5, 3)


def run(workload: Workload, reporter: MemoryReporter | None = None, **settings: Any):
    reporter = reporter or MemoryReporter()
    defaults: dict[str, Any] = {"batch_size": 32, "max_train_steps": 20, "eval_every": 10}
    if isinstance(workload, type(load_workload("tabular"))):
        defaults["hparams"] = TINY
    config = TrialConfig(**{**defaults, **settings})
    return train_trial(workload, config, reporter), reporter


def test_every_step_reports_the_per_step_series(tabular: Workload):
    result, reporter = run(tabular, hparams={**TINY, "schedule": "linear", "warmup_steps": 5})
    assert result.status is TrainingStatus.COMPLETED and result.steps_done == 20
    assert sorted(reporter.steps) == list(range(1, 21))
    assert all(set(values) == STEP_SERIES for values in reporter.steps.values())
    lrs = [lr for _, lr in reporter.step_series("train/lr")]
    assert lrs[0] == pytest.approx(3e-3 / 5) and lrs[4] == 3e-3 and lrs[-1] == 0.0
    assert all(values["time/compute"] > 0 for values in reporter.steps.values())
    total_compute = sum(v for _, v in reporter.step_series("time/compute"))
    assert result.compute_seconds == pytest.approx(total_compute)


def test_grad_norm_is_unclipped_and_clipping_is_flagged(tabular: Workload):
    _, reporter = run(tabular, max_train_steps=3, grad_clip=1e-3, eval_every=0)
    # Recompute step 1 by hand: same init seed, same first batch of the data-seed order.
    torch.manual_seed(0)
    model = tabular.build_model({"width": 16, "depth": 1})
    x, y = split_tensors(tabular.splits(0).train)
    index = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:32]
    nn.functional.cross_entropy(model(x[index]), y[index]).backward()
    norm = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    first = reporter.steps[1]
    assert first["train/grad_norm"] == pytest.approx(float(norm), rel=1e-5)
    assert first["train/grad_norm"] > 1e-3
    assert [v for _, v in reporter.step_series("train/clipped")] == [1.0, 1.0, 1.0]


def test_evaluation_is_exact_over_partial_batches(tabular: Workload):
    result, reporter = run(tabular, eval_batch_size=7)
    final = reporter.evals[20]
    assert final["validation/count"] == 1000
    assert final["validation/correct"] == round(1000 * (1 - final["validation/error"]))
    assert result.final_value == final["validation/error"]
    model = tabular.build_model({"width": 16, "depth": 1})
    validation = split_tensors(tabular.splits(0).validation)
    in_sevens = evaluate(tabular, model, validation, 7, "validation")
    whole = evaluate(tabular, model, validation, 1000, "validation")
    assert in_sevens.keys() == whole.keys()
    for key, value in whole.items():
        assert in_sevens[key] == pytest.approx(value, rel=1e-6)


def test_evaluation_batch_defaults_to_at_least_the_training_batch():
    assert TrialConfig(batch_size=64).effective_eval_batch_size >= 64
    assert TrialConfig(batch_size=64, eval_batch_size=256).effective_eval_batch_size == 256


def test_train_subset_evaluation(tabular: Workload):
    _, reporter = run(tabular, eval_train_examples=50, max_train_steps=10)
    assert reporter.evals[10]["train/count"] == 50
    assert "train/error" in reporter.evals[10]


def test_keeps_the_best_n_checkpoints_by_the_objective(tabular: Workload):
    result, reporter = run(tabular, max_train_steps=40, eval_every=5, keep_best=2)
    errors = sorted((v["validation/error"], step) for step, v in reporter.evals.items())
    assert [(value, step) for value, step, _ in reporter.best] == errors[:2]
    assert (result.best_value, result.best_step) == errors[0]
    value, _, blob = reporter.best[0]
    state = torch.load(io.BytesIO(blob), weights_only=True)
    model = tabular.build_model({"width": 16, "depth": 1})
    model.load_state_dict(state)
    validation = split_tensors(tabular.splits(0).validation)
    assert evaluate(tabular, model, validation, 64, "validation")["validation/error"] == value


def test_learns_well_below_chance(tabular: Workload):
    result, _ = run(tabular, max_train_steps=150, eval_every=50, batch_size=64)
    assert result.best_value < 0.6 < tabular.chance_baseline()


def test_init_and_data_seeds_are_separate(tabular: Workload):
    def initial_weights(**seeds: int) -> dict[str, torch.Tensor]:
        _, reporter = run(
            tabular,
            max_train_steps=1,
            eval_every=1,
            optimizer="sgd",
            hparams={**TINY, "learning_rate": 0.0},
            **seeds,
        )
        return torch.load(io.BytesIO(reporter.best[0][2]), weights_only=True)

    base = initial_weights(init_seed=1, data_seed=1)
    other_data = initial_weights(init_seed=1, data_seed=2)
    other_init = initial_weights(init_seed=2, data_seed=1)
    assert all(torch.equal(base[k], other_data[k]) for k in base)
    assert not all(torch.equal(base[k], other_init[k]) for k in base)
    first_losses = [
        run(tabular, max_train_steps=1, eval_every=0, init_seed=1, data_seed=seed)[1].steps[1][
            "train/loss"
        ]
        for seed in (1, 1, 2)
    ]
    assert first_losses[0] == first_losses[1] != first_losses[2]  # data seed → other batches


def test_same_seeds_reproduce_the_same_losses(tabular: Workload):
    losses = [
        [v for _, v in run(tabular, hparams={**TINY, "dropout": 0.2})[1].step_series("train/loss")]
        for _ in range(2)
    ]
    assert losses[0] == losses[1]


def test_a_count_given_as_a_tensor_trains_the_same():
    settings = {"optimizer": "sgd", "hparams": {"learning_rate": 0.5}}
    plain = run(Blobs(), **settings)[1].step_series("train/loss")
    tensor = run(TensorCount(), **settings)[1].step_series("train/loss")
    assert [step for step, _ in plain] == [step for step, _ in tensor]
    assert [v for _, v in plain] == pytest.approx([v for _, v in tensor], rel=1e-6)


def test_nan_loss_is_infeasible_at_step_one():
    result, reporter = run(NanLoss())
    assert result.status is TrainingStatus.INFEASIBLE and result.steps_done == 1
    assert result.reason == "training loss is nan at step 1"
    assert math.isnan(reporter.steps[1]["train/loss"]) and not reporter.evals


def test_exploding_loss_is_infeasible(tabular: Workload):
    result, _ = run(tabular, optimizer="sgd", hparams={**TINY, "learning_rate": 1e4})
    assert result.status is TrainingStatus.INFEASIBLE
    assert result.steps_done < 20 and "at step" in (result.reason or "")
    result, _ = run(tabular, divergence_loss=0.5)
    assert result.status is TrainingStatus.INFEASIBLE and result.steps_done == 1
    assert result.reason is not None and "exceeds 0.5 (divergence_loss)" in result.reason


def test_should_stop_ends_the_trial_and_saves_its_state(tabular: Workload):
    result, reporter = run(tabular, MemoryReporter(stop_after=7))
    assert result.status is TrainingStatus.STOPPED and result.steps_done == 7
    assert reporter.latest_state is not None and reporter.latest_state[0] == 7


def test_wrong_model_output_shape_is_a_workload_error():
    with pytest.raises(WorkloadError, match=r"model output has shape \(32, 1, 3\), expected"):
        run(WrongShape())


def test_failing_forward_pass_names_the_step():
    with pytest.raises(WorkloadError, match=r"forward pass raised RuntimeError at step 1: ") as e:
        run(BrokenForward())
    assert isinstance(e.value.__cause__, RuntimeError)


def test_non_numeric_metric_is_a_workload_error():
    with pytest.raises(WorkloadError) as caught:
        run(TextMetric())
    assert str(caught.value) == "workload 'TextMetric': metric 'error' returned 'abc', not a number"


def test_undeclared_hparam_is_a_workload_error(tabular: Workload):
    with pytest.raises(WorkloadError, match=r"hyperparameter 'depthh' is not declared by workload"):
        run(tabular, hparams={"depthh": 2})


def test_bad_trial_settings_are_bad_input(tabular: Workload):
    with pytest.raises(BadInput, match="batch_size must be a positive integer, got 0"):
        TrialConfig(batch_size=0)
    with pytest.raises(BadInput, match="batch_size 100 exceeds the 60 training examples"):
        run(Blobs(), batch_size=100)
    with pytest.raises(BadInput, match="warmup_steps must be between 0 and max_train_steps"):
        run(tabular, hparams={**TINY, "warmup_steps": 50})


def test_threads_are_restored_after_the_trial(tabular: Workload):
    before = torch.get_num_threads()
    seen = []

    class Watcher(MemoryReporter):
        def log_step(self, step, values):
            seen.append(torch.get_num_threads())

    run(tabular, Watcher(), threads=before + 1, max_train_steps=2, eval_every=0)
    assert seen == [before + 1, before + 1] and torch.get_num_threads() == before
