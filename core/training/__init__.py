"""The training loop and its parts: optimizers (PB-2), schedules (PB-27, PB-20), reporting."""

from tunebook.core.training.loop import (
    TrainingStatus,
    TrialConfig,
    TrialResult,
    check_step,
    evaluate,
    split_hparams,
    train_trial,
)
from tunebook.core.training.optimizers import (
    OPTIMIZERS,
    OptimizerSpec,
    check_optimizer,
    make_optimizer,
    optimizer_spec,
)
from tunebook.core.training.reporter import MemoryReporter, TrialReporter
from tunebook.core.training.schedules import (
    SCHEDULE_HPARAMS,
    SCHEDULES,
    Schedule,
    extend_cosine,
    extend_linear,
    lr_at,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SCHEDULE_HPARAMS",
    "MemoryReporter",
    "OptimizerSpec",
    "Schedule",
    "TrainingStatus",
    "TrialConfig",
    "TrialReporter",
    "TrialResult",
    "check_optimizer",
    "check_step",
    "evaluate",
    "extend_cosine",
    "extend_linear",
    "lr_at",
    "make_optimizer",
    "optimizer_spec",
    "split_hparams",
    "train_trial",
]
