"""The Workload API and the built-in workloads (PB-1): what is trained and evaluated."""

from tunebook.core.workloads.base import (
    HParam,
    Objective,
    Splits,
    Workload,
    WorkloadError,
    split_tensors,
)
from tunebook.core.workloads.images import ImagesWorkload
from tunebook.core.workloads.loading import builtin_workloads, load_workload
from tunebook.core.workloads.sequences import LanguageModelWorkload
from tunebook.core.workloads.tabular import TabularWorkload

__all__ = [
    "HParam",
    "ImagesWorkload",
    "LanguageModelWorkload",
    "Objective",
    "Splits",
    "TabularWorkload",
    "Workload",
    "WorkloadError",
    "builtin_workloads",
    "load_workload",
    "split_tensors",
]
