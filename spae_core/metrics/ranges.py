"""The range of values every recorded quantity can take, in one table.

A confidence interval over seeds should not claim values the quantity cannot take (an average
precision below 0, an R^2 above 1). :func:`spae_core.statistics.summarise` looks up the range of
each column it summarises here, by the column's name in the run records, and computes an interval
that stays inside it. A name that is not declared is an error rather than a silent unbounded
interval: a new metric has to be declared here (the test suite checks that every numeric column of
the committed records is).

Ranges are closed: a bound is a value the quantity can reach (a contingency score of 0, a count of
0). Settings and bookkeeping columns of the records (seeds, epochs, row counts, timings) are
declared too, so that "every numeric column has a range" can be checked without a list of
exceptions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["AT_MOST_ONE", "NON_NEGATIVE", "UNBOUNDED", "UNIT_INTERVAL", "MetricRange", "declared_metric_names",
           "metric_range"]


@dataclass(frozen=True)
class MetricRange:
    """The closed interval ``[low, high]`` a quantity lies in; either end may be infinite.

    Parameters
    ----------
    low, high : float
        ``low < high``; ``-inf`` and ``inf`` mean unbounded on that side.
    """

    low: float
    high: float

    def __post_init__(self):
        low, high = float(self.low), float(self.high)
        if math.isnan(low) or math.isnan(high) or not low < high:
            raise ValueError(f"a metric range needs low < high (infinite ends allowed), got [{self.low}, {self.high}].")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @property
    def bounded_below(self) -> bool:
        return math.isfinite(self.low)

    @property
    def bounded_above(self) -> bool:
        return math.isfinite(self.high)

    @property
    def unbounded(self) -> bool:
        """True when neither end is finite: no range restricts an interval of this quantity."""
        return not (self.bounded_below or self.bounded_above)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def difference_range(self) -> MetricRange:
        """The range of ``a - b`` for ``a`` and ``b`` in this range (``[-1, 1]`` for ``[0, 1]``)."""
        width = self.high - self.low
        return MetricRange(-width, width)

    def ratio_range(self) -> MetricRange:
        """The range of ``value / c`` for any constant ``c > 0`` (a value relative to a positive reference)."""
        return MetricRange(0.0 if self.low >= 0 else -math.inf, 0.0 if self.high <= 0 else math.inf)

    def __str__(self) -> str:
        return f"[{self.low:g}, {self.high:g}]"


UNIT_INTERVAL = MetricRange(0.0, 1.0)
NON_NEGATIVE = MetricRange(0.0, math.inf)
AT_MOST_ONE = MetricRange(-math.inf, 1.0)
UNBOUNDED = MetricRange(-math.inf, math.inf)

# Quantities of the evaluation (spae_core.evaluation, spae_core.baselines), by record column.
_METRICS = {
    # Average precision, contingency and trustworthiness are scores in [0, 1] by definition.
    "ap_macro": UNIT_INTERVAL, "ap_micro": UNIT_INTERVAL, "ap_label_mean": UNIT_INTERVAL,
    "contingency": UNIT_INTERVAL, "contingency_rate_threshold": UNIT_INTERVAL, "trustworthiness": UNIT_INTERVAL,
    # Shares of entries, units, samples or runs.
    "mass_above_threshold": UNIT_INTERVAL, "dataset_sparsity": UNIT_INTERVAL, "dbscan_noise_fraction": UNIT_INTERVAL,
    "code_near_zero": UNIT_INTERVAL, "code_dead_units": UNIT_INTERVAL, "nonzero_exact": UNIT_INTERVAL,
    "zero_kept": UNIT_INTERVAL, "fraction_above_1": UNIT_INTERVAL, "fraction_below_0": UNIT_INTERVAL,
    "stopped_early": UNIT_INTERVAL,
    # Hoyer's and Treves-Rolls' indices are 0 for an even code and 1 for a single active unit.
    "code_hoyer": UNIT_INTERVAL, "code_treves_rolls": UNIT_INTERVAL,
    # Calinski-Harabasz scores are ratios of dispersions; "_pct" are those as % of the best mean.
    "ch_dbscan": NON_NEGATIVE, "ch_sparsity": NON_NEGATIVE, "ch_dbscan_pct": NON_NEGATIVE,
    "ch_sparsity_pct": NON_NEGATIVE,
    # Counts.
    "dbscan_clusters": NON_NEGATIVE, "sparsity_groups": NON_NEGATIVE, "code_silent": NON_NEGATIVE,
    "contingency_pairs": NON_NEGATIVE, "ap_features_skipped": NON_NEGATIVE, "n_nonzero_test": NON_NEGATIVE,
    "n_zero_test": NON_NEGATIVE,
    # Distances and errors.
    "dbscan_eps": NON_NEGATIVE, "mae_nonzero": NON_NEGATIVE, "deviance_nonzero": NON_NEGATIVE,
    # Every loss is a squared error, a cross-entropy, a Dice loss or a full negative
    # log-likelihood of a discrete distribution, hence >= 0; so is the OVR penalty.
    "best_val_loss": NON_NEGATIVE, "train_loss": NON_NEGATIVE, "val_loss": NON_NEGATIVE,
    "train_ovr_penalty": NON_NEGATIVE,
    # Figure 3's histogram of reconstructed probabilities.
    "density": NON_NEGATIVE, "bin_left": UNIT_INTERVAL, "bin_right": UNIT_INTERVAL, "threshold": UNIT_INTERVAL,
    # Raw scores of the linear baselines (EASE) are not probabilities.
    "reconstruction_min": UNBOUNDED, "reconstruction_max": UNBOUNDED,
}

# Settings and bookkeeping of a run or a baseline: all non-negative.
_SETTINGS = dict.fromkeys(
    ["seed", "split_seed", "epoch", "seconds", "max_rows", "beta", "learning_rate", "batch_size", "epochs", "max_epochs", "best_epoch",
     "patience", "latent_dim", "ovr_lambda", "ovr_activity", "torch_threads", "metrics_version", "baselines_version",
     "random_state", "ease_lambda", "n_components", "n_features", "n_samples", "n_train", "n_val", "n_test",
     "run_seconds", "train_seconds"],
    NON_NEGATIVE)

# Families of columns named after a dataset's labels or targets, or after a DBSCAN eps multiple.
_FAMILIES = [
    (re.compile(r"ap_label_.+"), UNIT_INTERVAL),           # downstream AP of one label
    (re.compile(r"r2_.+"), AT_MOST_ONE),                   # downstream R^2 of one target: 1 at best
    (re.compile(r"ch_dbscan_eps_x[0-9.]+"), NON_NEGATIVE),
    (re.compile(r"dbscan_clusters_eps_x[0-9.]+"), NON_NEGATIVE),
    (re.compile(r"seconds_.+"), NON_NEGATIVE),             # timings
]


def metric_range(name: str) -> MetricRange:
    """The declared range of the record column ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not declared: an undeclared quantity would silently get an unbounded
        interval, so it has to be added to :mod:`spae_core.metrics.ranges` (as
        :data:`UNBOUNDED` if it really is).
    """
    if not isinstance(name, str):
        raise TypeError(f"a metric name is a str, got {type(name).__name__} {name!r}.")
    if name in _METRICS:
        return _METRICS[name]
    if name in _SETTINGS:
        return _SETTINGS[name]
    for pattern, declared in _FAMILIES:
        if pattern.fullmatch(name):
            return declared
    raise KeyError(f"no range is declared for {name!r}; declare it in spae_core/metrics/ranges.py "
                   "(UNIT_INTERVAL, NON_NEGATIVE, AT_MOST_ONE, or UNBOUNDED if it really is) so that its intervals "
                   "respect it.")


def declared_metric_names() -> list[str]:
    """The names declared one by one (the families of :func:`metric_range` match patterns instead)."""
    return sorted({*_METRICS, *_SETTINGS})
