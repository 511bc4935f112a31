"""Tests of spae_core.metrics.

Every expected value comes from an independent computation: scikit-learn, a straightforward
per-pair loop or a re-implementation of a reference formula written here, or a small case
computed by hand. None is pasted from a previous run of the code under test.
"""

import itertools
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.cluster import DBSCAN
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.manifold import trustworthiness as sklearn_trustworthiness
from sklearn.metrics import average_precision_score, calinski_harabasz_score, pairwise_distances
from sklearn.metrics import r2_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from spae_core import metrics
from spae_core.metrics import UndefinedMetricWarning

from reference_metrics import per_pair_contingency, sdmetrics_contingency_similarity

torch = pytest.importorskip("torch")


# --------------------------------------------------------------------------------------------
# Data and independent reference implementations
# --------------------------------------------------------------------------------------------


def random_binary(rng, n, d, density):
    return (rng.random((n, d)) < density).astype(np.int8)


def noisy_reconstruction(rng, X, dtype=np.float64):
    """Probabilities that agree with X more often than not: above 0.5 with probability 5/6
    where X is 1 and 1/6 where X is 0, so scores of positives and negatives overlap."""
    return (0.4 * X + 0.6 * rng.random(X.shape)).astype(dtype)


def stable_sort_trustworthiness(X, E, k, embedding_ties="sklearn"):
    """scikit-learn's trustworthiness with ``np.argsort(kind="stable")`` in the input space.

    ``embedding_ties="stable"`` also picks the embedding neighbours by a stable sort of the
    exact pairwise distances (ties to the lower index) instead of NearestNeighbors.
    """
    n = X.shape[0]
    dist_X = pairwise_distances(X)
    np.fill_diagonal(dist_X, np.inf)
    ind_X = np.argsort(dist_X, axis=1, kind="stable")
    if embedding_ties == "stable":
        dist_E = pairwise_distances(E, metric="sqeuclidean")
        np.fill_diagonal(dist_E, np.inf)
        ind_E = np.argsort(dist_E, axis=1, kind="stable")[:, :k]
    else:
        ind_E = NearestNeighbors(n_neighbors=k).fit(E).kneighbors(return_distance=False)
    inverted_index = np.zeros((n, n), dtype=int)
    ordered = np.arange(n + 1)
    inverted_index[ordered[:-1, None], ind_X] = ordered[1:]
    ranks = inverted_index[ordered[:-1, None], ind_E] - k
    t = np.sum(ranks[ranks > 0])
    return 1.0 - t * (2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)))


BIT = st.integers(0, 1)


@pytest.fixture
def rng():
    return np.random.default_rng(20260101)


# --------------------------------------------------------------------------------------------
# 1. Average precision
# --------------------------------------------------------------------------------------------


def test_average_precision_hand_computed_with_tie():
    # Scores 0.9 (positive), then a tie at 0.8 (one negative, one positive), then 0.1:
    # AP = 1/2 * precision at 0.9 (1/1) + 1/2 * precision at 0.8 (2/3) = 5/6.
    X_true = np.array([[1], [0], [1], [0]])
    P = np.array([[0.9], [0.8], [0.8], [0.1]])
    result = metrics.average_precision(X_true, P)
    assert result.score == pytest.approx(5 / 6, abs=1e-15)
    assert float(result) == result.score
    assert (result.n_features_used, result.n_skipped) == (1, 0)


