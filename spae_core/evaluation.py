"""All of the paper's metrics (Section 4.2, Appendix C) for one trained model on one data split.

:func:`evaluate` returns one tidy record, a flat dict that becomes a DataFrame row, with the
seconds each metric took. Reconstruction and embedding metrics are computed on the test rows;
the downstream models are fitted on the training rows' embeddings and scored on the test rows'.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from . import metrics
from .losses import smoothed_rates
from .model import Autoencoder
from .train import apply_in_batches

__all__ = ["DBSCAN_EPS_FACTORS", "METRICS_VERSION", "code_sparsity_fields", "dbscan_eps_column", "dbscan_eps_columns",
           "downstream_metrics", "downstream_scores", "evaluate", "evaluate_counts", "task_kind",
           "training_rates"]

#: The version of what :func:`evaluate` and :func:`evaluate_counts` compute, stored in every run's
#: record. Bump it, on purpose and in the same commit, whenever a change to this module or to
#: :mod:`spae_core.metrics` changes any number they return (a formula, a default, a new or renamed
#: field); leave it alone for refactors, docstrings and speed-ups that return the same numbers.
#: Stored runs of another version are re-evaluated from their weights, and published records
#: (no weights) stop the build with a message naming them. The tolerance lane of the tests
#: (tests/test_portability.py) fails when the metrics move beyond what other CPUs explain.
METRICS_VERSION = 1


@contextmanager
def _timed(record: dict, name: str):
    started = time.perf_counter()
    yield
    record[f"seconds_{name}"] = time.perf_counter() - started


def task_kind(task: str | None, targets) -> str:
    """``"regression"``, ``"classification"`` or ``"none"``, from a dataset's ``task`` string.

    Without ``task``: classification if every target column is 0/1, regression otherwise, none
    without targets.

    Raises
    ------
    ValueError
        If a target column holds anything but numbers or booleans (text labels, say), unless the
        task is ``"none"``: such labels are classes, turned into 0/1 columns by
        :func:`spae_core.datasets.attach_labels`.
    """
    kind = None if task is None else str(task).split(":", 1)[0].strip().lower()
    if kind is not None and kind not in ("regression", "classification"):
        return "none"
    for column in targets.columns:
        values = targets[column]
        if not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)):
            example = f" such as {values.iloc[0]!r}" if len(values) else ""
            raise ValueError(
                f"target column {column!r} holds {values.dtype} values{example}, neither numbers nor 0/1: the "
                "downstream models need numeric targets. Attach text labels with "
                "spae_core.datasets.attach_labels(dataset, labels), which turns classes into 0/1 columns."
            )
    if kind is not None:
        return kind
    if targets.shape[1] == 0:
        return "none"
    binary = all(set(np.unique(targets[c].to_numpy())) <= {0, 1} for c in targets.columns)
    return "classification" if binary else "regression"


def evaluate(
    estimator,
    split,
    *,
    task: str | None = None,
    threshold: float = 0.5,
    n_neighbors: int = 15,
    min_samples: int = 5,
    n_sparsity_bins: int = 10,
    return_distribution: bool = False,
    embedding: bool = True,
):
    """Evaluate one fitted model on one split.

    Parameters
    ----------
    estimator : fitted SparseAutoencoder, a trained :class:`spae_core.model.Autoencoder`
        (reconstruction probabilities = sigmoid of its logits), or any object with ``transform``
        (embeddings) and ``predict_proba`` (reconstruction probabilities)
    split : spae_core.datasets.DatasetSplit
        Its ``test`` part is evaluated; its ``train`` part fits the downstream models.
    task : str, optional
        ``"regression: ..."``, ``"classification: ..."`` or ``"none"`` (a dataset's ``task``).
        By default inferred from the targets: classification if every target column is 0/1,
        regression otherwise, none without targets. Text targets are refused by
        :func:`task_kind` before any metric runs.
    threshold : float, default=0.5
        Binarisation threshold of the contingency score and the Figure 3 mass (the paper's t).
    n_neighbors : int, default=15
        ``k`` of trustworthiness (Appendix C).
    min_samples : int, default=5
        DBSCAN's ``min_samples``; ``eps`` follows the rule of
        :func:`spae_core.metrics.calinski_harabasz_dbscan`.
    n_sparsity_bins : int, default=10
        Equal-width per-sample sparsity bins (Appendix C).
    return_distribution : bool, default=False
        Also return the histogram of the test reconstructions (Figure 3).
    embedding : bool, default=True
        False for a model without an embedding (only ``predict_proba``, e.g. the EASE baseline of
        :mod:`spae_core.baselines`): only ``n_test`` and the reconstruction fields
        (``ap_*``, ``contingency*``, ``mass_above_threshold``, with their seconds) are returned.

    Returns
    -------
    dict
        ``ap_macro``, ``ap_micro``, ``ap_features_skipped``, ``contingency``,
        ``contingency_pairs``, ``contingency_rate_threshold`` (each feature binarised at its
        add-one-smoothed positive rate in ``split.train``, :func:`training_rates`),
        ``mass_above_threshold``, ``trustworthiness``, ``ch_dbscan``, ``dbscan_clusters``,
        ``dbscan_eps``, ``dbscan_noise_fraction``, ``ch_sparsity``, ``sparsity_groups``;
        ``ch_dbscan_eps_x<f>`` and ``dbscan_clusters_eps_x<f>`` for each factor ``f`` of
        :data:`DBSCAN_EPS_FACTORS` (DBSCAN at ``f`` times the rule's eps); with a regression
        target ``r2_<target>``, with labels ``ap_label_<label>`` and ``ap_label_mean``; the
        code-sparsity fields of
        :func:`code_sparsity_fields` on the test embeddings; ``n_test``; and ``seconds_<metric>``
        for each. Undefined metrics are NaN (with a warning from the metric), never an exception;
        the DBSCAN CH scores undefined at several eps share one warning that names them.
    spae_core.metrics.ReconstructionDistribution
        Only with ``return_distribution=True``.
    """
    if isinstance(estimator, Autoencoder):
        estimator = _AutoencoderAdapter(estimator)
    test, train = split.test, split.train
    # Decided before any metric runs, so unusable targets stop the evaluation at once.
    kind = task_kind(task, train.targets) if embedding else "none"
    record: dict = {"n_test": int(test.X.shape[0])}

    with _timed(record, "inference"):
        P = estimator.predict_proba(test.X)
        E_test = estimator.transform(test.X) if embedding else None
    distribution = _reconstruction_fields(record, test.X, P, train.X, threshold)
    if embedding:
        _embedding_fields(record, test.X, E_test, n_neighbors, min_samples, n_sparsity_bins)
        if kind != "none" and train.targets.shape[1] > 0:
            with _timed(record, "downstream"):
                record.update(downstream_scores(estimator.transform(train.X), E_test, train.targets, test.targets,
                                                kind))
    return (record, distribution) if return_distribution else record


def training_rates(X_train) -> np.ndarray:
    """Each feature's positive rate in ``X_train``, add-one smoothed (as the weighted losses' ``p_j``).

    ``(count_j + 1) / (n + 2)``: the per-feature thresholds of ``contingency_rate_threshold``.
    """
    return smoothed_rates(np.asarray(X_train.sum(axis=0), dtype=np.float64).ravel(), X_train.shape[0])


def _reconstruction_fields(record: dict, X_test, P, X_train, threshold: float):
    """Add the reconstruction metrics of ``P`` against ``X_test`` to ``record``; return the Figure 3 histogram."""
    with _timed(record, "average_precision"):
        macro = metrics.average_precision(X_test, P, average="macro")
        record["ap_macro"] = macro.score
        record["ap_features_skipped"] = macro.n_skipped
        record["ap_micro"] = metrics.average_precision(X_test, P, average="micro").score
    with _timed(record, "contingency"):
        contingency = metrics.contingency_score(X_test, P, threshold=threshold)
        record["contingency"] = contingency.score
        record["contingency_pairs"] = contingency.n_pairs_used
    with _timed(record, "contingency_rate_threshold"):
        # Sensitivity of the paper's unspecified t: each feature binarised at its own positive
        # rate in the training split (add-one smoothed, as the weighted losses' p_j), instead of 0.5.
        rates = training_rates(X_train)
        record["contingency_rate_threshold"] = metrics.contingency_score(X_test, P, threshold=rates).score
    with _timed(record, "reconstruction_distribution"):
        distribution = metrics.reconstruction_distribution(P, threshold=threshold)
        record["mass_above_threshold"] = distribution.mass_above_threshold
    return distribution


def _embedding_fields(record: dict, X_test, E_test, n_neighbors: int, min_samples: int, n_sparsity_bins: int) -> None:
    """Add the embedding metrics of the test codes ``E_test`` (rows of ``X_test``) to ``record``."""
    with _timed(record, "trustworthiness"):
        record["trustworthiness"] = _trustworthiness_or_nan(X_test, E_test, n_neighbors)
    # DBSCAN runs at the rule's eps and at every scaled eps, and each run that finds fewer than two
    # clusters warns; their warnings are gathered here and said once (_warn_dbscan_undefined).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", metrics.UndefinedMetricWarning)
        with _timed(record, "ch_dbscan"):
            clusters = metrics.calinski_harabasz_dbscan(E_test, min_samples=min_samples)
            record.update(
                ch_dbscan=clusters.score,
                dbscan_clusters=clusters.n_clusters,
                dbscan_eps=clusters.eps,
                dbscan_noise_fraction=clusters.noise_fraction,
            )
        with _timed(record, "ch_dbscan_eps_range"):
            # Sensitivity of DBSCAN's unspecified eps: the rule's eps scaled down and up.
            for factor in DBSCAN_EPS_FACTORS:
                if clusters.eps > 0:
                    scaled = metrics.calinski_harabasz_dbscan(E_test, eps=factor * clusters.eps,
                                                              min_samples=min_samples)
                    score, found = scaled.score, scaled.n_clusters
                else:
                    score, found = float("nan"), 0
                record[dbscan_eps_column("ch_dbscan", factor)] = score
                record[dbscan_eps_column("dbscan_clusters", factor)] = found
    _warn_dbscan_undefined(caught, record, E_test.shape[0])
    with _timed(record, "ch_sparsity"):
        groups = metrics.calinski_harabasz_sparsity(E_test, X_test, n_bins=n_sparsity_bins)
        record.update(ch_sparsity=groups.score, sparsity_groups=groups.n_groups)
    with _timed(record, "code_sparsity"):
        record.update(code_sparsity_fields(E_test))


def _warn_dbscan_undefined(caught: list, record: dict, n_test: int) -> None:
    """Pass on the warnings ``caught`` around the DBSCAN fields of ``record``, those of an undefined CH as one.

    With a positive eps, DBSCAN's only undefined case is fewer than two clusters (or one per
    point), which each of the five eps hits alike on a one-cluster embedding: one warning names
    the eps multiples and cluster counts instead. A knee at 0 (DBSCAN not run) warns once by
    itself and is passed on as it is, as is any other warning.
    """
    summarised = record["dbscan_eps"] > 0
    undefined = [w for w in caught if summarised and issubclass(w.category, metrics.UndefinedMetricWarning)]
    for w in caught:
        if not any(w is u for u in undefined):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if undefined:
        factors = [factor for factor, field in dbscan_eps_columns("ch_dbscan").items() if np.isnan(record[field])]
        found = [record[dbscan_eps_column("dbscan_clusters", factor)] for factor in factors]
        warnings.warn(
            f"Calinski-Harabasz score is undefined for the DBSCAN clusters (noise excluded) at eps "
            f"{', '.join(f'x{factor:g}' for factor in factors)} of the rule's eps={record['dbscan_eps']:.4g}: "
            f"it needs between 2 and n_samples - 1 clusters, got {', '.join(map(str, found))} cluster(s) "
            f"among {n_test} test samples; recorded as NaN.",
            metrics.UndefinedMetricWarning,
            stacklevel=4,
        )


def code_sparsity_fields(E) -> dict:
    """Sparsity of the codes ``E`` (one row per sample) as record fields.

    ``code_hoyer`` and ``code_treves_rolls`` are the mean population-sparsity indices of
    :func:`spae_core.metrics.code_sparsity` (0: all units equally active, 1: one active unit);
    ``code_near_zero`` the fraction of activations with ``|h| <= 1e-6``; ``code_dead_units``
    the fraction of units silent for every sample; ``code_silent`` the number of all-zero codes
    (left out of both indices).
    """
    hoyer = metrics.code_sparsity(E, measure="hoyer")
    treves_rolls = metrics.code_sparsity(E, measure="treves_rolls")
    return {"code_hoyer": hoyer.population_sparsity, "code_treves_rolls": treves_rolls.population_sparsity,
            "code_near_zero": hoyer.fraction_near_zero, "code_dead_units": hoyer.dead_units,
            "code_silent": hoyer.n_silent}


def evaluate_counts(estimator, split, *, threshold: float = 0.5, return_distribution: bool = False):
    """Evaluate one fitted count model on the test rows of one split of count data.

    The reconstruction is the expected count (``estimator.predict_mean``), scored by
    :func:`spae_core.metrics.count_reconstruction`: exact recovery of the non-zero counts after
    rounding (the forum user's measure in source ``001``), zeros kept zero, and the error on the
    non-zeros. The probability that an entry is non-zero (``estimator.predict_proba``) is scored
    against the binarised test rows (``x > 0``) by average precision, as the paper scores its
    binary reconstructions. The embedding and downstream metrics of :func:`evaluate` are not
    computed: their definitions (Hamming neighbours, sparsity groups) assume 0/1 rows.

    Parameters
    ----------
    estimator : fitted SparseAutoencoder with a count loss, or any object with ``transform``,
        ``predict_proba`` (probabilities of a non-zero) and ``predict_mean`` (expected counts)
    split : spae_core.datasets.DatasetSplit
        Of a :class:`spae_core.datasets.CountDataset`; its ``test`` part is evaluated.
    threshold : float, default=0.5
        Threshold of the Figure 3 mass of the non-zero probabilities.
    return_distribution : bool, default=False
        Also return the histogram of the test rows' non-zero probabilities.

    Returns
    -------
    dict
        ``n_test``; ``nonzero_exact``, ``zero_kept``, ``mae_nonzero``, ``deviance_nonzero``,
        ``n_nonzero_test``, ``n_zero_test`` (:class:`spae_core.metrics.CountReconstructionResult`);
        ``ap_macro``, ``ap_micro``, ``ap_features_skipped`` of the non-zero probabilities;
        ``mass_above_threshold``; the code-sparsity fields of :func:`code_sparsity_fields`; and
        ``seconds_<metric>`` for each.
    spae_core.metrics.ReconstructionDistribution
        Only with ``return_distribution=True``.
    """
    test = split.test
    record: dict = {"n_test": int(test.X.shape[0])}
    with _timed(record, "inference"):
        M = estimator.predict_mean(test.X)
        P = estimator.predict_proba(test.X)
        E_test = estimator.transform(test.X)
    with _timed(record, "count_reconstruction"):
        counts = metrics.count_reconstruction(test.X, M)
        record.update(nonzero_exact=counts.nonzero_exact, zero_kept=counts.zero_kept, mae_nonzero=counts.mae_nonzero,
                      deviance_nonzero=counts.deviance_nonzero, n_nonzero_test=counts.n_nonzero,
                      n_zero_test=counts.n_zero)
    with _timed(record, "average_precision"):
        binary = _binarised(test.X)
        macro = metrics.average_precision(binary, P, average="macro")
        record["ap_macro"] = macro.score
        record["ap_features_skipped"] = macro.n_skipped
        record["ap_micro"] = metrics.average_precision(binary, P, average="micro").score
    with _timed(record, "reconstruction_distribution"):
        distribution = metrics.reconstruction_distribution(P, threshold=threshold)
        record["mass_above_threshold"] = distribution.mass_above_threshold
    with _timed(record, "code_sparsity"):
        record.update(code_sparsity_fields(E_test))
    return (record, distribution) if return_distribution else record


def _binarised(X):
    """The 0/1 pattern ``x > 0`` of a count matrix, sparse if ``X`` is."""
    if sp.issparse(X):
        B = sp.csr_array(X, copy=True)
        B.eliminate_zeros()
        B.data[:] = 1
        return B
    return (np.asarray(X) > 0).astype(np.float32)


#: Multiples of the rule's DBSCAN ``eps`` also scored (``ch_dbscan_eps_x<factor>``), to show how
#: much the embedding verdicts depend on that unspecified choice.
DBSCAN_EPS_FACTORS = (0.5, 0.75, 1.5, 2.0)


def dbscan_eps_column(metric: str, factor: float) -> str:
    """The record field of ``metric`` (``"ch_dbscan"`` or ``"dbscan_clusters"``) with DBSCAN at ``factor`` x the rule's eps.

    ``factor`` 1 is the rule itself (the field ``metric``); the others are
    ``<metric>_eps_x<factor>`` for the factors of :data:`DBSCAN_EPS_FACTORS`.
    """
    if metric not in ("ch_dbscan", "dbscan_clusters"):
        raise ValueError(f"metric must be 'ch_dbscan' or 'dbscan_clusters', got {metric!r}.")
    if factor != 1.0 and factor not in DBSCAN_EPS_FACTORS:
        raise ValueError(f"factor must be 1 or one of {DBSCAN_EPS_FACTORS}, got {factor!r}.")
    return metric if factor == 1.0 else f"{metric}_eps_x{factor:g}"


def dbscan_eps_columns(metric: str) -> dict[float, str]:
    """``{factor: field}`` of :func:`dbscan_eps_column` for the rule (1) and every scaled eps, ascending."""
    return {factor: dbscan_eps_column(metric, factor) for factor in sorted((1.0, *DBSCAN_EPS_FACTORS))}


def downstream_metrics(columns) -> list[str]:
    """The downstream fields of :func:`downstream_scores` among ``columns`` (``r2_*``, ``ap_label_*``), in order."""
    return [c for c in columns if c.startswith(("r2_", "ap_label_"))]


class _AutoencoderAdapter:
    """A bare trained Autoencoder seen through the estimator's two methods."""

    def __init__(self, model: Autoencoder):
        self.model = model

    def transform(self, X) -> np.ndarray:
        return apply_in_batches(self.model, X, lambda m, x: m.encode(x))

    def predict_proba(self, X) -> np.ndarray:
        return apply_in_batches(self.model, X, lambda m, x: torch.sigmoid(m(x)))


def downstream_scores(inputs_train, inputs_test, targets_train, targets_test, kind: str, *,
                      standardise: bool = True) -> dict:
    """The downstream metrics of Section 4.3.3 as record fields.

    ``inputs_*`` are embeddings, or raw inputs for the no-autoencoder reference. ``kind`` is
    ``"regression"`` (one ``r2_<column>`` per target column) or ``"classification"`` (one
    ``ap_label_<label>`` per label, and their mean ``ap_label_mean``). ``standardise`` is passed
    to :func:`spae_core.metrics.downstream_classification` (True for embeddings, as the runs
    record them); the regression is ordinary least squares, which does not depend on the scale
    of the inputs, so it is the same either way.
    """
    if kind == "regression":
        return {f"r2_{column}": metrics.downstream_regression(inputs_train, targets_train[column].to_numpy(),
                                                               inputs_test, targets_test[column].to_numpy(),
                                                               standardise=standardise)
                for column in targets_train.columns}
    if kind == "classification":
        scores = metrics.downstream_classification(inputs_train, targets_train, inputs_test, targets_test,
                                                   standardise=standardise)
        fields = {f"ap_label_{label}": score for label, score in scores.items()}
        finite = [v for v in scores.values() if np.isfinite(v)]
        fields["ap_label_mean"] = float(np.mean(finite)) if finite else float("nan")
        return fields
    raise ValueError(f"kind must be 'regression' or 'classification', got {kind!r}.")


def _trustworthiness_or_nan(X, E, n_neighbors: int) -> float:
    # Trustworthiness is undefined for n_neighbors >= n/2; a small test split must not stop a book.
    if n_neighbors >= X.shape[0] / 2:
        warnings.warn(
            f"trustworthiness needs n_neighbors < n_samples / 2; the test split has {X.shape[0]} rows "
            f"for n_neighbors={n_neighbors}. Recorded as NaN.",
            metrics.UndefinedMetricWarning,
            stacklevel=4,
        )
        return float("nan")
    return float(metrics.trustworthiness(X, E, n_neighbors=n_neighbors))
