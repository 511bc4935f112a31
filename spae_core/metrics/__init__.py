"""Evaluation metrics of the replication (Section 4.2 and Appendix C of the paper).

Every metric is a pure function of arrays (dense NumPy arrays or SciPy sparse matrices) that
returns numbers. Inputs are validated at the boundary by :mod:`spae_core.validation`: malformed
input raises a ``ValueError`` that says what is wrong, where, and how to fix it; input on which a
metric is merely undefined (no positive label, a single cluster, ...) gives NaN and an
:class:`UndefinedMetricWarning`. Nothing is silently clipped or cast.

One module per family of metrics, all imported from here:

========================  ==========================================================================
``ranking``               :func:`average_precision` (per feature, macro or micro)
``contingency``           :func:`contingency_score`, the pairwise contingency score (Eq. 9)
``trustworthiness``       :func:`trustworthiness` of an embedding, exact, NumPy or torch backend
``clustering``            :func:`calinski_harabasz_dbscan`, :func:`calinski_harabasz_sparsity`
``downstream``            :func:`downstream_regression`, :func:`downstream_classification`
``distribution``          :func:`reconstruction_distribution` (the histogram of Figure 3)
``counts``                :func:`count_reconstruction` of count data
``code_sparsity``         :func:`code_sparsity` of the codes (embeddings)
``ranges``                :func:`metric_range`, the range of values of every recorded quantity
``_common``               what they share: the result base, the warning, memory and density limits
========================  ==========================================================================

The paper leaves several choices open. Each one is a parameter with a stated default here, and
the docstring of each function explains the choice:

* Reconstructions are probabilities in [0, 1] (apply a sigmoid to logits first). They are
  binarised as ``P > threshold`` (strict, as in the paper's "x_hat > t = 0.5").
* Average precision is scikit-learn's step-function AP (no interpolation), per feature, averaged
  over the features that have at least one positive.
* Trustworthiness ranks tied input-space distances by (distance, row index), which reproduces
  scikit-learn with a stable sort exactly.
* DBSCAN's ``eps`` defaults to the knee of the sorted k-distance curve; sparsity groups are ten
  equal-width bins over the observed range of per-sample sparsity.
* Downstream models: ordinary least squares (R^2) and L2-regularised logistic regression with
  ``C=1`` on standardised features (average precision per label).
* Count reconstructions are rounded half up and scored separately on the non-zero and the zero
  entries (:func:`count_reconstruction`); code sparsity is Hoyer's index by default
  (:func:`code_sparsity`).

This package is of the bottom layer of ``spae_core``: it imports nothing else from the package
but :mod:`spae_core.validation`.
"""

from sklearn.exceptions import UndefinedMetricWarning

from .clustering import (
    DBSCANClusteringResult,
    SparsityGroupingResult,
    calinski_harabasz_dbscan,
    calinski_harabasz_sparsity,
)
from .code_sparsity import CodeSparsityResult, code_sparsity
from .contingency import ContingencyResult, contingency_score
from .counts import CountReconstructionResult, count_reconstruction
from .distribution import ReconstructionDistribution, reconstruction_distribution
from .downstream import downstream_classification, downstream_regression
from .ranking import AveragePrecisionResult, average_precision
from .ranges import AT_MOST_ONE, NON_NEGATIVE, UNBOUNDED, UNIT_INTERVAL, MetricRange, metric_range
from .trustworthiness import trustworthiness

__all__ = [
    "AT_MOST_ONE",
    "AveragePrecisionResult",
    "CodeSparsityResult",
    "ContingencyResult",
    "CountReconstructionResult",
    "DBSCANClusteringResult",
    "MetricRange",
    "NON_NEGATIVE",
    "ReconstructionDistribution",
    "SparsityGroupingResult",
    "UNBOUNDED",
    "UNIT_INTERVAL",
    "UndefinedMetricWarning",
    "average_precision",
    "calinski_harabasz_dbscan",
    "calinski_harabasz_sparsity",
    "code_sparsity",
    "contingency_score",
    "count_reconstruction",
    "downstream_classification",
    "downstream_regression",
    "metric_range",
    "reconstruction_distribution",
    "trustworthiness",
]
