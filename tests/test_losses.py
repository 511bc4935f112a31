"""Losses: hand-computed values, parity with reference conventions, stability, minimum at the target."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from spae_core.losses import (
    BINARY_LOSSES,
    DEFAULT_BETA,
    expected_loss,
    get_loss,
    positive_weights,
)

ALL = BINARY_LOSSES
ENTRYWISE = ("mse", "bce", "wmse", "wbce", "focal")


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def build(name, d=3, **params):
    if name in ("wmse", "wbce") and "alpha" not in params:
        params["alpha"] = torch.linspace(2.0, 4.0, d)
    return get_loss(name, **params)


# --- hand-computed values on one sample: logits z, target x ---------------------------------
Z = [0.5, -1.0, 2.0]
X = [1.0, 0.0, 0.0]
ALPHA = [2.0, 3.0, 4.0]


def _hand(name):
    p = [sigmoid(z) for z in Z]
    if name == "mse":
        return sum((pi - xi) ** 2 for pi, xi in zip(p, X)) / 3
    if name == "bce":
        return -sum(xi * math.log(pi) + (1 - xi) * math.log(1 - pi) for pi, xi in zip(p, X)) / 3
    if name == "wbce":
        return -sum(a * xi * math.log(pi) + (1 - xi) * math.log(1 - pi) for a, pi, xi in zip(ALPHA, p, X)) / 3
    if name == "wmse":
        return sum(a * xi * (1 - pi) ** 2 + (1 - xi) * pi**2 for a, pi, xi in zip(ALPHA, p, X)) / 3
    if name == "focal":  # Eq. 7 with alpha = 0.75, gamma = 2
        return -sum(
            0.75 * (1 - pi) ** 2 * xi * math.log(pi) + 0.25 * pi**2 * (1 - xi) * math.log(1 - pi)
            for pi, xi in zip(p, X)
        ) / 3
    if name == "dice":  # Eq. 8, eps = 1e-5
        return 1 - (2 * sum(pi * xi for pi, xi in zip(p, X)) + 1e-5) / (sum(X) + sum(p) + 1e-5)
    if name == "multinomial":
        log_norm = math.log(sum(math.exp(z) for z in Z))
        return -sum(xi * (z - log_norm) for z, xi in zip(Z, X))
    raise KeyError(name)


@pytest.mark.parametrize("name", ALL)
def test_hand_computed_value(name):
    params = {"alpha": ALPHA} if name in ("wmse", "wbce") else {}
    loss = get_loss(name, **params)
    value = loss(torch.tensor([Z], dtype=torch.float64), torch.tensor([X], dtype=torch.float64))
    assert value.item() == pytest.approx(_hand(name), rel=1e-12)


def test_wmse_as_printed_hand_value():
    loss = get_loss("wmse", alpha=ALPHA, as_printed=True)
    p = [sigmoid(z) for z in Z]
    hand = sum(a * (1 - pi) ** 2 + (1 - xi) * pi**2 for a, pi, xi in zip(ALPHA, p, X)) / 3
    value = loss(torch.tensor([Z], dtype=torch.float64), torch.tensor([X], dtype=torch.float64))
    assert value.item() == pytest.approx(hand, rel=1e-12)


def test_wmse_as_printed_pushes_zeros_towards_one():
    # The erratum: for a zero target the printed Eq. 5 is minimal at alpha / (1 + alpha), not at 0.
    alpha = 3.0
    printed = get_loss("wmse", alpha=alpha, as_printed=True, reduction="none")
    corrected = get_loss("wmse", alpha=alpha, reduction="none")
    p = torch.linspace(1e-4, 1 - 1e-4, 20001, dtype=torch.float64)
    logits = torch.log(p) - torch.log1p(-p)
    zeros = torch.zeros_like(p)
    assert p[printed(logits, zeros).argmin()].item() == pytest.approx(alpha / (1 + alpha), abs=1e-4)
    assert p[corrected(logits, zeros).argmin()].item() == pytest.approx(1e-4)


# --- parity with reference conventions ----------------------------------------------------------
def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss, reduction="none" (its published formula)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss


def _random_batch(seed, n=16, d=30, density=0.1, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, d, generator=g, dtype=torch.float64)
    target = (torch.rand(n, d, generator=g, dtype=torch.float64) < density).to(torch.float64)
    return logits, target


@pytest.mark.parametrize("alpha,gamma", [(0.75, 2.0), (0.25, 2.0), (0.5, 1.0), (0.9, 0.5), (-1, 2.0)])
def test_focal_matches_torchvision_formula(alpha, gamma):
    logits, target = _random_batch(0)
    ours = get_loss("focal", alpha=alpha, gamma=gamma, reduction="none")(logits, target)
    ref = torchvision_sigmoid_focal_loss(logits, target, alpha=alpha, gamma=gamma)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)


def test_focal_gamma0_alpha_half_is_half_bce():
    logits, target = _random_batch(1)
    focal = get_loss("focal", alpha=0.5, gamma=0.0)(logits, target)
    bce = get_loss("bce")(logits, target)
    torch.testing.assert_close(focal, 0.5 * bce, rtol=1e-12, atol=0)


def test_wbce_matches_bce_with_logits_pos_weight():
    logits, target = _random_batch(2)
    alpha = torch.linspace(1.5, 8.0, logits.shape[1], dtype=torch.float64)
    ours = get_loss("wbce", alpha=alpha)(logits, target)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=alpha)(logits, target)
    torch.testing.assert_close(ours, ref.to(ours.dtype), rtol=1e-6, atol=0)


def test_mse_and_bce_match_torch_functional():
    logits, target = _random_batch(3)
    torch.testing.assert_close(get_loss("mse")(logits, target), F.mse_loss(torch.sigmoid(logits), target))
    torch.testing.assert_close(get_loss("bce")(logits, target), F.binary_cross_entropy(torch.sigmoid(logits), target))


def test_wmse_intended_form_is_weighted_squared_error():
    # references.md: mean_ij w_ij (x_ij - x_hat_ij)^2 with w_ij = 1 + (alpha_j - 1) x_ij.
    logits, target = _random_batch(4)
    alpha = torch.linspace(1.5, 8.0, logits.shape[1], dtype=torch.float64)
    w = 1 + (alpha - 1) * target
    ref = (w * (target - torch.sigmoid(logits)) ** 2).mean()
    torch.testing.assert_close(get_loss("wmse", alpha=alpha)(logits, target), ref)


def test_dice_batch_pooled_and_per_sample():
    logits, target = _random_batch(5)
    p = torch.sigmoid(logits)
    eps = 1e-5
    per_sample = 1 - (2 * (p * target).sum(1) + eps) / (target.sum(1) + p.sum(1) + eps)
    pooled = 1 - (2 * (p * target).sum() + eps) / (target.sum() + p.sum() + eps)
    torch.testing.assert_close(get_loss("dice", reduction="none")(logits, target), per_sample)
    torch.testing.assert_close(get_loss("dice")(logits, target), per_sample.mean())
    torch.testing.assert_close(get_loss("dice", batch=True)(logits, target), pooled)


def test_multinomial_matches_log_softmax():
    logits, target = _random_batch(6)
    ref = -(target * torch.log(torch.softmax(logits, dim=1))).sum(1)
    torch.testing.assert_close(get_loss("multinomial", reduction="none")(logits, target), ref)
    probs = get_loss("multinomial").probabilities(logits)
    torch.testing.assert_close(probs.sum(1), torch.ones(logits.shape[0], dtype=torch.float64))


@pytest.mark.parametrize("name", ENTRYWISE)
def test_reductions_agree(name):
    logits, target = _random_batch(7)
    loss_none = build(name, d=logits.shape[1], reduction="none")(logits, target)
    assert loss_none.shape == logits.shape
    torch.testing.assert_close(build(name, d=30, reduction="sum")(logits, target), loss_none.sum())
    torch.testing.assert_close(build(name, d=30, reduction="mean")(logits, target), loss_none.mean())


# --- numerical stability and the minimum at the target --------------------------------------------
@pytest.mark.parametrize("name,params", [(name, {}) for name in ALL] + [("focal", {"gamma": 0.5})])
def test_gradients_finite_at_extreme_logits(name, params):
    logits = torch.tensor([[100.0, -100.0, 100.0, -100.0, 0.0]], requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 0.0, 1.0, 1.0]])
    value = build(name, d=5, **params)(logits, target)
    value.backward()
    assert torch.isfinite(value)
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", ALL)
def test_loss_is_minimal_at_the_target(name):
    logits, target = _random_batch(8, scale=2.0)
    at_target = 30.0 * (2 * target - 1)  # predictions within 1e-13 of the target
    loss = build(name, d=logits.shape[1])
    assert loss(at_target, target) < loss(logits, target)
    if name != "multinomial":  # multinomial's minimum is a distribution, not the 0/1 target
        assert loss(at_target, target).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ENTRYWISE)
def test_entrywise_loss_decreases_towards_the_target(name):
    # d loss / d z < 0 where x = 1 and > 0 where x = 0 (for every finite logit).
    z = torch.linspace(-8, 8, 41, dtype=torch.float64).repeat(2, 1).requires_grad_()
    target = torch.stack([torch.ones(41), torch.zeros(41)]).to(torch.float64)
    build(name, d=41, reduction="sum")(z, target).backward()
    assert (z.grad[0] < 0).all() and (z.grad[1] > 0).all()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    scale=st.floats(0.1, 50.0),
    seed=st.integers(0, 10_000),
    name=st.sampled_from(ALL),
)
def test_property_finite_nonnegative_and_reductions(n, d, density, scale, seed, name):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, d, generator=g)).requires_grad_()
    target = (torch.rand(n, d, generator=g) < density).float()
    loss = build(name, d=d, reduction="none")
    values = loss(logits, target)
    assert torch.isfinite(values).all()
    assert (values >= -1e-6).all()
    values.sum().backward()
    assert torch.isfinite(logits.grad).all()
    mean = build(name, d=d)(logits, target)
    torch.testing.assert_close(mean, values.mean())


# --- the summed BCE route: same gradients as torch, bit for bit ---------------------------------
BCE_CASES = dict(
    n=st.integers(1, 9),
    d=st.integers(1, 30),
    density=st.floats(0.0, 1.0),
    scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
    seed=st.integers(0, 10_000),
    reduction=st.sampled_from(["mean", "sum"]),
)


def _bce_case(n, d, density, scale, seed, dtype=torch.float32):
    """Logits, a 0/1 target and a generator left ready to draw the case's weights."""
    g = torch.Generator().manual_seed(seed)
    z = (scale * torch.randn(n, d, generator=g)).to(dtype)
    x = (torch.rand(n, d, generator=g) < density).to(dtype)
    return z, x, g