@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rounding", [None, 1, 2])
def test_average_precision_equals_sklearn_per_column(rng, sparse_input, dtype, rounding):
    X_true = random_binary(rng, 300, 40, 0.08)
    X_true[:, [0, 7]] = 0  # features without a positive
    X_true[:, 5] = 1  # a feature with only positives
    P = noisy_reconstruction(rng, X_true)
    if rounding is not None:  # coarse scores: many ties within a column
        P = np.round(P, rounding)
    P = P.astype(dtype)
    P[:, 9] = 0.5  # one column entirely tied
    expected = np.array(
        [
            average_precision_score(X_true[:, j], P[:, j]) if X_true[:, j].any() else np.nan
            for j in range(X_true.shape[1])
        ]
    )
    result = metrics.average_precision(sp.csr_matrix(X_true) if sparse_input else X_true, P)
    np.testing.assert_allclose(result.per_feature, expected, rtol=0, atol=1e-12)
    assert result.n_skipped == 2
    assert result.n_features_used == 38
    assert result.score == pytest.approx(np.nanmean(expected), abs=1e-12)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_average_precision_micro_equals_sklearn(rng, sparse_input):
    X_true = random_binary(rng, 200, 30, 0.1)
    X_true[:, 3] = 0
    P = np.round(noisy_reconstruction(rng, X_true), 2)
    result = metrics.average_precision(
        sp.csc_matrix(X_true) if sparse_input else X_true,
        sp.csr_matrix(P) if sparse_input else P,
        average="micro",
    )
    expected = average_precision_score(X_true, P, average="micro")
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert result.average == "micro"
    assert result.n_skipped == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=hnp.arrays(np.int8, st.tuples(st.integers(2, 25), st.integers(1, 6)), elements=BIT),
    levels=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_average_precision_property_equals_sklearn(data, levels, seed):
    # Scores on a coarse grid: ties everywhere, including ties across positives and negatives.
    P = np.random.default_rng(seed).integers(0, levels + 1, size=data.shape) / levels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # data may have no positive
        result = metrics.average_precision(data, P)
    for j in range(data.shape[1]):
        if data[:, j].any():
            expected = average_precision_score(data[:, j], P[:, j])
            assert result.per_feature[j] == pytest.approx(expected, abs=1e-12)
        else:
            assert np.isnan(result.per_feature[j])


def test_average_precision_without_positives_warns_and_is_nan():
    with pytest.warns(UndefinedMetricWarning, match="no entry equal to 1"):
        result = metrics.average_precision(np.zeros((4, 3)), np.full((4, 3), 0.2))
    assert np.isnan(result.score)
    assert result.n_skipped == 3


def test_average_precision_rejects_unknown_average():
    with pytest.raises(ValueError, match='"macro" or "micro"'):
        metrics.average_precision(np.eye(3), np.eye(3), average="weighted")


# --------------------------------------------------------------------------------------------
# 2. Pairwise contingency score
# --------------------------------------------------------------------------------------------


# Four features; features 2 and 3 never occur in the real data, so the pair (2, 3) has no row.
HAND_R = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
# Thresholded at 0.5 (strictly): 0.5 counts as 0.
HAND_P = np.array(
    [[0.9, 0.5, 0.1, 0.0], [0.2, 0.4, 0.0, 0.7], [0.8, 0.6, 0.3, 0.6], [1.0, 0.9, 0.8, 0.1]]
)
# By hand, over the rows where the real data has either feature of the pair:
#   (0,1): rows 0-2, real (1,0),(0,1),(1,1), reconstruction (1,0),(0,0),(1,1): 1 - 1/3 = 2/3
#   (0,2): rows 0,2, real (1,0),(1,0), reconstruction (1,0),(1,0): 1
#   (0,3): rows 0,2, real (1,0),(1,0), reconstruction (1,0),(1,1): 1 - 1/2 = 1/2
#   (1,2): rows 1,2, real (1,0),(1,0), reconstruction (0,0),(1,0): 1/2
#   (1,3): rows 1,2, real (1,0),(1,0), reconstruction (0,1),(1,1): 1 - 1 = 0
#   (2,3): no row, undefined.
HAND_PAIRS = {(0, 1): 2 / 3, (0, 2): 1.0, (0, 3): 0.5, (1, 2): 0.5, (1, 3): 0.0}


def test_contingency_hand_computed():
    result = metrics.contingency_score(HAND_R, HAND_P, return_pair_scores=True)
    for (j, k), expected in HAND_PAIRS.items():
        assert result.pair_scores[j, k] == pytest.approx(expected, abs=1e-15)
        assert result.pair_scores[k, j] == pytest.approx(expected, abs=1e-15)
    assert np.isnan(result.pair_scores[2, 3])
    assert np.all(np.isnan(np.diag(result.pair_scores)))
    assert result.score == pytest.approx(8 / 15, abs=1e-15)
    assert (result.n_pairs_used, result.n_pairs_undefined) == (5, 1)
    assert metrics.contingency_score(HAND_R, HAND_P).pair_scores is None


def test_contingency_two_by_two_perfect_and_inverted():
    R = np.array([[1, 0], [0, 1]])
    assert metrics.contingency_score(R, R.astype(float)).score == 1.0
    # Reconstruction swaps the features: tables (1,0),(0,1) vs (0,1),(1,0) are identical.
    assert metrics.contingency_score(R, R[:, ::-1].astype(float)).score == 1.0
    # Reconstruction all 1: real (1,0),(0,1); synthetic (1,1),(1,1): distance 1.
    assert metrics.contingency_score(R, np.ones((2, 2))).score == 0.0


