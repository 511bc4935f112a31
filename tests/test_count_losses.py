"""Count losses: parity with scipy.stats, stability at extreme outputs, minimum at the target, properties."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from spae_core.losses import (
    BINARY_LOSSES,
    COUNT_LOSSES,
    get_loss,
    is_count_loss,
    loss_names,
    positive_weights,
)


def build(name, d=5, **params):
    if name == "wpoisson" and "alpha" not in params:
        params["alpha"] = torch.linspace(2.0, 4.0, d, dtype=torch.float64)
    return get_loss(name, **params).to(torch.float64)


def softplus_np(z):
    return np.logaddexp(0.0, z)


def inverse_softplus(mu):
    return torch.log(torch.expm1(torch.as_tensor(mu, dtype=torch.float64)))


def _count_batch(seed, n=12, d=7, rate=1.5, density=0.3):
    g = torch.Generator().manual_seed(seed)
    logits = 3.0 * torch.randn(n, d, generator=g, dtype=torch.float64)
    nonzero = torch.rand(n, d, generator=g, dtype=torch.float64) < density
    counts = 1 + torch.poisson(torch.full((n, d), rate, dtype=torch.float64), generator=g)
    return logits, torch.where(nonzero, counts, torch.zeros_like(counts))


def test_registry_keeps_binary_names_and_tells_count_losses_apart():
    assert loss_names()[: len(BINARY_LOSSES)] == ("mse", "bce", "wmse", "wbce", "focal", "dice", "multinomial")
    assert set(loss_names()) == set(BINARY_LOSSES) | set(COUNT_LOSSES)
    assert all(is_count_loss(n) for n in COUNT_LOSSES) and not any(is_count_loss(n) for n in BINARY_LOSSES)
    assert is_count_loss(get_loss("poisson")) and not is_count_loss(get_loss("bce"))
    with pytest.raises(ValueError, match="Unknown loss"):
        is_count_loss("gamma")


# --- parity with scipy.stats ----------------------------------------------------------------------
def test_poisson_matches_scipy_logpmf():
    logits, target = _count_batch(0)
    mu = softplus_np(logits.numpy())
    ref = -stats.poisson.logpmf(target.numpy(), mu)
    ours = get_loss("poisson", reduction="none")(logits, target).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("theta", [0.3, 1.0, 7.5])
def test_nb_matches_scipy_nbinom_with_mean_dispersion_mapping(theta):
    logits, target = _count_batch(1)
    mu = softplus_np(logits.numpy())
    ref = -stats.nbinom.logpmf(target.numpy(), theta, theta / (theta + mu))
    loss = get_loss("nb", theta_init=theta, reduction="none").to(torch.float64)
    np.testing.assert_allclose(loss(logits, target).detach().numpy(), ref, rtol=1e-6, atol=1e-9)


def test_nb_per_feature_dispersion_matches_scipy():
    logits, target = _count_batch(2, d=4)
    theta = np.array([0.5, 1.0, 2.0, 10.0])
    loss = get_loss("nb", n_features=4, reduction="none").to(torch.float64)
    with torch.no_grad():
        loss.log_theta.copy_(torch.log(torch.from_numpy(theta)))
    mu = softplus_np(logits.numpy())
    ref = -stats.nbinom.logpmf(target.numpy(), theta[None, :], theta[None, :] / (theta[None, :] + mu))
    np.testing.assert_allclose(loss(logits, target).detach().numpy(), ref, rtol=1e-9, atol=1e-12)


def test_nb_approaches_poisson_for_large_theta():
    logits, target = _count_batch(3)
    nb = get_loss("nb", theta_init=1e7, reduction="none").to(torch.float64)(logits, target)
    poisson = get_loss("poisson", reduction="none")(logits, target)
    torch.testing.assert_close(nb.detach(), poisson, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("theta", [1e4, 1e6, 1e8])
def test_nb_stays_accurate_in_float32_at_large_theta(theta):
    # lgamma(x + theta) - lgamma(theta) is a small difference of huge numbers; in plain float32
    # it was off by more than 1 nat at theta = 1e6.
    logits, target = _count_batch(11, rate=3.0)
    logits, target = logits.float(), target.float()
    mu = softplus_np(logits.double().numpy())
    ref = -stats.nbinom.logpmf(target.numpy(), theta, theta / (theta + mu))
    ours = get_loss("nb", theta_init=theta, reduction="none")(logits, target).detach().double().numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("pi,theta", [(0.1, 1.0), (0.6, 0.4), (0.01, 5.0)])
def test_zinb_matches_hand_mixture(pi, theta):
    logits, target = _count_batch(4)
    mu = softplus_np(logits.numpy())
    x = target.numpy()
    nb_pmf = stats.nbinom.pmf(x, theta, theta / (theta + mu))
    ref = -np.log(np.where(x == 0, pi, 0.0) + (1 - pi) * nb_pmf)
    loss = get_loss("zinb", theta_init=theta, dropout_init=pi, reduction="none").to(torch.float64)
    np.testing.assert_allclose(loss(logits, target).detach().numpy(), ref, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(loss.mean(logits).detach().numpy(), (1 - pi) * mu, rtol=1e-6)
    p_zero = pi + (1 - pi) * stats.nbinom.pmf(0, theta, theta / (theta + mu))
    np.testing.assert_allclose(loss.probabilities(logits).detach().numpy(), 1 - p_zero, rtol=1e-6, atol=1e-12)


def test_wpoisson_weights_only_nonzero_entries():
    logits, target = _count_batch(5, d=5)
    alpha = np.array([2.0, 3.0, 4.0, 5.0, 6.0])
    mu = softplus_np(logits.numpy())
    x = target.numpy()
    ref = np.where(x > 0, alpha[None, :], 1.0) * -stats.poisson.logpmf(x, mu)
    ours = get_loss("wpoisson", alpha=alpha, reduction="none")(logits, target).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_poisson_hand_formula(gamma):
    logits, target = _count_batch(6)
    mu = softplus_np(logits.numpy())
    x = target.numpy()
    ref = np.where(x > 0, -stats.poisson.logpmf(x, mu), (1 - np.exp(-mu)) ** gamma * mu)
    ours = get_loss("focal_poisson", gamma=gamma, reduction="none")(logits, target).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-14)


def test_focal_poisson_gamma_zero_is_poisson_and_downweights_easy_zeros():
    logits, target = _count_batch(7)
    torch.testing.assert_close(get_loss("focal_poisson", gamma=0.0)(logits, target), get_loss("poisson")(logits, target))
    zeros = torch.zeros(3, dtype=torch.float64)
    easy = inverse_softplus([0.01, 0.1, 1.0])  # predicted means of zero targets
    ratio = get_loss("focal_poisson", reduction="none")(easy, zeros) / get_loss("poisson", reduction="none")(easy, zeros)
    # (1 - exp(-mu))^2: ~1e-4 for mu = 0.01, ~0.4 for mu = 1
    np.testing.assert_allclose(ratio.numpy(), (1 - np.exp(-np.array([0.01, 0.1, 1.0]))) ** 2, rtol=1e-9)


def test_mean_and_nonzero_probability_of_poisson_and_nb():
    logits, _ = _count_batch(8)
    mu = softplus_np(logits.numpy())
    poisson = get_loss("poisson")
    np.testing.assert_allclose(poisson.mean(logits).numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(poisson.probabilities(logits).numpy(), 1 - np.exp(-mu), rtol=1e-9)
    nb = get_loss("nb", theta_init=2.0).to(torch.float64)
    p0 = stats.nbinom.pmf(0, 2.0, 2.0 / (2.0 + mu))
    np.testing.assert_allclose(nb.probabilities(logits).detach().numpy(), 1 - p0, rtol=1e-6)


@pytest.mark.parametrize("name", COUNT_LOSSES)
def test_reductions_agree(name):
    logits, target = _count_batch(9)
    none = build(name, d=7, reduction="none")(logits, target)
    assert none.shape == logits.shape
    torch.testing.assert_close(build(name, d=7, reduction="sum")(logits, target), none.sum())
    torch.testing.assert_close(build(name, d=7, reduction="mean")(logits, target), none.mean())


# --- stability --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,params", [(n, {}) for n in COUNT_LOSSES] + [("focal_poisson", {"gamma": 0.5})])
def test_finite_values_and_gradients_at_extreme_outputs(name, params):
    loss = build(name, d=6, **params).to(torch.float32)
    logits = torch.tensor([[1e4, -1e4, 200.0, -200.0, 0.0, -1e4]], requires_grad=True)
    target = torch.tensor([[0.0, 0.0, 3.0, 45.0, 1.0, 2.0]])
    value = loss(logits, target)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    for parameter in loss.parameters():
        assert torch.isfinite(parameter.grad).all()


# --- minimum at the target ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", COUNT_LOSSES)
@pytest.mark.parametrize("x", [1.0, 2.0, 5.0, 45.0])
def test_entry_loss_is_minimal_at_mean_equal_to_target(name, x):
    mu = torch.linspace(0.05, 2 * x + 5, 40001, dtype=torch.float64)
    loss = build(name, d=1, reduction="none")
    values = loss(inverse_softplus(mu)[:, None], torch.full((mu.numel(), 1), x, dtype=torch.float64)).detach()
    # NB's minimiser in mu is x whatever theta: d/dmu log NB = x/mu - (x + theta)/(mu + theta) = 0 at mu = x.
    assert mu[values[:, 0].argmin()].item() == pytest.approx(x, abs=2e-3 * (2 * x + 5))


@pytest.mark.parametrize("name", COUNT_LOSSES)
def test_zero_target_prefers_smaller_means(name):
    mu = torch.logspace(-6, 2, 50, dtype=torch.float64)
    values = build(name, d=1, reduction="none")(inverse_softplus(mu)[:, None], torch.zeros(50, 1, dtype=torch.float64))
    assert (values.detach()[1:, 0] > values.detach()[:-1, 0]).all()


@pytest.mark.parametrize("name", COUNT_LOSSES)
def test_batch_loss_lower_at_the_target_than_elsewhere(name):
    logits, target = _count_batch(10)
    at_target = torch.where(target > 0, inverse_softplus(target.clamp(min=1)), torch.full_like(target, -30.0))
    loss = build(name, d=7)
    assert loss(at_target, target) < loss(logits, target)


# --- properties ---------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 10),
    d=st.integers(1, 30),
    density=st.floats(0.0, 1.0),
    rate=st.floats(0.0, 60.0),
    scale=st.floats(0.1, 80.0),
    seed=st.integers(0, 10_000),
    name=st.sampled_from(COUNT_LOSSES),
)
def test_property_finite_reductions_and_gradients(n, d, density, rate, scale, seed, name):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, d, generator=g)).requires_grad_()
    counts = torch.poisson(torch.full((n, d), rate), generator=g)
    target = torch.where(torch.rand(n, d, generator=g) < density, counts, torch.zeros_like(counts))
    loss = build(name, d=d, reduction="none").to(torch.float32)
    values = loss(logits, target)
    assert torch.isfinite(values).all()
    # Negative log-likelihoods of a discrete distribution (probabilities <= 1) are >= 0.
    assert (values >= -1e-4 * (1 + values.abs())).all()
    values.sum().backward()
    assert torch.isfinite(logits.grad).all()
    torch.testing.assert_close(build(name, d=d).to(torch.float32)(logits, target), values.mean())


@settings(max_examples=30, deadline=None)
@given(x=st.integers(0, 200), mu=st.floats(1e-3, 300.0), theta=st.floats(0.05, 50.0))
def test_property_nb_pmf_agrees_with_scipy(x, mu, theta):
    loss = get_loss("nb", theta_init=theta, reduction="none").to(torch.float64)
    z = inverse_softplus([mu])
    ours = loss(z, torch.tensor([float(x)], dtype=torch.float64)).item()
    ref = -stats.nbinom.logpmf(x, theta, theta / (theta + mu))
    assert ours == pytest.approx(ref, rel=1e-5, abs=1e-7)


# --- parameters owned by the loss -----------------------------------------------------------------
def test_nb_and_zinb_parameters_are_learnable_per_feature():
    zinb = get_loss("zinb", n_features=5)
    names = dict(zinb.named_parameters())
    assert set(names) == {"log_theta", "dropout_logit"} and names["log_theta"].shape == (5,)
    assert zinb.theta.detach().numpy() == pytest.approx(np.ones(5))
    assert zinb.dropout.detach().numpy() == pytest.approx(np.full(5, 0.1))
    assert dict(get_loss("nb").named_parameters())["log_theta"].shape == ()
    assert list(get_loss("poisson").parameters()) == []


def test_nb_dispersion_is_learned_towards_the_truth():
    # Data drawn from NB(mu = 4, theta = 0.5) with the mean known: maximum likelihood over theta
    # must move log_theta from its start (theta = 1) towards log(0.5).
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.negative_binomial(0.5, 0.5 / 4.5, size=(4000, 1)).astype(np.float32))
    loss = get_loss("nb", n_features=1)
    logits = inverse_softplus(4.0).float().expand_as(x)
    optimizer = torch.optim.Adam(loss.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        loss(logits, x).backward()
        optimizer.step()
    assert loss.theta.item() == pytest.approx(0.5, rel=0.15)


# --- bad input -------------------------------------------------------------------------------------
def test_count_losses_reject_bad_targets_and_parameters():
    logits = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"2 entries that are not non-negative integers \(first at index \(0, 1\)"):
        get_loss("poisson")(logits, torch.tensor([[0.0, 0.5, 1.0], [-1.0, 0.0, 3.0]]))
    with pytest.raises(ValueError, match="not non-negative integers"):
        get_loss("nb")(logits, torch.tensor([[0.0, float("nan"), 1.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="dtype"):
        get_loss("zinb")(logits, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        get_loss("poisson")(logits, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="counts=True"):
        get_loss("wpoisson")
    with pytest.raises(ValueError, match="theta_init"):
        get_loss("nb", theta_init=0.0)
    with pytest.raises(ValueError, match="dropout_init"):
        get_loss("zinb", dropout_init=1.0)
    with pytest.raises(ValueError, match="n_features"):
        get_loss("nb", n_features=0)
    with pytest.raises(ValueError, match="gamma"):
        get_loss("focal_poisson", gamma=-1.0)
    # A binary loss still rejects counts.
    with pytest.raises(ValueError, match="count loss"):
        get_loss("bce")(logits, torch.tensor([[0.0, 2.0, 1.0], [0.0, 0.0, 0.0]]))


def test_positive_weights_of_counts_use_the_nonzero_pattern():
    X = np.array([[3, 0, 0], [1, 0, 7], [2, 0, 0], [0, 0, 0]])
    alpha = positive_weights(X, beta=1.5, counts=True)
    np.testing.assert_allclose(alpha, positive_weights((X > 0).astype(int), beta=1.5), rtol=0)
    np.testing.assert_allclose(alpha, [1.5 + math.log(6 / 4), 1.5 + math.log(6 / 1), 1.5 + math.log(6 / 2)])
    np.testing.assert_array_equal(alpha, positive_weights(sp.csr_matrix(X), beta=1.5, counts=True))
    with pytest.raises(ValueError, match="not 0 or 1"):
        positive_weights(X)
    with pytest.raises(ValueError, match="whole numbers"):
        positive_weights(np.array([[0.5, 1.0]]), counts=True)


# --- the count validator ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X,match",
    [
        (np.array([[0, 1.5, 2.5], [0, 0, 1]]), r"2 entries that are not whole numbers \(first at row 0, column 1: 1.5\)"),
        (sp.csr_array(np.array([[0, 0], [-3.0, 1]])), r"1 entries below 0 \(first at row 1, column 0: -3.0\)"),
        (np.array([[np.inf, 1]]), "1 NaN or infinite"),
        (np.array([[2.0**25, 1]]), "counts above 16777216"),
        (np.array([1, 2]), "2-D"),
        (np.zeros((0, 3)), "empty"),
        (np.array([["a"]]), "dtype"),
    ],
)
def test_check_count_matrix_names_how_many_and_where(X, match):
    from spae_core.validation import check_count_matrix

    with pytest.raises(ValueError, match=match):
        check_count_matrix(X, "X")


def test_check_count_matrix_accepts_integer_floats_and_sums_sparse_duplicates():
    from spae_core.validation import check_count_matrix

    out = check_count_matrix(np.array([[0, 3.0], [7, 0]]))
    assert out.dtype == np.float32 and out.toarray().tolist() == [[0, 3], [7, 0]]
    coo = sp.coo_array((np.array([1.0, 2.0]), (np.array([0, 0]), np.array([1, 1]))), shape=(1, 2))
    assert check_count_matrix(coo).toarray().tolist() == [[0, 3]]
    with pytest.raises(ValueError, match="no non-zero"):
        check_count_matrix(np.zeros((2, 2)), require_positive=True)


@settings(max_examples=40, deadline=None)
@given(
    x=st.integers(1, 500),
    theta=st.floats(0.05, 1e4),
    pi=st.floats(0.001, 0.999),
    name=st.sampled_from(COUNT_LOSSES),
)
def test_property_gradient_vanishes_at_mean_equal_to_a_nonzero_target(x, theta, pi, name):
    params = {"theta_init": theta} if name == "nb" else {"theta_init": theta, "dropout_init": pi} if name == "zinb" else {}
    loss = build(name, d=1, reduction="sum", **params)
    z = inverse_softplus([float(x)]).reshape(1, 1).requires_grad_()
    loss(z, torch.tensor([[float(x)]], dtype=torch.float64)).backward()
    assert abs(z.grad.item()) < 1e-6


def test_count_mse_is_squared_error_of_the_softplus_mean():
    logits, target = _count_batch(3)
    mu = softplus_np(logits.numpy())
    loss = get_loss("count_mse", reduction="none")
    np.testing.assert_allclose(loss(logits, target).numpy(), (mu - target.numpy()) ** 2, rtol=1e-12)
    np.testing.assert_allclose(loss.mean(logits).numpy(), mu, rtol=1e-12)
    # No distribution of zeros: the Poisson P(x > 0) at the same mean, an increasing function of it.
    np.testing.assert_allclose(loss.probabilities(logits).numpy(), 1 - np.exp(-mu), rtol=1e-9)
    assert is_count_loss("count_mse") and not is_count_loss("mse")


def test_zinb_nonzero_probability_is_never_negative_where_p0_rounds_to_one(monkeypatch):
    """``probabilities`` stays in [0, 1] when ZINB's float32 ``log P(0)`` rounds above 0.

    ``log P(0) = softplus(-l + log NB(0)) - softplus(-l)`` is <= 0 exactly. Where ``P(0)`` is 1
    to float32 precision (``|log P(0)|`` below an ulp of ``softplus(-l)``), both terms are
    evaluated at (nearly) the same float, and a kernel that rounds them to neighbouring floats
    leaves ``log P(0)`` an ulp or a few above 0. Whether that happens depends on the CPU's
    kernels (here it does with AVX-512's 16-wide ``softplus`` against its scalar tail, never with
    AVX2), so the test builds that rounded intermediate itself and feeds it to the guard: the
    real float32 ``log P(0)`` everywhere except where the float64 one is within an ulp of
    ``softplus(-l)`` of 0, which get 1, 2 or 3 such ulps above 0.
    """
    loss = get_loss("zinb", n_features=50)
    with torch.no_grad():
        # Per-feature dropout and dispersion across their range, means from ~0 up.
        loss.dropout_logit.copy_(torch.linspace(-8, 8, 50))
        loss.log_theta.copy_(torch.linspace(8, -5, 50))
        logits = torch.linspace(-30, 5, 2001).reshape(-1, 1).expand(-1, 50)
        log_p0 = loss.log_prob_zero(logits)
        log_p0_float64 = loss.log_prob_zero(logits.double()).clamp(max=0).numpy()
        real = loss.probabilities(logits)
    # The real path, whatever this CPU's rounding.
    torch.testing.assert_close(real, (-torch.expm1(log_p0)).clamp(min=0))
    assert real.min() >= 0 and real.max() <= 1

    ulp = np.spacing(F.softplus(-loss.dropout_logit.detach()).numpy())  # float32 spacing per feature
    rounds_to_one = np.abs(log_p0_float64) < ulp
    assert rounds_to_one.any() and not rounds_to_one.all()
    steps = 1 + np.arange(rounds_to_one.size).reshape(rounds_to_one.shape) % 3
    rounded = torch.where(torch.from_numpy(rounds_to_one), torch.from_numpy((steps * ulp).astype(np.float32)), log_p0)
    monkeypatch.setattr(loss, "log_prob_zero", lambda z: rounded)
    with torch.no_grad():
        raw = -torch.expm1(rounded)
        probabilities = loss.probabilities(logits)
    assert (raw < 0).any()  # the rounding this guards against, now on every CPU
    assert probabilities.min() >= 0 and probabilities.max() <= 1
    torch.testing.assert_close(probabilities, raw.clamp(min=0))