def _torch_kernel_gradient(z, x, pos_weight, reduction):
    """The gradient of torch's own kernel, reduced the way the generic loss path reduces it."""
    z = z.clone().requires_grad_()
    per_entry = F.binary_cross_entropy_with_logits(z, x, pos_weight=pos_weight, reduction="none")
    (per_entry.mean() if reduction == "mean" else per_entry.sum()).backward()
    return z.grad


def _our_value_and_gradient(loss, z, target):
    z = z.clone().requires_grad_()
    value = loss(z, target)
    value.backward()
    return value, z.grad


@settings(max_examples=40, deadline=None)
@given(**BCE_CASES, weighted=st.booleans(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_reduced_bce_matches_torch_gradient_bit_for_bit_and_an_exact_value(n, d, density, scale, seed, reduction,
                                                                           weighted, dtype):
    # Gradient: torch's own kernel. Value: the per-entry loss alpha^x softplus((1 - 2x) z) summed in
    # float64 with log1p, which torch's kernel only approximates (z - log_sigmoid(z) cancels for
    # confident negatives: at z = -16 it returns 0 for 1.1e-7).
    z, x, g = _bce_case(n, d, density, scale, seed, dtype)
    alpha = 1.0 + 5.0 * torch.rand(d, generator=g) if weighted else None
    loss = get_loss("wbce", alpha=alpha, reduction=reduction) if weighted else get_loss("bce", reduction=reduction)
    ours, gradient = _our_value_and_gradient(loss, z, x)
    pos_weight = None if alpha is None else alpha.to(dtype)
    assert torch.equal(gradient, _torch_kernel_gradient(z, x, pos_weight, reduction))

    s, x64 = ((1 - 2 * x) * z).double(), x.double()
    exact = (torch.clamp(s, min=0) + torch.log1p(torch.exp(-s.abs())))
    if alpha is not None:
        exact = exact * torch.where(x64 == 1, alpha.double(), 1.0)
    exact = exact.mean() if reduction == "mean" else exact.sum()
    # float32: a few ulps per entry plus the reduction's rounding; float64 would expose torch's
    # softplus threshold of 20 (exp(-20) = 2e-9), which the route must not use.
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours.double(), exact, rtol=tolerance, atol=tolerance * 1e-3)


def test_reduced_bce_keeps_confident_entries_exact():
    # A confident, correct positive (z = 30) and negative (z = -30): softplus(-30) ~ 9.4e-14 each.
    # Written as softplus(z) - x z, the positive would cancel to 0 in float32.
    z = torch.tensor([[30.0, -30.0]])
    x = torch.tensor([[1.0, 0.0]])
    assert get_loss("bce", reduction="sum")(z, x).item() == pytest.approx(2 * math.log1p(math.exp(-30.0)), rel=1e-6)


def _csr(dense: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return dense.to_sparse_csr()


@settings(max_examples=30, deadline=None)
@given(**BCE_CASES, alpha=st.sampled_from(["none", "vector", "scalar"]))
def test_sparse_target_matches_the_dense_one_and_torchs_gradient(n, d, density, scale, seed, reduction, alpha):
    z, x, g = _bce_case(n, d, density, scale, seed)
    params = {"vector": {"alpha": 1.0 + 5.0 * torch.rand(d, generator=g)}, "scalar": {"alpha": 3.0}, "none": {}}[alpha]
    loss = get_loss("bce" if alpha == "none" else "wbce", reduction=reduction, **params)
    value, gradient = _our_value_and_gradient(loss, z, _csr(x))
    pos_weight = None if alpha == "none" else loss.alpha
    assert torch.equal(gradient, _torch_kernel_gradient(z, x, pos_weight, reduction))
    torch.testing.assert_close(value, loss(z, x), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
def test_reduced_bce_backward_twice_with_retained_graph(sparse):
    # The backward reuses a forward buffer; a second backward over a retained graph must agree.
    g = torch.Generator().manual_seed(3)
    z = torch.randn(5, 7, generator=g).requires_grad_()
    x = (torch.rand(5, 7, generator=g) < 0.3).float()
    value = get_loss("bce")(z, _csr(x) if sparse else x)
    (first,) = torch.autograd.grad(value, z, retain_graph=True)
    (second,) = torch.autograd.grad(value, z)
    assert torch.equal(first, second)


def test_sparse_target_errors_name_what_is_wrong():
    z = torch.zeros(2, 3)
    x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="reduction='mean' or 'sum'"):
        get_loss("bce", reduction="none")(z, _csr(x))
    with pytest.raises(ValueError, match="shape"):
        get_loss("bce")(torch.zeros(2, 4), _csr(x))
    with pytest.raises(ValueError, match="stores 1 values other than 1"):
        get_loss("bce")(z, _csr(torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])))
    with pytest.raises(ValueError, match="dtype"):
        get_loss("bce")(z, _csr(x.double()))
    for name in ("mse", "focal", "dice", "poisson"):
        with pytest.raises(ValueError, match="needs a dense target"):
            build(name, d=3)(z, _csr(x))