@pytest.mark.parametrize("density", [0.02, 0.1, 0.4])
@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("per_feature_threshold", [False, True])
def test_contingency_equals_per_pair_reference(rng, density, sparse_input, per_feature_threshold):
    n, d = 150, 30
    R = random_binary(rng, n, d, density)
    R[:, [4, 5]] = 0  # a pair with no row at all
    P = noisy_reconstruction(rng, R)
    threshold = rng.uniform(0.2, 0.8, size=d) if per_feature_threshold else 0.5
    P[::7, :] = np.broadcast_to(threshold, (d,))  # values exactly at the threshold are not above it
    expected = per_pair_contingency(R, P, threshold)
    result = metrics.contingency_score(
        sp.csr_matrix(R) if sparse_input else R,
        sp.csr_matrix(P) if sparse_input else P,
        threshold=threshold,
        return_pair_scores=True,
        block_size=7,
    )
    np.testing.assert_array_equal(np.isnan(result.pair_scores), np.isnan(expected))
    np.testing.assert_allclose(result.pair_scores, expected, rtol=0, atol=1e-12)
    upper = expected[np.triu_indices(d, 1)]
    assert result.score == pytest.approx(np.nanmean(upper), abs=1e-12)
    assert result.n_pairs_used == np.count_nonzero(~np.isnan(upper))
    assert result.n_pairs_used + result.n_pairs_undefined == d * (d - 1) // 2


def test_contingency_equals_sdmetrics_formula_on_restricted_rows(rng):
    # sdmetrics itself cannot be installed next to pandas 3 (it pins pandas < 3); its formula
    # is re-implemented above from SDMetrics' ContingencySimilarity.
    R = random_binary(rng, 120, 8, 0.2)
    P = noisy_reconstruction(rng, R)
    S = (P > 0.5).astype(int)
    result = metrics.contingency_score(R, P, return_pair_scores=True)
    for j, k in itertools.combinations(range(8), 2):
        rows = (R[:, j] == 1) | (R[:, k] == 1)
        real = pd.DataFrame({"a": R[rows, j], "b": R[rows, k]})
        synthetic = pd.DataFrame({"a": S[rows, j], "b": S[rows, k]})
        expected = sdmetrics_contingency_similarity(real, synthetic)
        assert result.pair_scores[j, k] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("block_size", [1, 3, 16, 1000])
def test_contingency_block_size_does_not_change_result(rng, block_size):
    R = random_binary(rng, 80, 16, 0.15)
    P = noisy_reconstruction(rng, R)
    reference = metrics.contingency_score(R, P, return_pair_scores=True, block_size=16)
    result = metrics.contingency_score(R, P, return_pair_scores=True, block_size=block_size)
    np.testing.assert_allclose(result.pair_scores, reference.pair_scores, rtol=0, atol=1e-15)
    assert result.score == pytest.approx(reference.score, abs=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    R=hnp.arrays(np.int8, st.tuples(st.integers(1, 12), st.integers(1, 6)), elements=BIT),
    seed=st.integers(0, 2**32 - 1),
)
def test_contingency_property_matches_reference_and_is_bounded(R, seed):
    P = np.random.default_rng(seed).random(R.shape)
    expected = per_pair_contingency(R, P)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        result = metrics.contingency_score(R, P, return_pair_scores=True, block_size=4)
    np.testing.assert_allclose(result.pair_scores, expected, rtol=0, atol=1e-12)
    defined = result.pair_scores[~np.isnan(result.pair_scores)]
    assert np.all((defined >= -1e-12) & (defined <= 1 + 1e-12))
    np.testing.assert_array_equal(np.isnan(result.pair_scores), np.isnan(result.pair_scores.T))


def test_contingency_perfect_reconstruction_scores_one(rng):
    R = random_binary(rng, 60, 10, 0.2)
    result = metrics.contingency_score(R, R * 0.9 + 0.05, return_pair_scores=True)
    defined = result.pair_scores[~np.isnan(result.pair_scores)]
    np.testing.assert_allclose(defined, 1.0, rtol=0, atol=1e-15)


def test_contingency_without_any_defined_pair_warns():
    with pytest.warns(UndefinedMetricWarning, match="no pair of features"):
        result = metrics.contingency_score(np.zeros((5, 3)), np.full((5, 3), 0.7))
    assert np.isnan(result.score)
    assert (result.n_pairs_used, result.n_pairs_undefined) == (0, 3)
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(metrics.contingency_score(np.ones((5, 1)), np.ones((5, 1))).score)


