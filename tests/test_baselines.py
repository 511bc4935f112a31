"""Baselines: EASE against its defining optimisation problem, the rank re-encoding against the
metrics on raw scores, PCA/SVD records against the run records, and the store."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score

import spae_core.baselines as baselines
from spae_core import metrics
from spae_core.baselines import (Ease, GramSpectrum, LinearEmbedding, baseline_records, ease_scores, ease_weights,
                                 order_preserving_unit_scores)
from spae_core.experiments import RunSpec, run_one

TINY_GRID = dict(max_rows=300, split_seed=0)
VOLATILE = "seconds"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("dataset-cache")


def _binary(n, d, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, d)) < density).astype(np.float64)


def _macro_ap(X, S):
    """Mean sklearn AP over the columns with a positive, on the raw (unmapped) scores."""
    used = X.sum(axis=0) > 0
    return float(np.mean([average_precision_score(X[:, j], S[:, j]) for j in np.flatnonzero(used)]))


# ---------------------------------------------------------------------------------------------
# EASE
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.3, 4.0, 50.0])
def test_ease_weights_solve_the_constrained_ridge_problem(lam):
    # With B_jj = 0 the problem separates by column: column j is the ridge regression of x_j on
    # the other features, solved here from its normal equations.
    X = _binary(60, 9, seed=1)
    d = X.shape[1]
    expected = np.zeros((d, d))
    for j in range(d):
        others = np.delete(np.arange(d), j)
        A = X[:, others]
        expected[others, j] = np.linalg.solve(A.T @ A + lam * np.eye(d - 1), A.T @ X[:, j])
    B = ease_weights(sp.csr_array(X), lam)
    np.testing.assert_allclose(B, expected, rtol=1e-10, atol=1e-12)
    assert np.all(np.diag(B) == 0)


def test_ease_weights_are_a_stationary_point_of_the_lagrangian():
    # KKT conditions of min ||X - XB||^2 + lam ||B||^2 s.t. diag(B) = 0: the gradient
    # 2 (G + lam I) B - 2 G must vanish off the diagonal (the multipliers absorb the diagonal).
    X, lam = _binary(40, 7, seed=2), 2.5
    G = X.T @ X
    gradient = (G + lam * np.eye(7)) @ ease_weights(X, lam) - G
    off_diagonal = gradient[~np.eye(7, dtype=bool)]
    np.testing.assert_allclose(off_diagonal, 0, atol=1e-10)


@pytest.mark.parametrize("shape", [(80, 12), (15, 40)], ids=["tall", "wide"])
def test_one_eigendecomposition_equals_direct_inverse_at_every_lambda(shape):
    X = _binary(*shape, seed=3)
    X[1] = X[0]  # a repeated row: X X^T is singular in the wide case, so eigenvalues are dropped
    spectrum = GramSpectrum(sp.csr_array(X))
    G = X.T @ X
    for lam in (0.5, 7.0, 300.0):
        direct = np.linalg.inv(G + lam * np.eye(X.shape[1]))
        np.testing.assert_allclose(spectrum.inverse(lam), direct, rtol=1e-9, atol=1e-12 / lam)
        np.testing.assert_allclose(spectrum.weights(lam), ease_weights(X, lam), rtol=1e-8, atol=1e-10)
    assert spectrum.solved == ("X^T X" if shape[0] >= shape[1] else "X X^T")


def test_lambda_selection_picks_the_validation_best():
    X_train, X_val = _binary(70, 15, 0.25, seed=4), _binary(30, 15, 0.25, seed=5)
    lambdas = (0.1, 1.0, 10.0, 100.0, 1000.0)
    expected = {lam: _macro_ap(X_val, X_val @ ease_weights(X_train, lam)) for lam in lambdas}
    model = Ease(lambdas).fit(sp.csr_array(X_train), sp.csr_array(X_val))
    assert model.validation_ap_ == pytest.approx(expected, rel=1e-12)
    assert model.lambda_ == max(expected, key=expected.get)
    np.testing.assert_allclose(model.B_, ease_weights(X_train, model.lambda_), rtol=1e-8, atol=1e-10)


def test_ease_scores_tie_rows_that_differ_only_in_the_scored_feature():
    X = _binary(20, 10, seed=6)
    X[1] = X[0]
    X[0, 3], X[1, 3] = 1.0, 0.0
    scores = ease_scores(sp.csr_array(X), ease_weights(X, 3.0))
    assert scores[0, 3] == scores[1, 3]


def test_ease_rejects_bad_input():
    with pytest.raises(ValueError, match="lambda"):
        Ease((1.0, 0.0))
    with pytest.raises(ValueError, match="lambda"):
        ease_weights(_binary(5, 3), -1.0)
    with pytest.raises(ValueError, match="same features"):
        Ease().fit(_binary(5, 3), _binary(5, 4))


# ---------------------------------------------------------------------------------------------
# Linear scores as inputs of the runs' metrics
# ---------------------------------------------------------------------------------------------


def test_order_preserving_scores_keep_ap_contingency_and_mass_exactly():
    rng = np.random.default_rng(7)
    X = _binary(50, 12, seed=8)
    S = X * 0.6 + rng.normal(0.1, 0.4, X.shape)
    S[:5, :4] = np.round(S[:5, :4], 1)  # ties
    S[5, 0], S[6, 0], S[7, 0] = 0.5, np.nextafter(0.5, 1.0), np.nextafter(0.5, 0.0)  # at the threshold
    U = order_preserving_unit_scores(S)
    assert U.min() >= 0 and U.max() <= 1
    np.testing.assert_array_equal(U > 0.5, S > 0.5)
    # Same order and the same ties, everywhere.
    np.testing.assert_array_equal(np.argsort(U, axis=None, kind="stable"), np.argsort(S, axis=None, kind="stable"))
    assert len(np.unique(U)) == len(np.unique(S))
    assert metrics.average_precision(X, U).score == pytest.approx(_macro_ap(X, S), abs=1e-14)
    assert metrics.average_precision(X, U, average="micro").score == pytest.approx(
        average_precision_score(X.ravel(), S.ravel()), abs=1e-14)
    assert metrics.contingency_score(X, U).score == metrics.contingency_score(X, S > 0.5).score
    assert metrics.reconstruction_distribution(U).mass_above_threshold == np.mean(S > 0.5)


def test_order_preserving_scores_reject_bad_input():
    for threshold in (0.0, 1.0, True):
        with pytest.raises(ValueError, match="threshold"):
            order_preserving_unit_scores(np.ones((2, 2)), threshold)
    with pytest.raises(ValueError, match="NaN or infinite"):
        order_preserving_unit_scores(np.array([[0.0, np.nan]]))


def test_linear_embedding_reconstruction_is_the_sklearn_linear_map():
    X = sp.csr_array(_binary(60, 20, seed=9))
    pca = LinearEmbedding("pca", 5).fit(X)
    assert pca.solver_ == "arpack" and pca.transform(X).shape == (60, 5)
    dense = X.toarray()
    # PCA reconstruction: mean + projection of the centred data onto the components.
    W, mean = pca.model_.components_, dense.mean(axis=0)
    np.testing.assert_allclose(pca.reconstruct(X), mean + (dense - mean) @ W.T @ W, atol=1e-10)
    svd = LinearEmbedding("svd", 5).fit(X)
    W = svd.model_.components_
    np.testing.assert_allclose(svd.reconstruct(X), dense @ W.T @ W, atol=1e-10)
    # More components than features: capped, a lossless map.
    full = LinearEmbedding("svd", 50).fit(X)
    assert full.n_components_ == 20
    np.testing.assert_allclose(full.reconstruct(X), dense, atol=1e-8)
    with pytest.raises(ValueError, match="kind"):
        LinearEmbedding("ica")


# ---------------------------------------------------------------------------------------------
# Records and the store
# ---------------------------------------------------------------------------------------------


def _stable(frame):
    return frame[[c for c in frame.columns if not c.startswith(VOLATILE)]]


def test_linear_baseline_records_have_the_run_metric_columns_and_are_reproducible(tmp_path, cache_dir):
    run = run_one(RunSpec("omdb_metadata", "bce", 0, max_epochs=1, batch_size=64, latent_dim=8, hidden_dims=(16,),
                          **TINY_GRID), tmp_path / "runs", cache_dir=cache_dir)
    first = baseline_records(["omdb_metadata"], tmp_path / "a", baselines=("svd50", "pca50", "ease"),
                             cache_dir=cache_dir, **TINY_GRID)
    assert first["model"].tolist() == ["svd50", "pca50", "ease"]
    metric_columns = {c for c in run if c.startswith(("ap_", "contingency", "mass_", "trustworthiness", "ch_",
                                                       "dbscan_", "sparsity_groups", "r2_", "n_test"))}
    assert metric_columns <= set(first.columns)
    linear = first[first["model"] != "ease"]
    assert np.isfinite(linear[["ap_macro", "ap_micro", "contingency", "trustworthiness", "ch_sparsity", "r2_imdb_rating"]]).all().all()
    assert (linear["n_test"] == run["n_test"]).all() and (first["n_train"] == run["n_train"]).all()
    assert set(linear["solver"]) == {"arpack"} and set(linear["n_components"]) == {50}
    assert first.loc[first["model"] == "ease", "trustworthiness"].isna().all()
    # The per-feature-rate contingency is that of the raw reconstruction binarised at the rates.
    from spae_core.datasets import load
    from spae_core.experiments import subsample_rows
    split = subsample_rows(load("omdb_metadata", cache_dir=cache_dir), 300, 0).split(seed=0, stratify="auto")
    train, test = split.train.X.toarray(), split.test.X.toarray()
    rates = (train.sum(axis=0) + 1) / (train.shape[0] + 2)
    svd = LinearEmbedding("svd", 50).fit(split.train.X)
    expected = metrics.contingency_score(test, svd.reconstruct(test) > rates).score
    assert first.loc[first["model"] == "svd50", "contingency_rate_threshold"].item() == pytest.approx(expected, abs=1e-12)
    again = baseline_records(["omdb_metadata"], tmp_path / "b", baselines=("svd50", "pca50", "ease"),
                             cache_dir=cache_dir, **TINY_GRID)
    pd.testing.assert_frame_equal(_stable(first), _stable(again))


def test_store_reads_back_without_recomputation(tmp_path, cache_dir, monkeypatch):
    first = baseline_records(["thyroid"], tmp_path, baselines=("svd50", "ease"), cache_dir=cache_dir, **TINY_GRID)
    stored = sorted(p.name for p in (tmp_path / "baselines").iterdir())
    assert len(stored) == 2 and all(p.startswith("thyroid__") and p.endswith(".json") for p in stored)
    monkeypatch.setattr(baselines, "_compute", lambda *a, **k: pytest.fail("recomputed"))
    again = baseline_records(["thyroid"], tmp_path, baselines=("svd50", "ease"), cache_dir=cache_dir, **TINY_GRID)
    pd.testing.assert_frame_equal(first, again)
    # Other settings are another record; changed metric code recomputes.
    with pytest.raises(pytest.fail.Exception, match="recomputed"):
        baseline_records(["thyroid"], tmp_path, baselines=("ease",), lambdas=(1.0, 2.0), cache_dir=cache_dir,
                         **TINY_GRID)
    # A bumped metrics or baselines version recomputes; the exact lane (training off) refuses to.
    for constant in ("METRICS_VERSION", "BASELINES_VERSION"):
        with monkeypatch.context() as patched:
            patched.setattr(baselines, constant, getattr(baselines, constant) + 1)
            with pytest.raises(pytest.fail.Exception, match="recomputed"):
                baseline_records(["thyroid"], tmp_path, baselines=("svd50",), cache_dir=cache_dir, **TINY_GRID)
            patched.setenv("SPAE_TRAINING", "off")
            with pytest.raises(RuntimeError, match="SPAE_TRAINING=off.*make golden"):
                baseline_records(["thyroid"], tmp_path, baselines=("svd50",), cache_dir=cache_dir, **TINY_GRID)
    record = json.loads((tmp_path / "baselines" / stored[0]).read_text())
    assert record["metrics_version"] == baselines.METRICS_VERSION
    assert record["baselines_version"] == baselines.BASELINES_VERSION
    assert json.loads(record["provenance"])["versions"]["torch"] == json.loads(record["versions"])["torch"]


def test_baseline_records_rejects_unknown_baselines(tmp_path):
    with pytest.raises(ValueError, match="unknown baselines"):
        baseline_records(["thyroid"], tmp_path, baselines=("pca50", "lda"))


# ---------------------------------------------------------------------------------------------
# Downstream models on the raw inputs
# ---------------------------------------------------------------------------------------------


def test_raw_input_downstream_fits_the_raw_inputs_as_they_are_and_standardised(cache_dir):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import r2_score
    from sklearn.preprocessing import StandardScaler

    from spae_core.baselines import raw_input_downstream
    from spae_core.datasets import load
    from spae_core.experiments import subsample_rows

    frame = raw_input_downstream(["thyroid", "omdb_metadata"], cache_dir=cache_dir, **TINY_GRID)
    assert list(frame.columns) == ["dataset", "metric", "raw_input", "raw_input_standardised"]
    frame = frame.set_index(["dataset", "metric"])
    split = subsample_rows(load("thyroid", cache_dir=cache_dir), 300, 0).split(seed=0, stratify="auto")
    X_train, X_test = split.train.X, split.test.X
    scaler = StandardScaler(with_mean=False).fit(X_train)
    fitted = 0
    for label in split.train.targets.columns:
        y_train, y_test = split.train.targets[label].to_numpy(), split.test.targets[label].to_numpy()
        if np.unique(y_train).size < 2 or not y_test.any():
            assert frame.loc[("thyroid", f"ap_label_{label}")].isna().all()
            continue
        plain = LogisticRegression(C=1.0, max_iter=1000).fit(X_train, y_train)
        scaled = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(X_train), y_train)
        row = frame.loc[("thyroid", f"ap_label_{label}")]
        assert row["raw_input"] == pytest.approx(
            average_precision_score(y_test, plain.predict_proba(X_test)[:, 1]), abs=1e-12)
        assert row["raw_input_standardised"] == pytest.approx(
            average_precision_score(y_test, scaled.predict_proba(scaler.transform(X_test))[:, 1]), abs=1e-12)
        fitted += 1
    assert fitted >= 2
    # Least squares does not depend on the inputs' scale: one number in both columns.
    omdb = subsample_rows(load("omdb_metadata", cache_dir=cache_dir), 300, 0).split(seed=0, stratify="auto")
    rating_train, rating_test = (omdb.train.targets["imdb_rating"].to_numpy(),
                                 omdb.test.targets["imdb_rating"].to_numpy())
    expected = r2_score(rating_test, LinearRegression().fit(omdb.train.X, rating_train).predict(omdb.test.X))
    row = frame.loc[("omdb_metadata", "r2_imdb_rating")]
    assert row["raw_input"] == pytest.approx(expected, abs=1e-9)
    assert row["raw_input_standardised"] == row["raw_input"]