# --- bad input ------------------------------------------------------------------------------------
def test_errors_name_what_is_wrong():
    logits = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="shape"):
        get_loss("bce")(logits, torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"2 entries that are not 0 or 1 \(first at index \(0, 1\)"):
        get_loss("bce")(logits, torch.tensor([[0.0, 0.5, 1.0], [2.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="not 0 or 1"):
        get_loss("focal")(logits, torch.tensor([[0.0, float("nan"), 1.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="dtype"):
        get_loss("bce")(logits, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="reduction"):
        get_loss("bce", reduction="avg")
    with pytest.raises(ValueError, match="Unknown loss 'l2'"):
        get_loss("l2")
    with pytest.raises(ValueError, match="positive_weights"):
        get_loss("wbce")
    with pytest.raises(ValueError, match="NaN or infinite"):
        get_loss("wmse", alpha=[1.0, float("inf")])
    with pytest.raises(ValueError, match="strictly positive"):
        get_loss("wbce", alpha=[1.0, 0.0])
    with pytest.raises(ValueError, match="Bad parameters"):
        get_loss("focal", beta=3)
    with pytest.raises(ValueError, match="gamma"):
        get_loss("focal", gamma=-1)


# --- positive weights -------------------------------------------------------------------------------
def test_positive_weights_hand_computed_and_smoothed():
    X = np.array([[1, 0, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]])
    alpha = positive_weights(X, beta=1.5)
    expected = [1.5 + math.log(6 / 4), 1.5 + math.log(6 / 1), 1.5 + math.log(6 / 2)]
    np.testing.assert_allclose(alpha, expected, rtol=1e-12)
    assert np.isfinite(alpha).all()  # the never-seen feature 1 gets beta + log(n + 2)


def test_positive_weights_sparse_equals_dense_and_default_beta():
    rng = np.random.default_rng(0)
    X = (rng.random((50, 20)) < 0.1).astype(np.int8)
    np.testing.assert_array_equal(positive_weights(X), positive_weights(sp.csr_matrix(X)))
    assert positive_weights(np.ones((3, 2))).min() == pytest.approx(DEFAULT_BETA + math.log(5 / 4))


@pytest.mark.parametrize("beta", [1.0, 0.5, float("nan")])
def test_positive_weights_rejects_beta_not_above_one(beta):
    with pytest.raises(ValueError, match="beta"):
        positive_weights(np.eye(3), beta=beta)


@pytest.mark.parametrize(
    "X,match",
    [
        (np.array([[0, 2]]), "not 0 or 1"),
        (np.array([[np.nan, 1.0]]), "NaN"),
        (np.zeros((0, 4)), "empty"),
        (np.array([1, 0, 1]), "2-D"),
        (np.array([["a", "b"]]), "dtype"),
        (np.array([[-1, 0]]), "Negative"),
    ],
)
def test_positive_weights_bad_input(X, match):
    with pytest.raises(ValueError, match=match):
        positive_weights(X)


# --- expected loss (Figure 1) --------------------------------------------------------------------
def _simulated_expected_loss(name, s_x, s_hat, n_entries=400_000, low=0.01, high=0.99, seed=0):
    """Monte Carlo under the stated model, using the loss modules on sampled entries."""
    rng = np.random.default_rng(seed)
    p = 1 - s_x
    target = torch.from_numpy((rng.random(n_entries) < p).astype(np.float64))
    recon = np.where(rng.random(n_entries) < 1 - s_hat, high, low)
    logits = torch.from_numpy(np.log(recon) - np.log1p(-recon))
    params = {"alpha": DEFAULT_BETA + math.log(1 / p)} if name in ("wmse", "wbce") else {}
    if name == "dice":
        return get_loss("dice")(logits[None, :], target[None, :]).item()
    return get_loss(name, **params)(logits, target).item()


@pytest.mark.parametrize("name", ENTRYWISE + ("dice",))
@pytest.mark.parametrize("s_hat", [0.5, 0.9, 0.99])
def test_expected_loss_matches_simulation(name, s_hat):
    closed = expected_loss(name, 0.95, s_hat)
    simulated = _simulated_expected_loss(name, 0.95, s_hat)
    assert closed == pytest.approx(simulated, rel=0.02)


def test_expected_loss_formula_at_all_low_reconstruction():
    # s(x_hat) = 1: every entry is `low`; MSE = p (1 - low)^2 + (1 - p) low^2.
    p, low = 0.001, 0.01
    assert expected_loss("mse", 0.999, 1.0, low=low) == pytest.approx(p * (1 - low) ** 2 + (1 - p) * low**2)
    curve = expected_loss("bce", 0.999, np.linspace(0.5, 0.999, 11))
    assert curve.shape == (11,) and np.all(np.diff(curve) < 0)  # BCE rewards sparser outputs


def test_expected_loss_rejects_bad_arguments():
    with pytest.raises(ValueError, match="target_sparsity"):
        expected_loss("mse", 1.0, 0.5)
    with pytest.raises(ValueError, match="recon_sparsity"):
        expected_loss("mse", 0.9, 1.5)
    with pytest.raises(ValueError, match="not entry-wise"):
        expected_loss("multinomial", 0.9, 0.5)
    with pytest.raises(ValueError, match="count loss"):
        expected_loss("poisson", 0.9, 0.5)


def test_smoothed_rates_are_add_one_rates():
    from spae_core.losses import smoothed_rates

    # p_j = (n_j + 1) / (n + 2): a feature never positive among 4 rows gets 1/6, one always positive 5/6.
    assert smoothed_rates([0, 4, 2], 4).tolist() == [1 / 6, 5 / 6, 3 / 6]