@pytest.mark.slow
def test_contingency_many_features_in_bounded_memory(rng):
    # d = 17,770 (Netflix): the pair matrix alone would take 2.5 GB in float64.
    n, d = 300, 17_770
    R = sp.random(n, d, density=0.003, random_state=1, format="csr", dtype=np.float64)
    R.data[:] = 1
    P = (rng.random((n, d)) * 0.52).astype(np.float32)
    tracemalloc.start()
    result = metrics.contingency_score(R, P)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.0e9
    assert 0.0 <= result.score <= 1.0
    assert result.n_pairs_used + result.n_pairs_undefined == d * (d - 1) // 2


# --------------------------------------------------------------------------------------------
# 3. Trustworthiness
# --------------------------------------------------------------------------------------------

DEVICES = ["numpy", "cpu"]  # "cpu" runs the torch implementation on the CPU


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n_neighbors", [1, 5, 15])
@pytest.mark.parametrize("sparse_input", [False, True])
def test_trustworthiness_equals_sklearn_on_continuous_data(rng, device, n_neighbors, sparse_input):
    X = rng.normal(size=(160, 12))
    E = X[:, :3] + 0.5 * rng.normal(size=(160, 3))
    expected = sklearn_trustworthiness(X, E, n_neighbors=n_neighbors)
    result = metrics.trustworthiness(
        sp.csr_matrix(X) if sparse_input else X, E, n_neighbors, device=device, block_size=37
    )
    assert result == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("density", [0.05, 0.3])
