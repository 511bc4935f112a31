"""Downstream utility of embeddings (Appendix C.3): R^2 of a linear regression and average
precision of per-label logistic regressions, both trained on the embeddings of a training split.

The same models fitted on the raw 0/1 inputs are the reviewers' no-autoencoder baseline; whether
features are standardised first is the caller's choice (``standardise``), since it changes what an
L2 penalty prefers: embeddings of different losses have different scales, while a user fitting the
raw inputs would leave their 0/1 columns as they are."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import average_precision_score as _sklearn_average_precision
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

from ..validation import as_matrix, as_vector, check_binary_values, check_int, check_real, check_same_n_samples
from ._common import _warn_undefined

__all__ = ["downstream_classification", "downstream_regression"]


def _check_design_matrices(E_train, E_test):
    E_train = as_matrix("E_train", E_train)
    E_test = as_matrix("E_test", E_test)
    if E_train.shape[1] != E_test.shape[1]:
        raise ValueError(
            f"E_train and E_test must have the same columns, got {E_train.shape[1]} and "
            f"{E_test.shape[1]}."
        )
    return E_train, E_test


def _check_standardise(standardise) -> bool:
    if not isinstance(standardise, (bool, np.bool_)):
        raise ValueError(f"standardise must be True or False, got {standardise!r}.")
    return bool(standardise)


def _standardise(E_train, E_test):
    """z-score with the training split's mean and standard deviation.

    Sparse inputs (raw data) are only scaled, not centred, so they stay sparse; with an
    intercept in the model centring changes nothing but the penalty on the intercept, which
    neither scikit-learn model applies.
    """
    scaler = StandardScaler(with_mean=not sp.issparse(E_train)).fit(E_train)
    return scaler.transform(E_train), scaler.transform(E_test)


def downstream_regression(
    E_train, y_train, E_test, y_test, *, alpha: float = 0.0, standardise: bool = True
) -> float:
    """R^2 on the test split of a linear regression trained on embeddings (Appendix C.3).

    Raw inputs (sparse matrices with thousands of columns) can be passed in place of the
    embeddings, for the linear baseline the reviewers asked for.

    Parameters
    ----------
    E_train, E_test : {array-like, sparse matrix} of shape (n_train, n_components), (n_test, ...)
        Embeddings (or raw inputs) of the training and test samples.
    y_train, y_test : array-like of shape (n_train,), (n_test,)
        Real-valued targets (IMDB ratings in the paper).
    alpha : float, default=0.0
        0 gives ordinary least squares (``LinearRegression``, the paper's "linear regression").
        ``alpha > 0`` gives ridge regression, advisable for raw inputs with more columns than
        training samples.
    standardise : bool, default=True
        Ridge only: fit on features standardised with the training split's statistics (see
        ``_standardise``); False fits the features as given. Ordinary least squares
        (``alpha=0``) predicts the same whatever the scale of the features, so there nothing is
        standardised and this choice changes nothing.

    Returns
    -------
    float
        R^2 on the test split.

    Warns
    -----
    UndefinedMetricWarning
        When ``y_test`` is constant (R^2 divides by its variance): NaN.
    """
    E_train, E_test = _check_design_matrices(E_train, E_test)
    y_train = as_vector("y_train", y_train)
    y_test = as_vector("y_test", y_test)
    check_same_n_samples("E_train", E_train, "y_train", y_train)
    check_same_n_samples("E_test", E_test, "y_test", y_test)
    alpha = check_real("alpha", alpha, low=0.0, high=np.inf)
    standardise = _check_standardise(standardise)
    if np.all(y_test == y_test[0]):
        _warn_undefined("R^2 is undefined: y_test is constant.")
        return np.nan
    if alpha == 0.0:
        model = LinearRegression().fit(E_train, y_train)
    else:
        if standardise:
            E_train, E_test = _standardise(E_train, E_test)
        model = Ridge(alpha=alpha).fit(E_train, y_train)
    return float(r2_score(y_test, model.predict(E_test)))


def _label_matrix(name: str, Y) -> tuple[np.ndarray, list[Hashable]]:
    """Labels as a 2-D 0/1 array and their names (DataFrame columns, else 0, 1, ...)."""
    names = list(Y.columns) if hasattr(Y, "columns") else None
    Y = np.asarray(Y)
    if Y.ndim == 1:
        Y = Y[:, None]
    Y = as_matrix(name, Y, allow_sparse=False)
    check_binary_values(name, Y)
    return Y, names if names is not None else list(range(Y.shape[1]))


def downstream_classification(
    E_train, Y_train, E_test, Y_test, *, C: float = 1.0, max_iter: int = 1000, standardise: bool = True
) -> dict[Hashable, float]:
    """Average precision per label of logistic regressions trained on embeddings (Appendix C.3).

    One binary L2-regularised logistic regression per label (labels such as diagnoses are not
    exclusive), fitted with L-BFGS, which accepts sparse input, so raw inputs with thousands of
    columns can be passed in place of the embeddings (the reviewers' baseline). The penalty
    depends on the scale of the features: by default they are standardised with the training
    split's statistics (see ``_standardise``), since embeddings of different losses have
    different scales; ``standardise=False`` fits them as given, as a user would fit raw 0/1
    inputs (z-scoring a rare 0/1 column multiplies it by about ``1 / sqrt(rate)``, so the penalty
    then favours rare columns over common ones).

    Parameters
    ----------
    E_train, E_test : {array-like, sparse matrix} of shape (n_train, n_components), (n_test, ...)
        Embeddings (or raw inputs) of the training and test samples.
    Y_train, Y_test : DataFrame or array-like of shape (n_train, n_labels), (n_test, n_labels)
        0/1 labels, one column per label (a 1-D array is one label). With DataFrames the
        labels are the column names, and both must have the same columns.
    C : float, default=1.0
        Inverse L2 regularisation strength (scikit-learn's default).
    max_iter : int, default=1000
        L-BFGS iterations (scikit-learn's default of 100 often stops short on raw inputs; a
        ``ConvergenceWarning`` is passed on if 1000 is not enough).
    standardise : bool, default=True
        Standardise the features with the training split's statistics before fitting (sparse
        inputs are scaled, not centred); False fits them as given.

    Returns
    -------
    dict
        Label name -> average precision on the test split (``average_precision_score``).

    Warns
    -----
    UndefinedMetricWarning
        For a label with a single class in ``Y_train`` (no model can be fitted) or no positive
        in ``Y_test`` (AP undefined): its AP is NaN.
    """
    E_train, E_test = _check_design_matrices(E_train, E_test)
    Y_train, train_names = _label_matrix("Y_train", Y_train)
    Y_test, test_names = _label_matrix("Y_test", Y_test)
    check_same_n_samples("E_train", E_train, "Y_train", Y_train)
    check_same_n_samples("E_test", E_test, "Y_test", Y_test)
    if train_names != test_names:
        raise ValueError(
            f"Y_train and Y_test must have the same labels in the same order, got "
            f"{train_names} and {test_names}."
        )
    C = check_real("C", C, low=0.0, high=np.inf, low_open=True)
    max_iter = check_int("max_iter", max_iter, 1)
    if _check_standardise(standardise):
        E_train, E_test = _standardise(E_train, E_test)
    scores: dict[Hashable, float] = {}
    for column, label in enumerate(train_names):
        y_train, y_test = Y_train[:, column], Y_test[:, column]
        if np.unique(y_train).size < 2:
            _warn_undefined(f"label {label!r} has a single class in Y_train; its AP is NaN.")
            scores[label] = np.nan
        elif not np.any(y_test == 1):
            _warn_undefined(f"label {label!r} has no positive in Y_test; its AP is NaN.")
            scores[label] = np.nan
        else:
            model = LogisticRegression(C=C, max_iter=max_iter).fit(E_train, y_train)
            scores[label] = float(
                _sklearn_average_precision(y_test, model.predict_proba(E_test)[:, 1])
            )
    return scores
