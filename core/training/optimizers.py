"""The optimizers of PB-2, built on ``torch.optim`` so tuned values transfer to users' code.

Each ``OptimizerSpec`` lists every hyperparameter with its default, the exact update rule
torch applies (``help``), and how it relates to the playbook FAQ's rule (``playbook``).
Notation: g = gradient (plus λθ where weight decay is coupled), η = learning rate,
t = 1-based step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import Optimizer

from tunebook.core.workloads.base import HParam
from tunebook.sessions.errors import BadInput

Builder = Callable[[Iterable[Any], dict[str, Any]], Optimizer]

LEARNING_RATE = HParam("learning_rate", 0.1, "float", help="η, the base learning rate")
WEIGHT_DECAY = HParam(
    "weight_decay", 0.0, "float", help="λ, L2 penalty added to the gradient (g ← g + λθ)"
)
MOMENTUM = HParam("momentum", 0.9, "float", help="γ, momentum coefficient")
ONE_MINUS_BETA1 = HParam(
    "one_minus_beta1", 0.1, "float", help="1 − β1 (tune on a log scale); alias: beta1"
)
BETA2 = HParam("beta2", 0.999, "float", help="β2, decay of the squared-gradient average")
EPSILON = HParam("epsilon", 1e-8, "float", help="ε, added to the denominator")


@dataclass(frozen=True)
class OptimizerSpec:
    """An optimizer: its hyperparameters with defaults, update rule and torch constructor.

    ``aliases`` maps an accepted alternative name to the declared name it sets and the
    conversion (``beta1`` sets ``one_minus_beta1`` to 1 − β1; torch's ``alpha`` sets ``rho``).
    """

    name: str
    hparams: tuple[HParam, ...]
    help: str
    playbook: str
    build: Builder = field(repr=False)
    aliases: Mapping[str, tuple[str, Callable[[float], float]]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Declared hyperparameter names, then accepted aliases."""
        return (*(h.name for h in self.hparams), *self.aliases)

    def resolve(self, hparams: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``hparams`` (aliases converted); BadInput on unknown names."""
        declared = {h.name: h for h in self.hparams}
        values = {name: h.default for name, h in declared.items()}
        for name, value in hparams.items():
            where = f"optimizer {self.name!r}"
            if name in self.aliases:
                target, convert = self.aliases[name]
                if target in hparams:
                    raise BadInput(f"{where}: give either {name} or {target}, not both")
                values[target] = convert(declared[target].coerce(value))
            elif name in declared:
                try:
                    values[name] = declared[name].coerce(value)
                except BadInput as exc:
                    raise BadInput(f"{where}: {exc}") from exc
            else:
                raise BadInput(
                    f"hyperparameter {name!r} is not used by optimizer {self.name!r} "
                    f"(it has: {', '.join(self.names)})"
                )
        return values


def _sgd(momentum: bool, nesterov: bool) -> Builder:
    def build(params: Iterable[Any], hp: dict[str, Any]) -> Optimizer:
        return torch.optim.SGD(
            params,
            lr=hp["learning_rate"],
            momentum=hp["momentum"] if momentum else 0.0,
            nesterov=nesterov,
            weight_decay=hp["weight_decay"],
        )

    return build


def _adam(cls: type[Optimizer], **extra: str) -> Builder:
    def build(params: Iterable[Any], hp: dict[str, Any]) -> Optimizer:
        return cls(
            params,
            lr=hp["learning_rate"],
            betas=(1.0 - hp["one_minus_beta1"], hp["beta2"]),
            eps=hp["epsilon"],
            weight_decay=hp["weight_decay"],
            **{arg: hp[name] for arg, name in extra.items()},
        )

    return build


def _rmsprop(params: Iterable[Any], hp: dict[str, Any]) -> Optimizer:
    return torch.optim.RMSprop(
        params,
        lr=hp["learning_rate"],
        alpha=hp["rho"],
        eps=hp["epsilon"],
        momentum=hp["momentum"],
        centered=hp["centered"],
        weight_decay=hp["weight_decay"],
    )


_ADAM_HPARAMS = (
    HParam("learning_rate", 1e-3, "float", help=LEARNING_RATE.help),
    ONE_MINUS_BETA1,
    BETA2,
    EPSILON,
)


def _complement(value: float) -> float:
    """1 − value, rounded to 12 decimals: `beta1=0.9` gives exactly the default 0.1, so a
    decision typed either way compares equal (and marks nothing stale)."""
    return round(1.0 - value, 12)


def _same(value: float) -> float:
    return value


_BETA1_ALIAS = {"beta1": ("one_minus_beta1", _complement)}
_ADAM_RULE = (
    "m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1ᵗ);  v̂ = v/(1−β2ᵗ);  "
    "θ ← θ − η·m̂/(√v̂ + ε)"
)
_ADAM_EPSILON = (
    "torch adds ε outside the square root of the bias-corrected v̂; the playbook adds it to "
    "√v before the step-size correction η·√(1−β2ᵗ)/(1−β1ᵗ), so torch's ε equals the "
    "playbook's ε/√(1−β2ᵗ): identical for large t, larger in the first steps."
)

OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec(
            "sgd",
            (LEARNING_RATE, WEIGHT_DECAY),
            "θ ← θ − η·g",
            "Exactly the playbook's SGD.",
            _sgd(momentum=False, nesterov=False),
        ),
        OptimizerSpec(
            "momentum",
            (LEARNING_RATE, MOMENTUM, WEIGHT_DECAY),
            "v ← γ·v + g;  θ ← θ − η·v   (v₀ = 0; torch.optim.SGD, dampening 0)",
            "Exactly the playbook's heavy-ball momentum: the learning rate multiplies the "
            "velocity after it is accumulated, so a schedule changing η does not rescale v.",
            _sgd(momentum=True, nesterov=False),
        ),
        OptimizerSpec(
            "nesterov",
            (LEARNING_RATE, MOMENTUM, WEIGHT_DECAY),
            "v ← γ·v + g;  θ ← θ − η·(γ·v + g)   (torch.optim.SGD, nesterov=True)",
            "Exactly the playbook's Nesterov momentum (the playbook's preferred momentum form).",
            _sgd(momentum=True, nesterov=True),
        ),
        OptimizerSpec(
            "adam",
            (*_ADAM_HPARAMS, WEIGHT_DECAY),
            _ADAM_RULE + "   (torch.optim.Adam; weight decay coupled: g ← g + λθ)",
            _ADAM_EPSILON,
            _adam(torch.optim.Adam),
            _BETA1_ALIAS,
        ),
        OptimizerSpec(
            "nadam",
            (
                *_ADAM_HPARAMS,
                WEIGHT_DECAY,
                HParam(
                    "momentum_decay",
                    0.004,
                    "float",
                    help="ψ, torch's momentum warm-up: μₜ = β1·(1 − ½·0.96^(t·ψ))",
                ),
            ),
            "μₜ = β1·(1 − ½·0.96^(tψ));  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  "
            "θ ← θ − η·[(1−μₜ)·g/(1−Πᵢ≤ₜ μᵢ) + μₜ₊₁·m/(1−Πᵢ≤ₜ₊₁ μᵢ)]/(√v̂ + ε)"
            "   (torch.optim.NAdam, Dozat 2016)",
            "The playbook's NAdam uses a constant μ = β1 and the single correction 1/(1−β1ᵗ) on "
            "β1·m + (1−β1)·g; torch warms the momentum up with ψ (a large ψ gives μₜ → β1) and "
            "corrects each term separately. " + _ADAM_EPSILON,
            _adam(torch.optim.NAdam, momentum_decay="momentum_decay"),
            _BETA1_ALIAS,
        ),
        OptimizerSpec(
            "adamw",
            (
                *_ADAM_HPARAMS,
                HParam(
                    "weight_decay",
                    0.01,
                    "float",
                    help="λ, decoupled decay: θ ← θ − η·λ·θ before the Adam step",
                ),
            ),
            "θ ← θ − η·λ·θ;  then Adam without weight decay: "
            + _ADAM_RULE
            + "   (torch.optim.AdamW)",
            "Adam with decoupled weight decay (Loshchilov & Hutter), the decay scaled by η. "
            + _ADAM_EPSILON,
            _adam(torch.optim.AdamW),
            _BETA1_ALIAS,
        ),
        OptimizerSpec(
            "rmsprop",
            (
                HParam("learning_rate", 1e-2, "float", help=LEARNING_RATE.help),
                HParam("rho", 0.99, "float", help="ρ, decay of the squared-gradient average"),
                HParam("momentum", 0.0, "float", help="γ, momentum coefficient"),
                EPSILON,
                HParam("centered", False, "bool", help="divide by the gradient's std, not RMS"),
                WEIGHT_DECAY,
            ),
            "v ← ρ·v + (1−ρ)·g²;  b ← γ·b + g/(√v + ε);  θ ← θ − η·b   (v₀ = 0, b₀ = 0; "
            "centered: √(v − ḡ²) with ḡ ← ρ·ḡ + (1−ρ)·g; torch.optim.RMSprop, ρ = alpha)",
            "The playbook starts v at 1 and adds ε inside the square root, √(v + ε); torch "
            "starts v at 0 and adds ε outside, √v + ε. The playbook puts η inside the momentum "
            "(m ← γ·m + η·g/√(v + ε)); torch applies η after it: the same for a constant η.",
            _rmsprop,
            {"alpha": ("rho", _same)},
        ),
    )
}


def optimizer_spec(name: str) -> OptimizerSpec:
    """The spec of optimizer ``name``; BadInput listing the known ones otherwise."""
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise BadInput(
            f"optimizer {name!r} is not known (choices: {', '.join(OPTIMIZERS)})"
        ) from None


#: Torch's refusal once an optimizer's values passed its checks and only the (deliberately
#: empty) parameter list is left: see `check_optimizer`.
_NO_PARAMETERS = "empty parameter list"


def check_optimizer(name: str, hparams: Mapping[str, Any]) -> None:
    """Refuse what building optimizer ``name`` with ``hparams`` would refuse (BadInput),
    without building one: torch checks the values in each optimizer's constructor before
    ``Optimizer.__init__`` looks at the parameters, and given none it stops there, before
    ``add_param_group`` imports torch._dynamo (a second, once per process), which a command
    that only checks a design must not pay."""
    spec = optimizer_spec(name)
    values = spec.resolve(hparams)
    try:
        spec.build([], values)
    except ValueError as exc:
        if _NO_PARAMETERS not in str(exc):
            raise BadInput(f"optimizer {name!r}: {exc}") from exc


def make_optimizer(name: str, params: Iterable[Any], hparams: Mapping[str, Any]) -> Optimizer:
    """Build optimizer ``name`` over ``params`` with ``hparams`` on top of its defaults."""
    spec = optimizer_spec(name)
    values = spec.resolve(hparams)
    try:
        return spec.build(params, values)
    except ValueError as exc:
        raise BadInput(f"optimizer {name!r}: {exc}") from exc