def test_trustworthiness_equals_stable_sort_reference_on_binary_data(
    rng, device, sparse_input, density
):
    X = random_binary(rng, 200, 25, density)
    E = X @ rng.normal(size=(25, 4)) + 0.3 * rng.normal(size=(200, 4))
    expected = stable_sort_trustworthiness(X, E, 15)
    result = metrics.trustworthiness(
        sp.csr_matrix(X) if sparse_input else X, E, 15, device=device, block_size=64
    )
    assert result == pytest.approx(expected, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    X=hnp.arrays(np.int8, st.tuples(st.integers(5, 30), st.integers(1, 6)), elements=BIT),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_trustworthiness_property_equals_stable_sort_reference(X, seed, data):
    n = X.shape[0]
    k = data.draw(st.integers(1, (n - 1) // 2), label="n_neighbors")
    E = np.random.default_rng(seed).normal(size=(n, 2))
    expected = stable_sort_trustworthiness(X, E, k, embedding_ties="stable")
    result = metrics.trustworthiness(X, E, k, block_size=data.draw(st.integers(1, n)))
    assert result == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= result <= 1.0


def test_trustworthiness_stable_rule_differs_from_best_and_worst_case_ties(rng):
    # The tie rule matters on binary data; check it lies strictly between the extremes.
    X = random_binary(rng, 150, 20, 0.1)
    E = X @ rng.normal(size=(20, 3)) + 0.3 * rng.normal(size=(150, 3))
    ours = metrics.trustworthiness(X, E)
    assert ours == pytest.approx(stable_sort_trustworthiness(X, E, 15), abs=1e-12)
    distances = pairwise_distances(X)
    np.fill_diagonal(distances, np.inf)
    neighbours = NearestNeighbors(n_neighbors=15).fit(E).kneighbors(return_distance=False)
    best = worst = 0
    for i in range(150):
        d_j = distances[i, neighbours[i]][:, None]
        best += np.maximum(1 + np.sum(distances[i] < d_j, axis=1) - 15, 0).sum()
        worst += np.maximum(np.sum(distances[i] <= d_j, axis=1) - 15, 0).sum()
    scale = 2.0 / (150 * 15 * (2.0 * 150 - 3.0 * 15 - 1.0))
    assert 1 - worst * scale < ours < 1 - best * scale


@pytest.mark.parametrize("device", DEVICES)
def test_trustworthiness_embedding_ties_go_to_lower_index(rng, device):
    X = rng.normal(size=(120, 6))
    E = rng.integers(0, 3, size=(120, 2)).astype(float)  # heavily tied embedding distances
    expected = stable_sort_trustworthiness(X, E, 10, embedding_ties="stable")
    assert metrics.trustworthiness(X, E, 10, device=device) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_trustworthiness_block_size_does_not_change_result(rng, device):
    X = random_binary(rng, 130, 15, 0.2)
    E = rng.normal(size=(130, 3))
    values = {
        metrics.trustworthiness(X, E, 7, block_size=b, device=device) for b in (1, 13, 64, 130)
    }
    assert len(values) == 1


def test_trustworthiness_of_identity_embedding_is_one(rng):
    X = rng.normal(size=(90, 4))
    assert metrics.trustworthiness(X, X, 10) == pytest.approx(1.0, abs=1e-15)


def test_trustworthiness_auto_device_runs_without_gpu(rng):
    X = rng.normal(size=(40, 3))
    assert metrics.trustworthiness(X, X[:, :2], 5) == pytest.approx(
        sklearn_trustworthiness(X, X[:, :2], n_neighbors=5), abs=1e-9
    )


def test_trustworthiness_errors(rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match=r"n_neighbors=10 must be less than n_samples / 2 = 10"):
        metrics.trustworthiness(X, X, 10)
    with pytest.raises(ValueError, match="n_neighbors must be at least 1"):
        metrics.trustworthiness(X, X, 0)
    with pytest.raises(ValueError, match="n_neighbors must be an integer"):
        metrics.trustworthiness(X, X, True)
    with pytest.raises(ValueError, match="one row per sample"):
        metrics.trustworthiness(X, X[:-1], 3)
    with pytest.raises(ValueError, match="E is a sparse matrix but must be dense"):
        metrics.trustworthiness(X, sp.csr_matrix(X), 3)
    with pytest.raises(ValueError, match="device must be"):
        metrics.trustworthiness(X, X, 3, device="tpu-please")
    with pytest.raises(ValueError, match="block_size must be at least 1"):
        metrics.trustworthiness(X, X, 3, block_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            metrics.trustworthiness(X, X, 3, device="cuda")


# --------------------------------------------------------------------------------------------
# 4-5. Calinski-Harabasz scores
# --------------------------------------------------------------------------------------------


def three_blobs(rng, n_per_blob=60, n_noise=6):
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    blobs = np.vstack([c + 0.5 * rng.normal(size=(n_per_blob, 2)) for c in centres])
    noise = rng.uniform(20, 40, size=(n_noise, 2)) * rng.choice([-1, 1], size=(n_noise, 2))
    return np.vstack([blobs, noise])


def test_calinski_harabasz_dbscan_with_given_eps_excludes_noise(rng):
    E = three_blobs(rng)
    labels = DBSCAN(eps=1.5, min_samples=5).fit_predict(E)
    kept = labels != -1
    result = metrics.calinski_harabasz_dbscan(E, eps=1.5, min_samples=5)
    assert result.n_clusters == 3
    assert result.eps == 1.5
    assert result.noise_fraction == pytest.approx(np.mean(~kept))
    assert result.score == pytest.approx(calinski_harabasz_score(E[kept], labels[kept]), rel=1e-12)
    np.testing.assert_array_equal(result.labels, labels)


def test_calinski_harabasz_dbscan_eps_is_the_k_distance_knee(rng):
    E = three_blobs(rng)
    result = metrics.calinski_harabasz_dbscan(E, min_samples=5)
    # The rule, re-derived: 5-distance (self included), sorted; farthest point below the chord.
    k_distance = np.sort(
        NearestNeighbors(n_neighbors=5).fit(E).kneighbors(E)[0][:, -1]
    )
    x = np.arange(k_distance.size) / (k_distance.size - 1)
    y = (k_distance - k_distance[0]) / (k_distance[-1] - k_distance[0])
    assert result.eps == pytest.approx(k_distance[np.argmax(x - y)], rel=1e-12)
    assert result.n_clusters == 3
    assert 0 < result.noise_fraction < 0.1


def test_calinski_harabasz_dbscan_single_cluster_warns(rng):
    E = rng.normal(size=(100, 2))
    with pytest.warns(UndefinedMetricWarning, match="got 1 group"):
        result = metrics.calinski_harabasz_dbscan(E, eps=10.0)
    assert np.isnan(result.score) and result.n_clusters == 1


def test_calinski_harabasz_dbscan_collapsed_embedding_warns():
    with pytest.warns(UndefinedMetricWarning, match="knee is 0"):
        result = metrics.calinski_harabasz_dbscan(np.zeros((30, 4)))
    assert np.isnan(result.score)


def test_calinski_harabasz_dbscan_errors(rng):
    E = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"eps must lie in \(0.0, inf\]"):
        metrics.calinski_harabasz_dbscan(E, eps=0.0)
    with pytest.raises(ValueError, match="min_samples must be at least 2"):
        metrics.calinski_harabasz_dbscan(E, min_samples=1)
    with pytest.raises(ValueError, match="exceeds the number of samples"):
        metrics.calinski_harabasz_dbscan(E, min_samples=11)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_calinski_harabasz_sparsity_bins_like_histogram(rng, sparse_input):
    X = (rng.random((200, 40)) < rng.uniform(0.0, 0.5, size=(200, 1))).astype(float)
    E = X @ rng.normal(size=(40, 3))
    sparsity = np.mean(X == 0, axis=1)
    counts, edges = np.histogram(sparsity, bins=10)
    labels = np.clip(np.digitize(sparsity, edges[1:-1], right=False), 0, 9)
    X_input = sp.csr_matrix(X) if sparse_input else X
    result = metrics.calinski_harabasz_sparsity(E, X_input)
    np.testing.assert_array_equal(result.group_sizes, counts)
    np.testing.assert_allclose(result.bin_edges, edges)
    np.testing.assert_allclose(result.sparsity, sparsity)
    assert result.n_groups == np.count_nonzero(counts)
    assert result.score == pytest.approx(calinski_harabasz_score(E, labels), rel=1e-12)


def test_calinski_harabasz_sparsity_ignores_explicit_zeros(rng):
    X = sp.csr_matrix(
        np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    )
    X.data[X.data == 2.0] = 0.0  # an explicitly stored zero
    result = metrics.calinski_harabasz_sparsity(rng.normal(size=(4, 2)), X, n_bins=2)
    np.testing.assert_allclose(result.sparsity, [2 / 3, 2 / 3, 0.0, 1.0])


def test_calinski_harabasz_sparsity_single_group_warns(rng):
    X = np.tile([1, 0, 0, 1], (20, 1))
    with pytest.warns(UndefinedMetricWarning, match="got 1 group"):
        result = metrics.calinski_harabasz_sparsity(rng.normal(size=(20, 2)), X)
    assert np.isnan(result.score) and result.n_groups == 1


# --------------------------------------------------------------------------------------------
# 6. Downstream utility
# --------------------------------------------------------------------------------------------


def test_downstream_regression_equals_ols_and_ridge(rng):
    E = rng.normal(size=(120, 5))
    y = E @ rng.normal(size=5) + 0.1 * rng.normal(size=120)
    expected = r2_score(y[80:], LinearRegression().fit(E[:80], y[:80]).predict(E[80:]))
    assert metrics.downstream_regression(E[:80], y[:80], E[80:], y[80:]) == pytest.approx(
        expected, abs=1e-12
    )
    scaler = StandardScaler().fit(E[:80])
    ridge = Ridge(alpha=3.0).fit(scaler.transform(E[:80]), y[:80])
    expected_ridge = r2_score(y[80:], ridge.predict(scaler.transform(E[80:])))
    assert metrics.downstream_regression(
        E[:80], y[:80], E[80:], y[80:], alpha=3.0
    ) == pytest.approx(expected_ridge, abs=1e-12)


def test_downstream_regression_accepts_sparse_raw_inputs(rng):
    X = sp.random(150, 2000, density=0.01, random_state=3, format="csr")
    y = np.asarray(X[:, :20].sum(axis=1)).ravel() + 0.1 * rng.normal(size=150)
    r2 = metrics.downstream_regression(X[:100], y[:100], X[100:], y[100:], alpha=1.0)
    assert np.isfinite(r2)


def test_downstream_regression_constant_target_warns(rng):
    E = rng.normal(size=(10, 2))
    with pytest.warns(UndefinedMetricWarning, match="y_test is constant"):
        assert np.isnan(metrics.downstream_regression(E, np.arange(10.0), E, np.ones(10)))


def test_downstream_classification_per_label_ap(rng):
    E = rng.normal(size=(200, 4)) * [1.0, 100.0, 0.01, 5.0]
    logits = E / E.std(axis=0) @ rng.normal(size=(4, 2))
    Y = pd.DataFrame((logits + rng.normal(size=(200, 2)) > 0).astype(int), columns=["APS", "PMR"])
    result = metrics.downstream_classification(E[:150], Y[:150], E[150:], Y[150:])
    assert list(result) == ["APS", "PMR"]
    scaler = StandardScaler().fit(E[:150])
    for label in Y.columns:
        model = LogisticRegression(C=1.0, max_iter=1000)
        model.fit(scaler.transform(E[:150]), Y[label][:150])
        expected = average_precision_score(
            Y[label][150:], model.predict_proba(scaler.transform(E[150:]))[:, 1]
        )
        assert result[label] == pytest.approx(expected, abs=1e-12)


def test_downstream_classification_accepts_sparse_raw_inputs_and_arrays(rng):
    X = sp.random(160, 3000, density=0.01, random_state=4, format="csr")
    Y = np.column_stack([np.asarray(X[:, :30].sum(axis=1)).ravel() > 0, rng.random(160) < 0.3])
    result = metrics.downstream_classification(X[:120], Y[:120], X[120:], Y[120:])
    assert list(result) == [0, 1]
    assert all(0.0 <= ap <= 1.0 for ap in result.values())


def _rare_noise_problem(seed: int = 0):
    """5 common 0/1 columns that carry the label and 300 rare (1%) 0/1 columns of noise.

    Standardising multiplies each rare column by about 10 (1 / sqrt(0.01)), so the L2 penalty
    leaves the noise nearly unpenalised and the standardised model overfits it.
    """
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.random((600, 5)) < 0.3, rng.random((600, 300)) < 0.01]).astype(np.float64)
    y = (rng.random(600) < 1.0 / (1.0 + np.exp(3.0 - 2.0 * X[:, :5].sum(axis=1)))).astype(int)
    return sp.csr_array(X[:300]), y[:300], sp.csr_array(X[300:]), y[300:]


def test_downstream_classification_can_fit_raw_inputs_as_they_are():
    X_train, y_train, X_test, y_test = _rare_noise_problem()
    as_is = metrics.downstream_classification(X_train, y_train, X_test, y_test, standardise=False)[0]
    standardised = metrics.downstream_classification(X_train, y_train, X_test, y_test)[0]
    plain = LogisticRegression(C=1.0, max_iter=1000).fit(X_train, y_train)
    assert as_is == pytest.approx(average_precision_score(y_test, plain.predict_proba(X_test)[:, 1]), abs=1e-12)
    scaler = StandardScaler(with_mean=False).fit(X_train)
    scaled = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(X_train), y_train)
    expected = average_precision_score(y_test, scaled.predict_proba(scaler.transform(X_test))[:, 1])
    assert standardised == pytest.approx(expected, abs=1e-12)
    assert as_is > standardised + 0.05  # the handicap the default would put on a raw-input baseline


