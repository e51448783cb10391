"""The Workload API, loading by reference, and the built-in workloads (PB-1, PB-4, PB-25)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tunebook.core.workloads import (
    HParam,
    Objective,
    WorkloadError,
    builtin_workloads,
    load_workload,
    split_tensors,
)
from tunebook.core.workloads.images import RandomShift
from tunebook.core.workloads.layers import GhostBatchNorm
from tunebook.core.workloads.tabular import generated_dataset
from tunebook.sessions.errors import BadInput

USER_WORKLOAD = """
import torch
from torch import nn
from tunebook.core.workloads import HParam, Splits, Workload


class Line(Workload):
    \"\"\"A user's regression workload.\"\"\"

    task = "regression"
    hparams = (HParam("hidden", 4, "int"),)

    def splits(self, data_seed):
        x = torch.linspace(-1, 1, 40).unsqueeze(1)
        return Splits(train=(x, 2 * x.squeeze(1)), validation=(x[:10], 2 * x[:10, 0]))

    def model(self, hparams):
        return nn.Sequential(nn.Linear(1, hparams["hidden"]), nn.Linear(hparams["hidden"], 1))


class NotAWorkload:
    pass


class Unfinished(Workload):
    def model(self, hparams):
        return nn.Linear(1, 1)
"""


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "user_workload.py"
    path.write_text(USER_WORKLOAD)
    return path


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


# --- the API -------------------------------------------------------------------------------


def test_hparam_coerces_to_its_kind_and_names_itself_when_wrong():
    depth = HParam("depth", 2, "int")
    assert depth.coerce(3.0) == 3 and isinstance(depth.coerce(3.0), int)
    with pytest.raises(BadInput, match=r"hyperparameter 'depth' must be an integer, got 2.5"):
        depth.coerce(2.5)
    norm = HParam("norm", "none", "categorical", ("none", "layer"))
    with pytest.raises(BadInput, match=r"must be one of none, layer, got 'batch'"):
        norm.coerce("batch")
    assert HParam("augment", False, "bool").coerce(1) is True
    assert HParam("rate", 0.1, "float").coerce(1) == 1.0
    with pytest.raises(ValueError, match="categorical needs choices"):
        HParam("x", "a", "categorical")


def test_objective_key_and_direction():
    assert Objective().key == "validation/error"
    assert Objective().better(0.1, 0.2)
    assert Objective("accuracy", "max").better(0.9, 0.8)


def test_split_tensors_accepts_datasets_and_rejects_mismatched_tensors():
    x, y = torch.randn(6, 2), torch.arange(6)
    dataset = [(x[i], y[i]) for i in range(6)]  # any map-style dataset with __len__
    inputs, targets = split_tensors(dataset)  # type: ignore[arg-type]
    assert torch.equal(inputs, x) and torch.equal(targets, y)
    assert split_tensors(torch.utils.data.TensorDataset(x, y))[0] is x
    with pytest.raises(BadInput, match=r"disagree on the number of examples: \[5, 6\]"):
        split_tensors((x, y[:5]))


def test_undeclared_hparam_lists_the_declared_ones():
    workload = load_workload("tabular")
    with pytest.raises(WorkloadError) as caught:
        workload.build_model({"depthh": 3})
    assert str(caught.value) == (
        "hyperparameter 'depthh' is not declared by workload 'tabular' "
        "(it has: width, depth, activation, dropout, norm, virtual_batch_size)"
    )


def test_model_failure_is_one_sentence_with_the_cause_chained():
    workload = load_workload("lm", {"sequence_length": 16, "max_bytes": 20_000})
    with pytest.raises(WorkloadError) as caught:
        workload.build_model({"d_model": 60, "heads": 8})
    assert str(caught.value) == (
        "workload 'lm': model() raised ValueError: d_model (60) must be divisible by heads (8)"
    )
    assert isinstance(caught.value.__cause__, ValueError)


# --- loading -------------------------------------------------------------------------------


def test_load_user_file_by_path(user_file: Path):
    ref = f"{user_file}:Line"
    workload = load_workload(ref)
    assert workload.ref == ref and workload.name == "Line"
    assert workload.description == "A user's regression workload."
    assert workload.objective == Objective("mse", "min")
    model = workload.build_model({})
    assert model(torch.zeros(3, 1)).shape == (3, 1)
    assert workload.chance_baseline() == pytest.approx(
        float(((2 * torch.linspace(-1, 1, 40)[:10]) ** 2).mean())
    )


def test_load_by_module_path(user_file: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(user_file.parent))
    assert load_workload("user_workload:Line").name == "Line"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("missing.py:Net", "workload 'missing.py:Net': file 'missing.py' does not exist"),
        ("{file}:Net", "workload '{file}:Net': class 'Net' not found in {file}"),
        (
            "{file}:NotAWorkload",
            "workload '{file}:NotAWorkload': NotAWorkload is not a tunebook Workload subclass",
        ),
        ("{file}:Unfinished", "workload '{file}:Unfinished': Unfinished does not implement splits"),
        (
            "no_such_pkg.mod:Net",
            "workload 'no_such_pkg.mod:Net': module 'no_such_pkg.mod' not found",
        ),
        (
            "tabularr",
            "workload 'tabularr': not a built-in (tabular, images, lm) and not of the form "
            "path/to/file.py:ClassName or package.module:ClassName",
        ),
    ],
)
def test_load_failures_are_one_sentence(user_file: Path, ref: str, message: str):
    with pytest.raises(WorkloadError) as caught:
        load_workload(ref.format(file=user_file))
    assert str(caught.value) == message.format(file=user_file)


def test_import_error_in_user_file_is_chained(tmp_path: Path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no GPU here')\n")
    with pytest.raises(WorkloadError) as caught:
        load_workload(f"{broken}:Net")
    assert str(caught.value) == (
        f"workload '{broken}:Net': importing {broken} raised RuntimeError: no GPU here"
    )
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_unknown_config_is_refused(user_file: Path):
    with pytest.raises(WorkloadError, match=r"takes no config, got: depth"):
        load_workload(f"{user_file}:Line", {"depth": 3})
    with pytest.raises(
        WorkloadError,
        match=r"^workload 'tabular' has no option 'path' \(its options: csv, target, task\)$",
    ):
        load_workload("tabular", {"path": "x.csv"})


def test_config_rebuilds_the_same_workload():
    workload = load_workload("lm", {"sequence_length": 16, "max_bytes": 20_000})
    again = load_workload("lm", workload.config())
    assert again.config() == {"sequence_length": 16, "max_bytes": 20_000}
    assert torch.equal(split_tensors(again.splits(0).train)[0][:3], workload.splits(0).train[0][:3])


# --- CSV -----------------------------------------------------------------------------------


def test_csv_classification_maps_labels_and_standardizes(tmp_path: Path):
    rows = ["a,b,label"] + [f"{i},{(i * 7) % 5},{'cat' if i % 3 else 'dog'}" for i in range(40)]
    path = write_csv(tmp_path / "pets.csv", rows)
    workload = load_workload("tabular", {"csv": str(path), "target": "label"})
    assert workload.config() == {"csv": str(path), "target": "label", "task": "classification"}
    splits = workload.splits(0)
    x, y = split_tensors(splits.train)
    assert (len(x), len(split_tensors(splits.validation)[0])) == (28, 6)
    assert splits.test is not None and len(splits.test[0]) == 6
    assert set(y.tolist()) == {0, 1}  # cat → 0, dog → 1
    assert torch.allclose(x.mean(0), torch.zeros(2), atol=1e-5)
    assert workload.build_model({})(x).shape == (28, 2)


def test_csv_regression_target_is_standardized(tmp_path: Path):
    rows = ["x,y"] + [f"{i},{3 * i + 100}" for i in range(30)]
    path = write_csv(tmp_path / "line.csv", rows)
    workload = load_workload("tabular", {"csv": str(path), "target": "y", "task": "regression"})
    assert workload.objective.metric == "mse"
    _, y = split_tensors(workload.splits(0).train)
    assert abs(float(y.mean())) < 1e-5 and y.dtype == torch.float32
    assert 0.5 < workload.chance_baseline() < 2.0  # the mean predictor's MSE, in target variances


def test_csv_missing_target_column(tmp_path: Path):
    path = write_csv(tmp_path / "x.csv", ["a,b,c", "1,2,3"])
    with pytest.raises(WorkloadError) as caught:
        load_workload("tabular", {"csv": str(path), "target": "label"})
    assert str(caught.value) == f"CSV '{path}': no column 'label' (columns: a, b, c)"


def test_csv_non_numeric_cell_names_line_and_column(tmp_path: Path):
    rows = ["a,b,label", "1,2,x", "1,2,y", "3,4,x", "5,foo,y"] + ["1,1,x"] * 10
    path = write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(WorkloadError) as caught:
        load_workload("tabular", {"csv": str(path), "target": "label"})
    assert str(caught.value) == f"CSV '{path}' line 5, column 'b': 'foo' is not a number"


def test_csv_missing_file():
    with pytest.raises(WorkloadError, match=r"CSV 'nope.csv': cannot be read"):
        load_workload("tabular", {"csv": "nope.csv", "target": "y"})


# --- built-ins -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "chance_range"),
    [("tabular", (0.6, 0.8)), ("images", (0.85, 0.92)), ("lm", (3.0, 6.0))],
)
def test_builtin_builds_scores_and_has_a_chance_baseline(name: str, chance_range):
    cls = builtin_workloads()[name]
    config = {"sequence_length": 16, "max_bytes": 50_000} if name == "lm" else {}
    workload = load_workload(name, config)
    assert isinstance(workload, cls) and cls.description and cls.hparams
    splits = workload.splits(0)
    assert splits is workload.splits(1)  # cached: the data seed only shuffles
    inputs, targets = split_tensors(splits.train)
    assert len(split_tensors(splits.validation)[0]) > 0
    with torch.no_grad():
        outputs = workload.build_model({})(inputs[:5])
    total, count = workload.loss(outputs, targets[:5])
    assert math.isfinite(float(total)) and count == targets[:5].numel()
    metrics = workload.metrics(outputs, targets[:5])
    assert workload.objective.metric in metrics
    low, high = chance_range
    assert low < workload.chance_baseline() < high


def test_generated_tabular_data_is_fixed_and_not_trivial():
    x, y = generated_dataset.__wrapped__()
    cached_x, cached_y = generated_dataset()
    assert (x == cached_x).all() and (y == cached_y).all()
    shares = torch.bincount(torch.from_numpy(y)).double() / len(y)
    assert len(shares) == 5 and shares.max() < 0.3  # several roughly balanced classes


def test_wrong_output_shape_is_named():
    workload = load_workload("tabular")
    with pytest.raises(WorkloadError, match=r"model output has shape \(4, 1, 5\), expected"):
        workload.loss(torch.zeros(4, 1, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(WorkloadError, match="the model returned tuple, not a tensor"):
        workload.loss((torch.zeros(4, 5),), torch.zeros(4, dtype=torch.long))  # type: ignore[arg-type]


def test_images_augmentation_shifts_only_in_training():
    shift = RandomShift(2)
    images = torch.arange(2 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16)
    shift.eval()
    assert shift(images) is images
    shift.train()
    torch.manual_seed(0)
    shifted = shift(images)
    assert shifted.shape == images.shape and not torch.equal(shifted, images)
    model = load_workload("images").build_model({"augment": True, "channels": 4})
    assert model(images).shape == (2, 10)


def test_ghost_batch_norm_normalizes_each_chunk():
    norm = GhostBatchNorm(torch.nn.BatchNorm1d(3, affine=False), virtual_batch_size=4)
    x = torch.cat([torch.randn(4, 3), torch.randn(4, 3) + 10])
    out = norm(x)
    assert torch.allclose(out[:4].mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out[4:].mean(0), torch.zeros(3), atol=1e-5)
    model = load_workload("tabular").build_model({"norm": "batch", "virtual_batch_size": 16})
    assert any(isinstance(m, GhostBatchNorm) for m in model.modules())
