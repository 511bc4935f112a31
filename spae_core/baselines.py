"""Baselines without an autoencoder, on the same splits and metrics as the runs.

The reviewers asked for baselines; three kinds are here, each fitted on the training split of the
grid's rows and scored on the test split exactly as the autoencoder runs are:

- :func:`raw_input_downstream`: the downstream models on the raw binary inputs.
- ``"pca50"`` / ``"svd50"`` (:class:`LinearEmbedding`): 50-dimensional PCA (centred) and truncated
  SVD (uncentred) embeddings, evaluated with the same :func:`spae_core.evaluation.evaluate` as the
  autoencoders; their reconstruction is the linear map back to input space.
- ``"ease"`` (:class:`Ease`): Steck's (2019) closed-form item-item model ``B = I - P / diag(P)``,
  ``P = (X^T X + lambda I)^-1``, ``diag(B) = 0``, for the reconstruction metrics only (it has no
  embedding); ``lambda`` is chosen on the validation split.

Linear reconstructions are not probabilities: they fall outside [0, 1]. The metrics of the runs
reject such values rather than clip them, so the baselines hand them a documented, exact
re-encoding instead (:func:`order_preserving_unit_scores`): a strictly increasing map onto [0, 1]
that keeps every tie and sends values above the threshold 0.5 above it and the others not. Every
reconstruction metric of the runs depends on the values only through their order and through
``value > 0.5``, except the Figure 3 histogram, which is therefore not produced for the baselines
(see :func:`baseline_records`).

:func:`baseline_records` computes the records once and stores them under
``<results_dir>/baselines/``, keyed like the runs' store.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD

from . import metrics, validation
from .datasets import load
from .evaluation import METRICS_VERSION, downstream_scores, evaluate, task_kind, training_rates
from .runs.spec import content_key, subsample_rows
from .runs.store import atomic_write_json, training_allowed
from .provenance import machine_provenance, package_versions

__all__ = [
    "BASELINES",
    "DEFAULT_EASE_LAMBDAS",
    "Ease",
    "GramSpectrum",
    "LinearEmbedding",
    "baseline_records",
    "ease_scores",
    "ease_weights",
    "order_preserving_unit_scores",
    "raw_input_downstream",
]

#: Bumped when the meaning of a stored baseline record changes.
BASELINE_STORE_VERSION = 1

#: The version of what this module computes, stored in every baseline record next to the
#: metrics' :data:`spae_core.evaluation.METRICS_VERSION`. Bump it on purpose whenever a change here
#: changes a stored number (not for docstrings or refactors): records of another version are
#: recomputed from the data.
BASELINES_VERSION = 1

#: The baselines :func:`baseline_records` knows, by the name stored in its ``model`` column.
BASELINES = ("pca50", "svd50", "ease")

#: EASE's ridge strengths tried on the validation split: four decades at ~x3 steps. Steck (2019)
#: reports 200-1000 as best on ML-20M, Netflix and MSD (10^5 users); the grid reaches two decades
#: below for our much smaller training splits (the Gram matrix scales with the number of rows).
DEFAULT_EASE_LAMBDAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)

_EMBEDDING_FIELDS = ("trustworthiness", "ch_dbscan", "dbscan_clusters", "dbscan_eps", "dbscan_noise_fraction",
                     "ch_sparsity", "sparsity_groups")


# --------------------------------------------------------------------------------------------
# Linear scores as inputs of the runs' metrics
# --------------------------------------------------------------------------------------------


def order_preserving_unit_scores(S, threshold: float = 0.5) -> np.ndarray:
    """Re-encode real-valued scores onto [0, 1], keeping their order, their ties and the threshold.

    The distinct values of ``S`` are ranked; those ``<= threshold`` are spread evenly over
    ``[0, threshold]`` and those ``> threshold`` evenly over ``(threshold, 1]``, by rank. The map
    is strictly increasing, so

    - average precision (per feature or pooled), a function of the order and ties of the scores
      only, is exactly that of ``S``;
    - ``result > threshold`` exactly when ``S > threshold``: the contingency score and the mass
      above the threshold are those of ``S`` binarised at ``threshold``.

    The *values* carry no meaning beyond that (a histogram of them is not the distribution of
    ``S``). This is a transformation, not a clip: nothing is lost but the spacing.

    Parameters
    ----------
    S : array-like of shape (n_samples, n_features)
        Finite real scores, e.g. a linear reconstruction.
    threshold : float, default=0.5
        Strictly between 0 and 1.

    Returns
    -------
    ndarray of float64, same shape as ``S``
    """
    S = np.asarray(S, dtype=np.float64)
    if not (isinstance(threshold, (int, float)) and 0.0 < float(threshold) < 1.0):
        raise ValueError(f"threshold must be a number strictly between 0 and 1, got {threshold!r}.")
    if S.size == 0:
        raise ValueError(f"S is empty (shape {S.shape}).")
    validation.check_finite("S", S)
    t = float(threshold)
    distinct, inverse = np.unique(S, return_inverse=True)
    n_low = int(np.searchsorted(distinct, t, side="right"))  # distinct values <= t
    rank = np.arange(distinct.size, dtype=np.float64)
    mapped = np.empty(distinct.size)
    # rank / (n_low - 1) <= 1 exactly, so the rounded product never exceeds t.
    mapped[:n_low] = t * (rank[:n_low] / max(n_low - 1, 1))
    # Counted down from 1, so the largest value is exactly 1 and none exceeds it; the smallest is
    # t + (1 - t) / n_high, far above t in floating point for any realistic n_high.
    n_high = distinct.size - n_low
    mapped[n_low:] = 1.0 - (1.0 - t) * ((distinct.size - 1 - rank[n_low:]) / max(n_high, 1))
    return mapped[inverse].reshape(S.shape)


def _range_fields(S) -> dict:
    """How far a linear reconstruction leaves [0, 1] (the record's stand-in for Figure 3)."""
    S = np.asarray(S)
    return {"reconstruction_min": float(S.min()), "reconstruction_max": float(S.max()),
            "fraction_below_0": float(np.mean(S < 0)), "fraction_above_1": float(np.mean(S > 1))}


# --------------------------------------------------------------------------------------------
# PCA / truncated SVD
# --------------------------------------------------------------------------------------------


class LinearEmbedding:
    """A linear embedding (PCA or truncated SVD) seen through :func:`~spae_core.evaluation.evaluate`.

    Parameters
    ----------
    kind : {"pca", "svd"}
        ``"pca"``: :class:`sklearn.decomposition.PCA` (centred; the centring stays implicit, so the
        sparse input is never densified). ``"svd"``: :class:`sklearn.decomposition.TruncatedSVD`
        (uncentred, the usual choice for sparse data).
    n_components : int, default=50
        The autoencoders' latent size. Capped at the number of features (thyroid has 22); the
        embedding is then a lossless rotation and its reconstruction exact (``n_components_``
        records what was used).
    threshold : float, default=0.5
        Passed to :func:`order_preserving_unit_scores`; must equal ``evaluate``'s ``threshold``.
    random_state : int, default=0
        Start vector of ARPACK (and of the randomized SVD when ``n_components`` equals the number
        of features, which ARPACK cannot do).

    Notes
    -----
    Solvers: ARPACK (``svd_solver="arpack"`` / ``algorithm="arpack"``), the one scikit-learn uses
    for sparse input by default, whenever ``n_components < min(n_samples, n_features)``. When it
    cannot be used, PCA uses ``"covariance_eigh"`` (exact, sparse input supported) and truncated
    SVD the randomized solver (``n_components == n_features``, where it is a full decomposition).
    ``solver_`` records which.
    """

    def __init__(self, kind: str, n_components: int = 50, *, threshold: float = 0.5, random_state: int = 0):
        if kind not in ("pca", "svd"):
            raise ValueError(f'kind must be "pca" or "svd", got {kind!r}.')
        if not isinstance(n_components, (int, np.integer)) or n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components!r}.")
        self.kind, self.n_components, self.threshold, self.random_state = kind, int(n_components), threshold, random_state

    def fit(self, X) -> "LinearEmbedding":
        X = _as_csr(X, "X")
        n, d = X.shape
        k = min(self.n_components, d)
        if k > n:
            raise ValueError(f"{self.kind} with {k} components needs at least {k} training rows, got {n}.")
        arpack = k < min(n, d)
        if self.kind == "pca":
            self.solver_ = "arpack" if arpack else "covariance_eigh"
            self.model_ = PCA(n_components=k, svd_solver=self.solver_, random_state=self.random_state)
        else:
            self.solver_ = "arpack" if arpack else "randomized"
            self.model_ = TruncatedSVD(n_components=k, algorithm=self.solver_, random_state=self.random_state)
        self.model_.fit(X)
        self.n_components_ = k
        return self

    def transform(self, X) -> np.ndarray:
        """The ``n_components_``-dimensional embedding."""
        return np.asarray(self.model_.transform(_as_csr(X, "X")), dtype=np.float64)

    def reconstruct(self, X) -> np.ndarray:
        """The linear reconstruction (real-valued, not a probability)."""
        return np.asarray(self.model_.inverse_transform(self.transform(X)), dtype=np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """:func:`order_preserving_unit_scores` of :meth:`reconstruct`; not probabilities.

        Exact for average precision, the contingency score at ``threshold`` and the mass above
        it; meaningless as a histogram.
        """
        return order_preserving_unit_scores(self.reconstruct(X), self.threshold)


# --------------------------------------------------------------------------------------------
# EASE
# --------------------------------------------------------------------------------------------


def ease_weights(X, lam: float) -> np.ndarray:
    """EASE's item-item matrix by direct inversion (Steck 2019, Eq. 8): the reference formula.

    ``P = (X^T X + lam I)^-1``, ``B = I - P / diag(P)`` (column ``j`` divided by ``P_jj``), so
    ``diag(B) = 0`` (set exactly). ``B`` minimises ``||X - XB||_F^2 + lam ||B||_F^2`` subject to
    ``diag(B) = 0``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    lam : float
        Ridge strength, > 0.

    Returns
    -------
    ndarray of shape (n_features, n_features)
    """
    X = _as_csr(X, "X")
    lam = _check_lambda(lam)
    G = (X.T @ X).toarray()
    G[np.diag_indices_from(G)] += lam
    P = scipy.linalg.inv(G, check_finite=False)
    B = -P / np.diag(P)
    B[np.diag_indices_from(B)] = 0.0
    return B


class GramSpectrum:
    """One eigendecomposition of ``X^T X`` that serves EASE at every ``lambda``.

    With ``X^T X = V diag(w) V^T``, ``(X^T X + lam I)^-1 = I / lam + V diag(c) V^T`` with
    ``c = -w / (lam (w + lam))``. ``V`` comes from the smaller Gram matrix: ``X^T X`` (d x d) when
    ``d <= n``, else ``X X^T`` (n x n), whose eigenvectors ``U`` give ``V = X^T U / sqrt(w)``. In
    that case the eigenvalues below ``max(w) * max(n, d) * eps`` are dropped (their ``V`` columns
    are numerically meaningless); their directions are then treated as the null space, which
    changes ``P`` by at most that tolerance / ``lam^2``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training rows.
    """

    def __init__(self, X):
        X = _as_csr(X, "X").astype(np.float64)
        n, d = X.shape
        self.n_features = d
        if d <= n:
            self.w, self.V = scipy.linalg.eigh((X.T @ X).toarray(), check_finite=False)
            self.solved = "X^T X"
        else:
            w, U = scipy.linalg.eigh((X @ X.T).toarray(), check_finite=False)
            keep = w > w.max() * max(n, d) * np.finfo(np.float64).eps
            self.w = w[keep]
            self.V = np.asarray(X.T @ U[:, keep]) / np.sqrt(self.w)
            self.solved = "X X^T"

    def inverse(self, lam: float) -> np.ndarray:
        """``P = (X^T X + lam I)^-1``."""
        lam = _check_lambda(lam)
        c = -self.w / (lam * (self.w + lam))
        P = (self.V * c) @ self.V.T
        P[np.diag_indices_from(P)] += 1.0 / lam
        return P

    def weights(self, lam: float) -> np.ndarray:
        """EASE's ``B`` at ``lam``, equal to :func:`ease_weights` up to rounding."""
        P = self.inverse(lam)
        B = -P / np.diag(P)
        B[np.diag_indices_from(B)] = 0.0
        return B


def ease_scores(X, B) -> np.ndarray:
    """``X @ B`` as a dense float64 array.

    ``X`` stays sparse, so a row's score for feature ``j`` sums exactly the same terms whether or
    not ``x_j = 1`` (``B_jj`` is exactly 0): rows that differ only in feature ``j`` tie exactly,
    with no rounding residue of ``x_j`` to break the tie in favour of the positive.
    """
    return np.asarray(_as_csr(X, "X").astype(np.float64) @ B)


class Ease:
    """EASE with ``lambda`` chosen on a validation split, for the reconstruction metrics.

    Because ``diag(B) = 0``, EASE scores each feature from the *other* features of the row; an
    autoencoder, PCA and SVD also see the feature itself. Its AP is therefore that of a harder
    task (recovering a feature from its context), the strongest closed-form reference of the
    recommender literature rather than a like-for-like reconstruction.

    Selection cost: one eigendecomposition (:class:`GramSpectrum`), then per candidate the
    explicit ``B`` (``d^2 min(n, d)`` flops) and the sparse product ``X_val @ B``. ``B`` is formed
    explicitly so that its zero diagonal is exact (see :func:`ease_scores`).

    Parameters
    ----------
    lambdas : sequence of float, default=DEFAULT_EASE_LAMBDAS
        Candidate ridge strengths.
    threshold : float, default=0.5
        For :meth:`predict_proba` (see :func:`order_preserving_unit_scores`).

    Attributes
    ----------
    lambda_ : float
        The candidate with the highest validation macro AP (the smallest such on a tie).
    validation_ap_ : dict
        Validation macro AP per candidate.
    B_ : ndarray of shape (n_features, n_features)
    seconds_ : dict
        ``eigendecomposition``, ``selection`` (all candidates) and ``weights``.
    """

    def __init__(self, lambdas=DEFAULT_EASE_LAMBDAS, *, threshold: float = 0.5):
        self.lambdas = tuple(_check_lambda(lam) for lam in lambdas)
        if not self.lambdas:
            raise ValueError("lambdas is empty; give at least one ridge strength.")
        self.threshold = threshold

    def fit(self, X, X_val) -> "Ease":
        X, X_val = _as_csr(X, "X"), _as_csr(X_val, "X_val")
        if X.shape[1] != X_val.shape[1]:
            raise ValueError(f"X and X_val must have the same features, got {X.shape[1]} and {X_val.shape[1]}.")
        started = time.perf_counter()
        spectrum = GramSpectrum(X)
        self.seconds_ = {"eigendecomposition": time.perf_counter() - started}
        started = time.perf_counter()
        self.validation_ap_ = {}
        with warnings.catch_warnings():
            # An all-zero validation split is a ValueError below, not a warning per candidate.
            warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
            for lam in self.lambdas:
                scores = ease_scores(X_val, spectrum.weights(lam))
                self.validation_ap_[lam] = metrics.average_precision(
                    X_val, order_preserving_unit_scores(scores, self.threshold)).score
        self.seconds_["selection"] = time.perf_counter() - started
        finite = {lam: ap for lam, ap in self.validation_ap_.items() if np.isfinite(ap)}
        if not finite:
            raise ValueError("the validation split has no positive entry; EASE's lambda cannot be chosen on it.")
        self.lambda_ = max(finite, key=lambda lam: (finite[lam], -lam))
        started = time.perf_counter()
        self.B_ = spectrum.weights(self.lambda_)
        self.seconds_["weights"] = time.perf_counter() - started
        return self

    def reconstruct(self, X) -> np.ndarray:
        """EASE's scores ``X @ B_`` (real-valued, not probabilities)."""
        return ease_scores(X, self.B_)

    def predict_proba(self, X) -> np.ndarray:
        """:func:`order_preserving_unit_scores` of :meth:`reconstruct`; not probabilities."""
        return order_preserving_unit_scores(self.reconstruct(X), self.threshold)


# --------------------------------------------------------------------------------------------
# Records and their store
# --------------------------------------------------------------------------------------------


def raw_input_downstream(datasets, *, max_rows: int | None = None, split_seed: int = 0, cache_dir=None) -> pd.DataFrame:
    """The downstream models fitted on the raw binary inputs instead of embeddings.

    Uses the rows and split of the experiment grid (:func:`spae_core.experiments.subsample_rows`
    with the same ``max_rows`` and ``split_seed``), so the numbers compare directly with the runs'.
    Datasets without targets are skipped. Undefined scores (a label with a single class in a
    small split) are NaN, silently: the caller sees the NaN in the table.

    Two variants, because the L2 penalty of the logistic regressions depends on the scale of the
    features: ``raw_input`` fits the 0/1 inputs as they are, as a user would (the baseline to
    beat); ``raw_input_standardised`` first scales each column to unit variance on the training
    split, as the runs do with their embeddings (z-scoring multiplies a rare column by about
    ``1 / sqrt(rate)``, so the penalty then lets the rare, noisy columns weigh most). The rating's
    regression is ordinary least squares, whose predictions do not depend on the scale of the
    inputs: both columns hold the same number there.

    Returns
    -------
    DataFrame
        One row per dataset and metric: ``dataset``, ``metric`` (``r2_<target>`` or
        ``ap_label_<label>``, as in the run records), ``raw_input``, ``raw_input_standardised``.
    """
    rows = []
    for name in datasets:
        dataset = subsample_rows(load(name, cache_dir=cache_dir), max_rows, split_seed)
        kind = task_kind(dataset.task, dataset.targets)
        if kind == "none" or dataset.targets.shape[1] == 0:
            continue
        split = dataset.split(seed=split_seed, stratify="auto")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
            inputs = (split.train.X, split.test.X, split.train.targets, split.test.targets, kind)
            as_is = downstream_scores(*inputs, standardise=False)
            # Least squares is scale-free: refitting it on standardised inputs would repeat the same numbers.
            standardised = downstream_scores(*inputs, standardise=True) if kind == "classification" else as_is
        rows += [{"dataset": name, "metric": metric, "raw_input": score, "raw_input_standardised": standardised[metric]}
                 for metric, score in as_is.items()]
    return pd.DataFrame(rows, columns=["dataset", "metric", "raw_input", "raw_input_standardised"])


def _settings(baseline: str, *, max_rows, split_seed, latent_dim, lambdas, threshold, random_state) -> dict:
    shared = {"max_rows": max_rows, "split_seed": int(split_seed), "threshold": float(threshold)}
    if baseline == "ease":
        return {**shared, "lambdas": [float(lam) for lam in lambdas]}
    return {**shared, "latent_dim": int(latent_dim), "random_state": int(random_state)}


def _record_path(results_dir, dataset: str, baseline: str, settings: dict) -> Path:
    key = content_key({"store_version": BASELINE_STORE_VERSION, "dataset": dataset, "model": baseline, **settings})
    return Path(results_dir) / "baselines" / f"{dataset}__{baseline}__{key}.json"


def _stored(path: Path) -> dict | None:
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    current = (record.get("metrics_version") == METRICS_VERSION
               and record.get("baselines_version") == BASELINES_VERSION)
    return record if current else None


def baseline_records(datasets, results_dir, *, baselines=BASELINES, max_rows: int | None = None, split_seed: int = 0,
                     cache_dir=None, latent_dim: int = 50, lambdas=DEFAULT_EASE_LAMBDAS, threshold: float = 0.5,
                     random_state: int = 0) -> pd.DataFrame:
    """One record per dataset and baseline, computed once and then read back from the store.

    Each baseline is fitted on the training split of the grid's rows
    (:func:`spae_core.experiments.subsample_rows` with the same ``max_rows`` and ``split_seed``,
    then ``dataset.split(seed=split_seed, stratify="auto")``) and scored on its test split, so the numbers compare
    directly with the runs'. A record is stored as
    ``<results_dir>/baselines/<dataset>__<model>__<key>.json`` (``key``: hash of the dataset, the
    baseline and its settings) and reused while :data:`spae_core.evaluation.METRICS_VERSION` and
    :data:`BASELINES_VERSION` are those it was computed with; otherwise it is recomputed (never
    with ``SPAE_TRAINING=off``, the exact test lane, which renders committed records only).

    What each baseline measures:

    - ``"pca50"``, ``"svd50"``: every field of :func:`spae_core.evaluation.evaluate`, with the
      embedding as ``transform`` and the linear reconstruction, re-encoded by
      :func:`order_preserving_unit_scores`, as ``predict_proba``. AP, the contingency score (the
      reconstruction binarised at ``threshold``) and ``mass_above_threshold`` are exactly those of
      the raw linear reconstruction; no value is clipped. ``contingency_rate_threshold`` (each
      feature binarised at its add-one-smoothed training rate) is computed on the raw
      reconstruction, since the re-encoding preserves only ``threshold``.
    - ``"ease"``: the same reconstruction fields on ``X_test @ B`` (``evaluate`` with
      ``embedding=False``); it has no embedding, so the embedding fields are NaN and the
      downstream fields absent (stated in ``notes``).
    - Not produced for any baseline: the Figure 3 histogram, defined over probabilities in [0, 1].
      Instead ``reconstruction_min`` / ``_max`` and ``fraction_below_0`` / ``_above_1`` say how far
      the reconstruction leaves [0, 1].

    Parameters
    ----------
    datasets : iterable of str
    results_dir : path
        Root of the results store (the runs' ``results_dir``).
    baselines : iterable of str, default=BASELINES
        Names from :data:`BASELINES`.
    max_rows, split_seed, cache_dir
        As in the grid (:class:`spae_core.experiments.RunSpec`, :func:`spae_core.datasets.load`).
    latent_dim : int, default=50
        Components of PCA / SVD (the runs' latent size; capped at the number of features).
    lambdas : sequence of float, default=DEFAULT_EASE_LAMBDAS
        EASE's candidates, chosen by validation macro AP.
    threshold : float, default=0.5
        The paper's t (contingency and mass above it).
    random_state : int, default=0
        ARPACK's start vector.

    Returns
    -------
    DataFrame
        One row per dataset and baseline, in the order given: ``dataset``, ``model`` (the
        baseline's name; ``.rename(columns={"model": "loss"})`` to stack it under the run
        records), the metric fields of the run records (same names), ``n_train``, ``n_val``,
        ``n_features``, ``n_components`` / ``solver`` (PCA, SVD) or ``ease_lambda``,
        ``ease_lambda_at_grid_edge``, ``ease_validation_ap`` (EASE), the range fields above,
        ``seconds_fit`` and the ``seconds_*`` of ``evaluate``, ``notes`` and ``warnings`` (JSON
        lists), ``metrics_version``, ``baselines_version``, ``versions``, ``provenance``.
    """
    baselines = list(baselines)
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(BASELINES)}.")
    rows = []
    for name in datasets:
        dataset = split = None
        for baseline in baselines:
            settings = _settings(baseline, max_rows=max_rows, split_seed=split_seed, latent_dim=latent_dim,
                                 lambdas=lambdas, threshold=threshold, random_state=random_state)
            path = _record_path(results_dir, name, baseline, settings)
            record = _stored(path)
            if record is None and not training_allowed():
                raise RuntimeError(
                    f"the baseline record {path} is missing or stale and SPAE_TRAINING=off (the exact test lane "
                    "renders committed records only): regenerate the committed records with `make golden`.")
            if record is None:
                if dataset is None:
                    dataset = subsample_rows(load(name, cache_dir=cache_dir), max_rows, split_seed)
                    split = dataset.split(seed=split_seed, stratify="auto")
                record = _compute(baseline, dataset, split, settings)
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_json(record, path)
            rows.append(record)
    return pd.DataFrame(rows)