def test_downstream_standardise_choice_is_validated_and_ridge_only_for_regression(rng):
    X_train, y_train, X_test, y_test = _rare_noise_problem()
    for bad in ("no", 0, None):
        with pytest.raises(ValueError, match="standardise must be True or False"):
            metrics.downstream_classification(X_train, y_train, X_test, y_test, standardise=bad)
        with pytest.raises(ValueError, match="standardise must be True or False"):
            metrics.downstream_regression(X_train, y_train * 1.0, X_test, y_test * 1.0, standardise=bad)
    E = rng.normal(size=(100, 3)) * [1.0, 50.0, 0.1]
    y = E @ [1.0, 0.02, 5.0] + rng.normal(size=100)
    ols = [metrics.downstream_regression(E[:80], y[:80], E[80:], y[80:], standardise=s) for s in (True, False)]
    assert ols[0] == pytest.approx(ols[1], abs=1e-10)  # least squares does not depend on the scale
    ridge = Ridge(alpha=3.0).fit(E[:80], y[:80])
    assert metrics.downstream_regression(E[:80], y[:80], E[80:], y[80:], alpha=3.0, standardise=False) == \
        pytest.approx(r2_score(y[80:], ridge.predict(E[80:])), abs=1e-12)


def test_downstream_classification_undefined_labels_warn(rng):
    E = rng.normal(size=(20, 2))
    Y = np.zeros((20, 2), dtype=int)
    Y[:5, 1] = 1  # label 1: both classes in training, no positive in the test rows
    with pytest.warns(UndefinedMetricWarning) as record:
        result = metrics.downstream_classification(E[:10], Y[:10], E[10:], Y[10:])
    assert np.isnan(result[0]) and np.isnan(result[1])
    messages = " ".join(str(w.message) for w in record)
    assert "single class in Y_train" in messages and "no positive in Y_test" in messages


