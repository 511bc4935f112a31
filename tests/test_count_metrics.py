"""Count and code-sparsity metrics against loops over entries and the published formulas."""

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from spae_core import metrics
from spae_core.metrics import UndefinedMetricWarning


def _loop_count_reconstruction(X, M):
    exact = kept = n_nz = n_zero = 0
    abs_err = dev = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            x, m = float(X[i, j]), float(M[i, j])
            rounded = math.floor(m + 0.5)
            if x > 0:
                n_nz += 1
                exact += rounded == x
                abs_err += abs(m - x)
                dev += 2 * (x * math.log(x / m) - (x - m))
            else:
                n_zero += 1
                kept += rounded == 0
    return exact / n_nz, kept / n_zero, abs_err / n_nz, dev / n_nz, n_nz, n_zero


def _random_counts(seed, n=30, d=12):
    rng = np.random.default_rng(seed)
    X = rng.poisson(2.0, size=(n, d)) * (rng.random((n, d)) < 0.3)
    X[0, 0], X[0, 1] = 1, 0  # both parts present
    M = np.abs(X + rng.normal(0, 0.6, size=X.shape)) + 1e-3
    return X, M


@pytest.mark.parametrize("sparse_x,sparse_m", [(False, False), (True, False), (True, True), (False, True)])
def test_count_reconstruction_matches_loop(sparse_x, sparse_m):
    X, M = _random_counts(0)
    M[M < 0.3] = 0.0  # some exact zeros, stored implicitly when M is sparse
    M[X > 0] = np.maximum(M[X > 0], 0.1)
    result = metrics.count_reconstruction(sp.csr_array(X) if sparse_x else X, sp.csr_array(M) if sparse_m else M)
    exact, kept, mae, dev, n_nz, n_zero = _loop_count_reconstruction(X, M)
    assert result.nonzero_exact == pytest.approx(exact) and float(result) == result.nonzero_exact
    assert result.zero_kept == pytest.approx(kept)
    assert result.mae_nonzero == pytest.approx(mae)
    assert result.deviance_nonzero == pytest.approx(dev)
    assert (result.n_nonzero, result.n_zero) == (n_nz, n_zero)


def test_count_reconstruction_hand_example_of_the_forum_post():
    # 001: X = [3, 1, 1, 1, 2] at five positions, reconstruction [3, 0, 0, 1, 0]: 2 of 5 exact.
    X = np.zeros((1, 8))
    X[0, :5] = [3, 1, 1, 1, 2]
    M = np.zeros((1, 8))
    M[0, :5] = [3, 0.2, 0.4, 1, 0.49]
    result = metrics.count_reconstruction(X, M)
    assert result.nonzero_exact == pytest.approx(2 / 5)
    assert result.zero_kept == 1.0
    pairs = [(3, 3), (1, 0.2), (1, 0.4), (1, 1), (2, 0.49)]
    assert result.mae_nonzero == pytest.approx((0 + 0.8 + 0.6 + 0 + 1.51) / 5)
    assert result.deviance_nonzero == pytest.approx(sum(2 * (x * math.log(x / m) - (x - m)) for x, m in pairs) / 5)


def test_rounding_is_half_up_and_zero_means_give_infinite_deviance():
    X = np.array([[3.0, 2.0, 0.0, 0.0]])
    result = metrics.count_reconstruction(X, np.array([[2.5, 2.5, 0.5, 0.49]]))
    # 2.5 rounds to 3: first exact, second not; 0.5 rounds to 1, 0.49 to 0.
    assert result.nonzero_exact == 0.5 and result.zero_kept == 0.5
    with np.errstate(divide="ignore"):
        assert math.isinf(metrics.count_reconstruction(X, np.array([[0.0, 2.0, 0.0, 0.0]])).deviance_nonzero)


def test_count_reconstruction_undefined_parts_warn():
    with pytest.warns(UndefinedMetricWarning, match="no non-zero"):
        r = metrics.count_reconstruction(np.zeros((2, 2)), np.zeros((2, 2)))
    assert math.isnan(r.nonzero_exact) and r.zero_kept == 1.0
    with pytest.warns(UndefinedMetricWarning, match="no zero"):
        r = metrics.count_reconstruction(np.ones((2, 2)), np.ones((2, 2)))
    assert math.isnan(r.zero_kept) and r.nonzero_exact == 1.0