def _compute(baseline: str, dataset, split, settings: dict) -> dict:
    threshold = settings["threshold"]
    record = {"dataset": dataset.name, "model": baseline, **{k: v for k, v in settings.items() if k != "lambdas"},
              "task": dataset.task, "paper_counterpart": dataset.paper_counterpart,
              "n_samples": dataset.shape[0], "n_features": dataset.shape[1], "dataset_sparsity": dataset.sparsity,
              "n_train": split.train.X.shape[0], "n_val": split.val.X.shape[0]}
    notes = []
    # As in the runs' records: undefined metrics are NaN and their explanations kept with them.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _fitted(baseline, split, settings, record, notes)
        # The runs' metrics, on the re-encoded reconstruction (exact for every field but the next).
        record.update(evaluate(model, split, task=dataset.task, threshold=threshold, embedding=baseline != "ease"))
        if baseline == "ease":
            record.update({name: float("nan") for name in _EMBEDDING_FIELDS})
        reconstruction = model.reconstruct(split.test.X)
        record.update(_range_fields(reconstruction))
        # evaluate() also scores the contingency with each feature binarised at its smoothed
        # training rate instead of t; the order-preserving re-encoding keeps only t, so that field
        # is computed here on the raw reconstruction (and replaces evaluate's).
        binarised = reconstruction > training_rates(split.train.X)
        record["contingency_rate_threshold"] = metrics.contingency_score(split.test.X, binarised).score
    notes.append("Reconstruction metrics use order_preserving_unit_scores of the linear reconstruction "
                 "(exact for AP, contingency and mass above the threshold); no Figure 3 histogram.")
    record.update(
        notes=json.dumps(notes),
        warnings=json.dumps(sorted({str(w.message) for w in caught})),
        metrics_version=METRICS_VERSION,
        baselines_version=BASELINES_VERSION,
        versions=json.dumps(package_versions(), sort_keys=True),
        provenance=json.dumps(machine_provenance(), sort_keys=True),
    )
    return record


