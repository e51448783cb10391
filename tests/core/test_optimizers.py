"""Each optimizer's first two updates against its documented update rule, by hand (PB-2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tunebook.core.training.optimizers import OPTIMIZERS, check_optimizer, make_optimizer
from tunebook.sessions.errors import BadInput

THETA0 = np.array([0.5, -1.0, 2.0])
GRADIENTS = (np.array([0.3, -0.2, 1.5]), np.array([-0.1, 0.4, 0.7]))
LR, WD = 0.1, 0.01


def sgd(hp):
    theta = THETA0.copy()
    for g in GRADIENTS:
        theta -= LR * (g + WD * theta)
    return theta


def heavy_ball(hp, nesterov=False):
    theta, v, mu = THETA0.copy(), np.zeros(3), hp["momentum"]
    for g in GRADIENTS:
        g = g + WD * theta
        v = mu * v + g
        theta -= LR * (mu * v + g if nesterov else v)
    return theta


def adam(hp, decoupled=False):
    theta, m, v = THETA0.copy(), np.zeros(3), np.zeros(3)
    b1, b2, eps = 1 - hp["one_minus_beta1"], hp["beta2"], hp["epsilon"]
    for t, g in enumerate(GRADIENTS, start=1):
        if decoupled:
            theta = theta - LR * WD * theta
        else:
            g = g + WD * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - LR * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def nadam(hp):
    theta, m, v = THETA0.copy(), np.zeros(3), np.zeros(3)
    b1, b2, eps, psi = 1 - hp["one_minus_beta1"], hp["beta2"], hp["epsilon"], hp["momentum_decay"]

    def mu(t):
        return b1 * (1 - 0.5 * 0.96 ** (t * psi))

    product = 1.0
    for t, g in enumerate(GRADIENTS, start=1):
        g = g + WD * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        product *= mu(t)
        denominator = np.sqrt(v / (1 - b2**t)) + eps
        theta = (
            theta
            - LR
            * ((1 - mu(t)) * g / (1 - product) + mu(t + 1) * m / (1 - product * mu(t + 1)))
            / denominator
        )
    return theta


def rmsprop(hp):
    theta, v, b, avg = THETA0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    rho, mu, eps = hp["rho"], hp["momentum"], hp["epsilon"]
    for g in GRADIENTS:
        g = g + WD * theta
        v = rho * v + (1 - rho) * g**2
        avg = rho * avg + (1 - rho) * g
        scale = np.sqrt(v - avg**2) if hp["centered"] else np.sqrt(v)
        b = mu * b + g / (scale + eps)
        theta = theta - LR * b
    return theta


FORMULAS = {
    "sgd": (sgd, {}),
    "momentum": (heavy_ball, {"momentum": 0.9}),
    "nesterov": (lambda hp: heavy_ball(hp, nesterov=True), {"momentum": 0.8}),
    "adam": (adam, {"one_minus_beta1": 0.2, "beta2": 0.9, "epsilon": 1e-3}),
    "nadam": (nadam, {"one_minus_beta1": 0.1, "beta2": 0.95, "epsilon": 1e-4}),
    "adamw": (lambda hp: adam(hp, decoupled=True), {"one_minus_beta1": 0.3, "epsilon": 1e-2}),
    "rmsprop": (rmsprop, {"rho": 0.9, "momentum": 0.5, "epsilon": 1e-3, "centered": True}),
}


def test_every_optimizer_has_a_formula_test():
    assert set(FORMULAS) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_two_updates_match_the_documented_rule(name: str):
    formula, chosen = FORMULAS[name]
    hparams = {"learning_rate": LR, "weight_decay": WD, **chosen}
    theta = torch.tensor(THETA0, requires_grad=True)
    optimizer = make_optimizer(name, [theta], hparams)
    for g in GRADIENTS:
        optimizer.zero_grad()
        (theta * torch.from_numpy(g)).sum().backward()  # ∂/∂θ = g
        optimizer.step()
    resolved = OPTIMIZERS[name].resolve(hparams)
    # torch keeps the step count as a float32 tensor, so powers of it (NAdam's μₜ) carry
    # ~1e-9 relative error; a wrong rule is off by orders of magnitude more.
    np.testing.assert_allclose(theta.detach().numpy(), formula(resolved), rtol=1e-8, atol=0)


def test_specs_document_rules_and_defaults():
    for spec in OPTIMIZERS.values():
        assert spec.help and spec.playbook
        assert spec.hparams[0].name == "learning_rate"
        assert spec.resolve({}) == {h.name: h.default for h in spec.hparams}
    assert "ε outside the square root" in OPTIMIZERS["adam"].playbook


def test_aliases_set_the_declared_hyperparameter():
    assert OPTIMIZERS["adam"].resolve({"beta1": 0.95})["one_minus_beta1"] == pytest.approx(0.05)
    assert OPTIMIZERS["rmsprop"].resolve({"alpha": 0.9})["rho"] == 0.9
    with pytest.raises(BadInput, match="give either beta1 or one_minus_beta1, not both"):
        OPTIMIZERS["adam"].resolve({"beta1": 0.9, "one_minus_beta1": 0.1})


def test_unknown_optimizer_and_hparam_are_one_sentence():
    params = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(BadInput) as caught:
        make_optimizer("adamm", params, {})
    assert str(caught.value) == (
        "optimizer 'adamm' is not known "
        "(choices: sgd, momentum, nesterov, adam, nadam, adamw, rmsprop)"
    )
    with pytest.raises(BadInput) as caught:
        make_optimizer("sgd", params, {"momentum": 0.9})
    assert str(caught.value) == (
        "hyperparameter 'momentum' is not used by optimizer 'sgd' "
        "(it has: learning_rate, weight_decay)"
    )


def test_invalid_values_are_bad_input():
    params = [torch.zeros(1, requires_grad=True)]
    with pytest.raises(BadInput, match=r"optimizer 'adam': Invalid learning rate: -1.0"):
        make_optimizer("adam", params, {"learning_rate": -1})
    with pytest.raises(BadInput, match=r"optimizer 'sgd': hyperparameter 'learning_rate' must"):
        make_optimizer("sgd", params, {"learning_rate": "fast"})
    assert math.isclose(make_optimizer("sgd", params, {"learning_rate": 1}).defaults["lr"], 1.0)


#: Values torch's constructors refuse (negative rates, decays, momenta; betas off [0, 1)).
REFUSED_BY_TORCH = {
    "learning_rate": -1e-3,
    "weight_decay": -0.1,
    "momentum": -0.5,
    "epsilon": -1e-8,
    "one_minus_beta1": 1.5,
    "beta2": 1.5,
    "rho": -0.1,
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_check_optimizer_refuses_exactly_what_building_one_refuses(name):
    """`check_optimizer` builds nothing (so no torch._dynamo import), yet refuses with the
    same sentence as `make_optimizer` every value torch refuses, and passes the defaults."""
    params = [torch.zeros(1, requires_grad=True)]
    check_optimizer(name, {})
    tried = 0
    for hparam, value in REFUSED_BY_TORCH.items():
        if hparam not in OPTIMIZERS[name].names:
            continue
        tried += 1
        with pytest.raises(BadInput) as built:
            make_optimizer(name, params, {hparam: value})
        with pytest.raises(BadInput) as checked:
            check_optimizer(name, {hparam: value})
        assert str(checked.value) == str(built.value)
    assert tried >= 2