@pytest.mark.parametrize(
    "X,M,match",
    [
        (np.array([[1.5, 0]]), np.zeros((1, 2)), "1 entries that are not non-negative integers"),
        (np.array([[-1, 0]]), np.zeros((1, 2)), "not non-negative integers"),
        (np.array([[1, 0]]), np.array([[-0.1, 0]]), "1 negative entries"),
        (np.array([[1, 0]]), np.zeros((1, 3)), "same shape"),
        (np.array([[1, 0]]), np.array([[np.nan, 0]]), "NaN"),
        (np.array([1, 0]), np.zeros(2), "2-D"),
    ],
)
def test_count_reconstruction_bad_input(X, M, match):
    with pytest.raises(ValueError, match=match):
        metrics.count_reconstruction(X, M)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 8), d=st.integers(2, 8))
def test_property_count_reconstruction_perfect_and_bounded(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.poisson(1.0, size=(n, d)) * (rng.random((n, d)) < 0.5)
    X[0, 0], X[-1, -1] = 2, 0
    perfect = metrics.count_reconstruction(X, X.astype(float))
    assert (perfect.nonzero_exact, perfect.zero_kept, perfect.mae_nonzero, perfect.deviance_nonzero) == (1.0, 1.0, 0.0, 0.0)
    noisy = metrics.count_reconstruction(X, np.abs(X + rng.normal(0, 1, size=X.shape)) + 1e-6)
    assert 0 <= noisy.nonzero_exact <= 1 and 0 <= noisy.zero_kept <= 1 and noisy.deviance_nonzero >= 0


# --- code sparsity -----------------------------------------------------------------------------------
def _hoyer(h):
    k = len(h)
    l1 = sum(abs(v) for v in h)
    l2 = math.sqrt(sum(v * v for v in h))
    return (math.sqrt(k) - l1 / l2) / (math.sqrt(k) - 1)


def _treves_rolls(h):
    k = len(h)
    a = (sum(abs(v) for v in h) / k) ** 2 / (sum(v * v for v in h) / k)
    return (1 - a) / (1 - 1 / k)


@pytest.mark.parametrize("measure,reference", [("hoyer", _hoyer), ("treves_rolls", _treves_rolls)])
def test_code_sparsity_matches_formulas(measure, reference):
    rng = np.random.default_rng(1)
    E = np.maximum(rng.normal(-0.3, 1, size=(20, 7)), 0)
    E[:, 6] += 0.1  # no silent code but the one made below
    E[3] = 0.0
    result = metrics.code_sparsity(E, measure=measure)
    expected = [reference(list(row)) for i, row in enumerate(E) if i != 3]
    assert result.population_sparsity == pytest.approx(np.mean(expected))
    assert np.isnan(result.per_sample[3]) and result.n_silent == 1
    assert result.fraction_near_zero == pytest.approx(np.mean(E <= 1e-6))
    assert result.dead_units == pytest.approx(np.mean([(E[:, u] <= 1e-6).all() for u in range(7)]))


def test_code_sparsity_extremes_and_tolerance():
    one_hot = np.eye(5)
    dense = np.ones((5, 5))
    for measure in ("hoyer", "treves_rolls"):
        assert metrics.code_sparsity(one_hot, measure=measure).score == pytest.approx(1.0)
        assert metrics.code_sparsity(dense, measure=measure).score == pytest.approx(0.0, abs=1e-12)
    E = np.array([[1e-3, 1.0], [0.0, 2.0]])
    assert metrics.code_sparsity(E).fraction_near_zero == 0.25
    assert metrics.code_sparsity(E, tol=1e-2).fraction_near_zero == 0.5
    assert metrics.code_sparsity(E, tol=1e-2).dead_units == 0.5


def test_code_sparsity_all_silent_and_bad_input():
    with pytest.warns(UndefinedMetricWarning, match="all zeros"):
        assert math.isnan(metrics.code_sparsity(np.zeros((3, 4))).score)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.code_sparsity(np.ones((3, 1)))
    with pytest.raises(ValueError, match="measure"):
        metrics.code_sparsity(np.ones((3, 2)), measure="gini")
    with pytest.raises(ValueError, match="tol"):
        metrics.code_sparsity(np.ones((3, 2)), tol=-1.0)
    with pytest.raises(ValueError, match="dense"):
        metrics.code_sparsity(sp.csr_array(np.ones((3, 2))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.code_sparsity(np.ones((3, 2)))