def _fitted(baseline: str, split, settings: dict, record: dict, notes: list):
    """The baseline fitted on ``split``; adds its fit's fields to ``record`` and what it implies to ``notes``."""
    threshold = settings["threshold"]
    started = time.perf_counter()
    if baseline == "ease":
        model = Ease(settings["lambdas"], threshold=threshold).fit(split.train.X, split.val.X)
        record["seconds_fit"] = time.perf_counter() - started
        record.update(_ease_fields(model))
        notes.append("EASE has no embedding: embedding and downstream metrics are NaN.")
        return model
    model = LinearEmbedding(baseline[:3], settings["latent_dim"], threshold=threshold,
                            random_state=settings["random_state"]).fit(split.train.X)
    record["seconds_fit"] = time.perf_counter() - started
    record.update(n_components=model.n_components_, solver=model.solver_)
    n_features = split.train.X.shape[1]
    if model.n_components_ == n_features:
        notes.append(f"n_components equals the {n_features} features: a lossless linear map, "
                     "so the reconstruction is exact up to rounding.")
    return model


def _ease_fields(model: Ease) -> dict:
    """What EASE's fit chose: its lambda, whether that is an end of the grid, the validation AP of each candidate."""
    lambdas = model.lambdas
    return {"ease_lambda": model.lambda_,
            "ease_lambda_at_grid_edge": bool(model.lambda_ in (min(lambdas), max(lambdas)) and len(lambdas) > 1),
            "ease_validation_ap": json.dumps({repr(lam): ap for lam, ap in model.validation_ap_.items()}),
            **{f"seconds_ease_{k}": v for k, v in model.seconds_.items()}}


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _as_csr(X, name: str) -> sp.csr_array:
    """``X`` checked as a 2-D, non-empty, numeric, finite matrix (:func:`spae_core.validation.as_matrix`), as CSR."""
    return sp.csr_array(validation.as_matrix(name, X))


def _check_lambda(lam) -> float:
    return validation.check_real("lambda", lam, low=0.0, high=np.inf, low_open=True)
