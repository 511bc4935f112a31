"""evaluate(): one record with every metric of the paper, matching the metric functions called directly."""

import warnings

import numpy as np
import pandas as pd
import pytest

from spae_core import SparseAutoencoder, metrics
from spae_core.datasets.dataset import BinaryDataset
from spae_core.evaluation import dbscan_eps_columns, evaluate, training_rates

from conftest import clustered_binary


def _dataset(targets, task, n=400):
    X, labels = clustered_binary(n=n, d=50, seed=3)
    frame = targets(labels) if targets else None
    return BinaryDataset(name="toy", X=X, feature_names=[f"f{i}" for i in range(50)], row_ids=np.arange(n),
                         targets=frame, task=task)


@pytest.fixture(scope="module")
def fitted():
    ds = _dataset(lambda l: pd.DataFrame({"a": (l == 0).astype(int), "b": (l == 1).astype(int)}), "classification: a, b")
    split = ds.split(seed=0, stratify="labels")
    ae = SparseAutoencoder(max_epochs=5, batch_size=64, latent_dim=8).fit(split.train.X, X_val=split.val.X)
    return ds, split, ae


def test_record_matches_the_metric_functions(fitted):
    ds, split, ae = fitted
    record = evaluate(ae, split, task=ds.task)
    P, E = ae.predict_proba(split.test.X), ae.transform(split.test.X)
    assert record["ap_macro"] == metrics.average_precision(split.test.X, P).score
    assert record["ap_micro"] == metrics.average_precision(split.test.X, P, average="micro").score
    assert record["contingency"] == metrics.contingency_score(split.test.X, P).score
    assert record["trustworthiness"] == pytest.approx(metrics.trustworthiness(split.test.X, E, n_neighbors=15))
    assert record["ch_sparsity"] == pytest.approx(metrics.calinski_harabasz_sparsity(E, split.test.X).score)
    assert record["mass_above_threshold"] == metrics.reconstruction_distribution(P).mass_above_threshold
    expected = metrics.downstream_classification(ae.transform(split.train.X), split.train.targets, E, split.test.targets)
    assert record["ap_label_a"] == pytest.approx(expected["a"]) and record["ap_label_b"] == pytest.approx(expected["b"])
    assert record["ap_label_mean"] == pytest.approx(np.mean(list(expected.values())))
    assert record["n_test"] == split.test.X.shape[0]
    timings = [k for k in record if k.startswith("seconds_")]
    assert {"seconds_average_precision", "seconds_trustworthiness", "seconds_downstream"} <= set(timings)
    assert all(record[k] >= 0 for k in timings)
    pd.DataFrame([record])  # a tidy row


def test_record_agrees_with_scikit_learn_on_a_fixed_tiny_model(fitted):
    # Independent computations of two headline numbers: sklearn's per-column AP, and sklearn's
    # trustworthiness (which ranks tied binary distances in another order, hence the tolerance).
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness
    from sklearn.metrics import average_precision_score

    ds, split, ae = fitted
    record = evaluate(ae, split, task=ds.task)
    X = split.test.X.toarray()
    P = ae.predict_proba(split.test.X)
    per_column = [average_precision_score(X[:, j], P[:, j]) for j in range(X.shape[1]) if X[:, j].any()]
    assert record["ap_macro"] == pytest.approx(np.mean(per_column), abs=1e-12)
    reference = sklearn_trustworthiness(X, ae.transform(split.test.X), n_neighbors=15)
    assert record["trustworthiness"] == pytest.approx(reference, abs=2e-3)


def test_task_is_inferred_from_targets(fitted):
    ds, split, ae = fitted
    assert evaluate(ae, split).keys() == evaluate(ae, split, task=ds.task).keys()


def test_regression_target_gives_r2():
    ds = _dataset(lambda l: pd.DataFrame({"rating": l * 1.5 + 0.25}), "regression: rating")
    split = ds.split(seed=0)
    ae = SparseAutoencoder(max_epochs=3, batch_size=64, latent_dim=8).fit(split.train.X, X_val=split.val.X)
    record = evaluate(ae, split)
    expected = metrics.downstream_regression(ae.transform(split.train.X), split.train.targets["rating"].to_numpy(),
                                             ae.transform(split.test.X), split.test.targets["rating"].to_numpy())
    assert record["r2_rating"] == pytest.approx(expected)