def test_downstream_classification_label_errors(rng):
    E = rng.normal(size=(10, 2))
    Y = pd.DataFrame({"a": [0, 1] * 5})
    with pytest.raises(ValueError, match="same labels"):
        metrics.downstream_classification(E, Y, E, Y.rename(columns={"a": "b"}))
    Y_bad = Y.copy()
    Y_bad.iloc[3, 0] = 2
    with pytest.raises(ValueError, match=r"Y_train has 1 entries .* \(first at row 3, column 0"):
        metrics.downstream_classification(E, Y_bad, E, Y)


# --------------------------------------------------------------------------------------------
# 7. Reconstruction distribution
# --------------------------------------------------------------------------------------------


def test_reconstruction_distribution_equals_histogram(rng):
    P = rng.beta(0.5, 2.0, size=(50, 30))
    P[0, 0], P[0, 1] = 0.5, 1.0  # on the threshold (not above it) and on the last edge
    result = metrics.reconstruction_distribution(P, bins=20)
    density, edges = np.histogram(P, bins=20, range=(0.0, 1.0), density=True)
    np.testing.assert_allclose(result.density, density, rtol=1e-12)
    np.testing.assert_allclose(result.bin_edges, edges)
    assert result.mass_above_threshold == np.count_nonzero(P > 0.5) / P.size
    sparse = metrics.reconstruction_distribution(sp.csr_matrix(P * (P > 0.3)), bins=20)
    dense = metrics.reconstruction_distribution(P * (P > 0.3), bins=20)
    np.testing.assert_allclose(sparse.density, dense.density, rtol=1e-12)
    assert sparse.n_entries == dense.n_entries == P.size


