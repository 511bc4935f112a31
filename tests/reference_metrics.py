"""Straightforward reference implementations of the pairwise contingency score, one pair at a time.

Shared by the tests (expected values) and ``benchmarks/bench_metrics.py`` (the speed baseline), so
that both compare the fast implementation with the same independent computation.
"""

import itertools

import numpy as np


def per_pair_contingency(R, P, threshold=0.5):
    """Eq. 9 for every pair, one pair at a time, straight from the definition."""
    R = np.asarray(R)
    S = (np.asarray(P) > threshold).astype(int)
    d = R.shape[1]
    scores = np.full((d, d), np.nan)
    for j, k in itertools.combinations(range(d), 2):
        rows = (R[:, j] != 0) | (R[:, k] != 0)
        if not rows.any():
            continue
        distance = 0.0
        for a, b in itertools.product((0, 1), repeat=2):
            real = np.mean((R[rows, j] == a) & (R[rows, k] == b))
            synthetic = np.mean((S[rows, j] == a) & (S[rows, k] == b))
            distance += abs(synthetic - real)
        scores[j, k] = scores[k, j] = 1.0 - 0.5 * distance
    return scores


def sdmetrics_contingency_similarity(real, synthetic):
    """SDMetrics' ContingencySimilarity for two columns (column_pairs/statistical/...):
    groupby-size tables normalised by their own row counts, aligned with zeros filled,
    ``1 - 0.5 * sum |p_real - p_synthetic|``."""
    columns = list(real.columns)
    contingency_real = real.groupby(columns, dropna=False).size() / len(real)
    contingency_synthetic = synthetic.groupby(columns, dropna=False).size() / len(synthetic)
    combined = contingency_real.index.union(contingency_synthetic.index)
    difference = (
        contingency_synthetic.reindex(combined, fill_value=0)
        - contingency_real.reindex(combined, fill_value=0)
    ).abs()
    return 1 - 0.5 * difference.sum()


def per_pair_sdmetrics_style(R, P, threshold=0.5):
    """Eq. 9 one pair at a time the way SDMetrics computes a pair, on the restricted rows."""
    import pandas as pd

    S = (np.asarray(P) > threshold).astype(np.int8)
    R = np.asarray(R)
    scores = np.full((R.shape[1], R.shape[1]), np.nan)
    for j, k in itertools.combinations(range(R.shape[1]), 2):
        rows = (R[:, j] != 0) | (R[:, k] != 0)
        if rows.any():
            real = pd.DataFrame({"a": R[rows, j], "b": R[rows, k]})
            synthetic = pd.DataFrame({"a": S[rows, j], "b": S[rows, k]})
            scores[j, k] = scores[k, j] = sdmetrics_contingency_similarity(real, synthetic)
    return scores