def test_no_targets_no_downstream_and_small_test_split_is_nan_not_an_error():
    ds = _dataset(None, "none", n=60)
    split = ds.split(seed=0)
    ae = SparseAutoencoder(max_epochs=2, batch_size=16, latent_dim=4).fit(split.train.X, X_val=split.val.X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = evaluate(ae, split)
    assert np.isnan(record["trustworthiness"])  # 9 test rows < 2 * 15 neighbours
    assert any("n_neighbors" in str(w.message) for w in caught)
    assert not any(k.startswith(("r2_", "ap_label")) for k in record)


def test_a_bare_trained_model_is_evaluated_like_its_estimator(fitted):
    ds, split, ae = fitted
    from_estimator = evaluate(ae, split, task=ds.task)
    from_model = evaluate(ae.model_, split, task=ds.task)
    for key in ("ap_macro", "contingency", "trustworthiness", "ap_label_mean"):
        assert from_model[key] == pytest.approx(from_estimator[key], abs=1e-12)


def test_sensitivity_fields_rescore_with_other_eps_and_per_feature_thresholds(fitted):
    ds, split, ae = fitted
    record = evaluate(ae, split, task=ds.task)
    P, E = ae.predict_proba(split.test.X), ae.transform(split.test.X)
    train = split.train.X.toarray()
    rates = (train.sum(axis=0) + 1) / (train.shape[0] + 2)
    # Independent of the vectorised path: binarise feature by feature, then score at t = 0.5 on
    # a reconstruction shifted so that P_j > rate_j  <=>  shifted_j > 0.5.
    shifted = np.where(P > rates[None, :], 1.0, 0.0)
    assert record["contingency_rate_threshold"] == pytest.approx(metrics.contingency_score(split.test.X, shifted).score, abs=1e-12)
    rule = metrics.calinski_harabasz_dbscan(E)
    assert record["dbscan_eps"] == rule.eps
    from spae_core.evaluation import DBSCAN_EPS_FACTORS
    for factor in DBSCAN_EPS_FACTORS:
        scaled = metrics.calinski_harabasz_dbscan(E, eps=factor * rule.eps)
        assert record[f"dbscan_clusters_eps_x{factor:g}"] == scaled.n_clusters
        np.testing.assert_equal(record[f"ch_dbscan_eps_x{factor:g}"], scaled.score)


def test_without_embedding_only_the_reconstruction_fields_equal_to_the_full_record(fitted):
    """A model without ``transform`` (the EASE baseline) gets the same reconstruction fields, nothing else."""
    ds, split, ae = fitted

    class ReconstructionOnly:
        predict_proba = ae.predict_proba

    full = evaluate(ae, split, task=ds.task)
    only = evaluate(ReconstructionOnly(), split, task=ds.task, embedding=False)
    fields = {k for k in only if not k.startswith("seconds_")}
    assert fields == {"n_test", "ap_macro", "ap_features_skipped", "ap_micro", "contingency", "contingency_pairs",
                      "contingency_rate_threshold", "mass_above_threshold"}
    assert {k: only[k] for k in fields} == {k: full[k] for k in fields}
    counts = split.train.X.toarray().astype(np.float64).sum(axis=0)
    np.testing.assert_array_equal(training_rates(split.train.X), (counts + 1) / (split.train.X.shape[0] + 2))


class _GridEmbedding:
    """Embeds the i-th row at point (i mod 10, i div 10) of a unit grid, whatever the row holds.

    DBSCAN's rule puts eps at the grid's 5-distance, 1: at eps x1, x1.5 and x2 the grid is one
    cluster, at x0.5 and x0.75 every point is noise, so the CH score is undefined at all five eps.
    """

    def transform(self, X):
        i = np.arange(X.shape[0])
        return np.column_stack([i % 10, i // 10]).astype(np.float64)

    def predict_proba(self, X):
        return np.full(X.shape, 0.25)


def test_dbscan_undefined_at_every_eps_warns_once_per_evaluate():
    split = _dataset(None, "none").split(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = evaluate(_GridEmbedding(), split)
    assert [record[c] for c in dbscan_eps_columns("dbscan_clusters").values()] == [0, 0, 1, 1, 1]
    assert all(np.isnan(record[c]) for c in dbscan_eps_columns("ch_dbscan").values())
    calinski = [str(w.message) for w in caught
                if issubclass(w.category, metrics.UndefinedMetricWarning) and "Calinski-Harabasz" in str(w.message)]
    assert len(calinski) == 1  # five DBSCAN runs, one warning that names them all
    n_test = split.test.X.shape[0]
    assert "at eps x0.5, x0.75, x1, x1.5, x2 of the rule's eps=1:" in calinski[0]
    assert f"got 0, 0, 1, 1, 1 cluster(s) among {n_test} test samples" in calinski[0]


def test_dbscan_knee_at_zero_warns_once_as_it_is():
    class Collapsed(_GridEmbedding):
        def transform(self, X):
            return np.zeros((X.shape[0], 2))

    split = _dataset(None, "none").split(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        record = evaluate(Collapsed(), split)
    assert record["dbscan_eps"] == 0 and np.isnan(record["ch_dbscan"])
    dbscan = [str(w.message) for w in caught if "DBSCAN" in str(w.message)]
    assert len(dbscan) == 1 and "k-distance knee is 0" in dbscan[0]