def test_reconstruction_distribution_hand_computed():
    result = metrics.reconstruction_distribution(np.array([[0.1, 0.6], [0.9, 0.5]]), bins=2)
    # Bins [0, 0.5) and [0.5, 1]: one value, then three (0.5 included); density = count / (4 * 0.5).
    np.testing.assert_allclose(result.density, [0.5, 1.5])
    assert result.mass_above_threshold == 0.5  # 0.6 and 0.9; 0.5 is not above the threshold


# --------------------------------------------------------------------------------------------
# Input validation shared by all metrics
# --------------------------------------------------------------------------------------------


def test_non_binary_real_data_is_rejected_with_location():
    X = np.zeros((6, 8))
    X[3, 5], X[4, 1] = 0.5, 2.0
    message = (
        r"X_true has 2 entries that are not 0 or 1 \(first at row 3, column 5: 0.5\); binarise"
    )
    for call in (metrics.average_precision, metrics.contingency_score):
        with pytest.raises(ValueError, match=message):
            call(X, np.zeros((6, 8)))
        with pytest.raises(ValueError, match=message):
            call(sp.csr_matrix(X), np.zeros((6, 8)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_entries_are_rejected(bad):
    P = np.full((4, 3), 0.5)
    P[2, 1] = bad
    message = r"P has 1 NaN or infinite entries \(first at row 2, column 1"
    with pytest.raises(ValueError, match=message):
        metrics.contingency_score(np.eye(4, 3), P)
    with pytest.raises(ValueError, match="X has 1 NaN or infinite"):
        metrics.trustworthiness(P, np.ones((4, 1)), 1)
    with pytest.raises(ValueError, match="E has 1 NaN or infinite"):
        metrics.calinski_harabasz_dbscan(P)


def test_probabilities_outside_unit_interval_are_rejected():
    P = np.full((3, 3), 0.5)
    P[1, 2] = 1.5
    message = r"P has 1 entries outside \[0, 1\] \(first at row 1, column 2: 1.5\)"
    for call in (metrics.average_precision, metrics.contingency_score):
        with pytest.raises(ValueError, match=message):
            call(np.eye(3), P)
    with pytest.raises(ValueError, match="sigmoid"):
        metrics.reconstruction_distribution(-P)


def test_shape_and_type_errors():
    with pytest.raises(ValueError, match=r"same shape, got X_true \(3, 3\) and P \(3, 2\)"):
        metrics.average_precision(np.eye(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="must be 2-D"):
        metrics.contingency_score(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="is empty"):
        metrics.contingency_score(np.ones((0, 3)), np.ones((0, 3)))
    with pytest.raises(ValueError, match="dtype"):
        metrics.average_precision(np.array([["a"]]), np.ones((1, 1)))
    with pytest.raises(ValueError, match="same columns"):
        metrics.downstream_regression(np.ones((3, 2)), np.ones(3), np.ones((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match=r"y_train must be 1-D.*ravel"):
        metrics.downstream_regression(np.ones((3, 2)), np.ones((3, 1)), np.ones((3, 2)), np.ones(3))


def test_threshold_errors():
    R, P = np.eye(3), np.full((3, 3), 0.5)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        metrics.contingency_score(R, P, threshold=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"threshold must lie in \[0.0, 1.0\]"):
        metrics.contingency_score(R, P, threshold=1.5)
    with pytest.raises(ValueError, match="first at feature 1"):
        metrics.contingency_score(R, P, threshold=[0.5, np.nan, 0.5])
    with pytest.raises(ValueError, match="block_size must be an integer"):
        metrics.contingency_score(R, P, block_size=2.5)
