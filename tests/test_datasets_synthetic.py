"""The synthetic generator: achieved sparsity near the target, clusters that can be told apart."""

import numpy as np
import pytest
import scipy.sparse as sp

from spae_core import datasets
from spae_core.datasets.synthetic import _capped_rates


@pytest.mark.parametrize("sparsity", [0.5, 0.85, 0.97, 0.999])
def test_achieved_sparsity_is_within_sampling_error_of_the_target(sparsity):
    n, d = 3000, 400
    X, labels = datasets.make_sparse_binary(n, d, sparsity, n_clusters=4, random_state=0)
    assert isinstance(X, sp.csr_array) and X.dtype == np.float32 and X.shape == (n, d)
    assert set(np.unique(X.data)) == {1.0}
    # The number of 1s is a sum of independent Bernoullis whose rates add up to n*d*(1-s);
    # its variance is at most n*d*s*(1-s). Five standard deviations:
    tolerance = 5 * np.sqrt(sparsity * (1 - sparsity) / (n * d))
    assert abs(datasets.sparsity(X) - sparsity) < tolerance


def test_clusters_are_balanced_and_distinguishable():
    n, d, k = 2000, 200, 4
    X, labels = datasets.make_sparse_binary(n, d, 0.9, n_clusters=k, random_state=1)
    assert np.bincount(labels).tolist() == [n // k] * k
    dense = X.toarray()
    fit, held_out = np.arange(n) < n // 2, np.arange(n) >= n // 2
    # Naive Bayes with Bernoulli features, fitted on one half, classifies the other half.
    rates = np.vstack([(dense[fit & (labels == c)].sum(0) + 1) / ((fit & (labels == c)).sum() + 2) for c in range(k)])
    log_likelihood = dense[held_out] @ np.log(rates).T + (1 - dense[held_out]) @ np.log(1 - rates).T
    accuracy = (log_likelihood.argmax(1) == labels[held_out]).mean()
    assert accuracy > 0.95


def test_same_seed_same_data_other_seed_other_data():
    a, la = datasets.make_sparse_binary(100, 50, 0.9, 3, random_state=7)
    b, lb = datasets.make_sparse_binary(100, 50, 0.9, 3, random_state=7)
    c, _ = datasets.make_sparse_binary(100, 50, 0.9, 3, random_state=8)
    assert (a != b).nnz == 0 and np.array_equal(la, lb) and (a != c).nnz > 0


def test_capped_rates_keep_their_mean_and_stay_at_most_one():
    weights = np.array([100.0, 1.0, 1.0, 1.0, 0.0])
    rates = _capped_rates(weights, 0.5)
    # Uncapped, the first rate would be 2.5 * 100/103 > 1: it is capped at 1 and the remaining
    # 1.5 is shared by weight among the others: 0.5 each, and 0 for the zero weight.
    np.testing.assert_allclose(rates, [1.0, 0.5, 0.5, 0.5, 0.0])
    assert rates.mean() == pytest.approx(0.5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"d": 2.5}, "d must be a positive integer"),
        ({"sparsity": 1.0}, r"sparsity must be a number in \(0, 1\)"),
        ({"sparsity": "0.9"}, r"sparsity must be a number in \(0, 1\)"),
        ({"n_clusters": 11}, "cannot exceed the number of rows"),
        ({"concentration": 0}, "concentration must be a positive number"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    arguments = {"n": 10, "d": 5, "sparsity": 0.9, "n_clusters": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        datasets.make_sparse_binary(**arguments)
