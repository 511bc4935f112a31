"""Claims as tests on run records: the verdict rules, on hand-made records with known answers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spae_core.claims import AWARE, STANDARD, Claim, claim_units, claim_verdicts, figure6_claim, highest_contingency_claim
from spae_core.statistics import paired_group_difference


def _records(lead_by_dataset, metric="contingency", seeds=5, noise=0.01):
    """Aware losses = standard ones + lead (per dataset), with independent seed noise."""
    rng = np.random.default_rng(0)
    rows = []
    for dataset, lead in lead_by_dataset.items():
        for seed in range(seeds):
            base = 0.5 + 0.05 * seed
            for loss in STANDARD + AWARE:
                shift = lead if loss in AWARE else 0.0
                rows.append({"dataset": dataset, "loss": loss, "seed": seed, "paper_counterpart": dataset,
                             metric: base + shift + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


CLAIM = Claim("c", "test", "aware beats standard", ("contingency",), AWARE, STANDARD, "here")


def test_paired_group_difference_uses_each_familys_best_member():
    records = _records({"d": 0.1})
    records.loc[records["loss"] == "focal", "contingency"] += 0.05  # focal is the aware family's best
    out = paired_group_difference(records, "contingency", AWARE, STANDARD).iloc[0]
    wide = records.pivot(index="seed", columns="loss", values="contingency")
    best_b = wide[list(STANDARD)].mean().idxmax()
    d = wide["focal"] - wide[best_b]
    assert out["best_a"] == "focal" and out["best_b"] == best_b
    assert out["difference"] == pytest.approx(d.mean())
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert (out["ci_low"], out["ci_high"]) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert out["p"] == pytest.approx(stats.ttest_rel(wide["focal"], wide[best_b]).pvalue)
    with pytest.raises(ValueError, match="overlap"):
        paired_group_difference(records, "contingency", AWARE, ("focal",))


@pytest.mark.parametrize("leads, verdict", [
    ({"d1": 0.1, "d2": 0.1, "d3": 0.1}, "supported"),
    ({"d1": 0.1, "d2": 0.1, "d3": 0.0}, "supported"),        # ahead in 2 of 3, behind in none
    ({"d1": 0.1, "d2": 0.0, "d3": 0.0}, "inconclusive"),     # ahead in 1 of 3
    ({"d1": 0.1, "d2": -0.1, "d3": 0.0}, "not supported"),   # behind as often as ahead
    ({"d1": 0.0, "d2": 0.0, "d3": 0.0}, "inconclusive"),     # nothing separates: no evidence either way
    ({"d1": -0.1, "d2": -0.1, "d3": -0.1}, "not supported"),
])
def test_verdict_rules(leads, verdict):
    # Noise 0.001 against leads of 0.1: every non-zero lead is significant after Holm, and a zero
    # lead is a difference of the best of 4 aware noisy copies minus the best of 2: tiny.
    records = _records(leads, noise=0.001)
    row = claim_verdicts(records, claims=[CLAIM]).iloc[0]
    units = claim_units(records, CLAIM).set_index("dataset")
    for dataset, lead in leads.items():
        if lead > 0:
            assert units.loc[dataset, "outcome"] == "ahead"
        if lead < 0:
            assert units.loc[dataset, "outcome"] == "behind"
    assert row["verdict"] == verdict, row["reason"]


def test_consistent_claims_need_every_unit():
    # Ahead by 0.1 against noise 0.001 on d1 and d2; on d3 every loss gives the same value seed by
    # seed, so the paired differences are exactly 0 there (no difference, p = 1). Ahead in 2 of 3
    # units and behind in none: enough for a plain claim, not for one the paper calls consistent.
    records = pd.concat([_records({"d1": 0.1, "d2": 0.1}, noise=0.001), _records({"d3": 0.0}, noise=0.0)])
    strict = Claim("c", "test", "consistently", ("contingency",), AWARE, STANDARD, "here", consistent=True)
    assert claim_verdicts(records, claims=[strict]).iloc[0]["verdict"] == "inconclusive"
    assert claim_verdicts(records, claims=[CLAIM]).iloc[0]["verdict"] == "supported"


def test_holm_is_over_the_units_of_a_claim():
    records = _records({"d1": 0.1, "d2": 0.1}, noise=0.01)
    units = claim_units(records, CLAIM)
    ranks = np.argsort(units["p"].to_numpy())
    m = len(units)
    first = units["p"].to_numpy()[ranks[0]] * m
    assert units["p_holm"].to_numpy()[ranks[0]] == pytest.approx(min(1.0, first))


def test_figure6_claim_counts_cells():
    table = pd.DataFrame({"dataset": ["a", "b", "c", "d"], "metric": ["AP"] * 4, "ours_best": ["mse", "bce", "focal", "dice"],
                          "paper_best": ["MSE", "MSE", "MSE", "—"], "verdict": ["agrees", "tied", "differs", "not in paper"]})
    row = figure6_claim(table)
    assert (row["ahead"], row["behind"], row["units"]) == (1, 1, 3) and row["verdict"] == "not supported"
    row = figure6_claim(table.assign(verdict=["agrees", "agrees", "tied", "not in paper"]))
    assert row["verdict"] == "supported"


def test_highest_contingency_claim():
    records = _records({"imdb_like": 0.0, "other": 0.0}, noise=0.001)
    records["paper_counterpart"] = records["dataset"].map({"imdb_like": "IMDB_1.0", "other": "Netflix_0.97"})
    records.loc[records["dataset"] == "imdb_like", "contingency"] += 0.2
    assert highest_contingency_claim(records)["verdict"] == "supported"
    # 0.3 below the other dataset: its seeds span 0.2, so the two intervals are clearly apart.
    records.loc[records["dataset"] == "imdb_like", "contingency"] -= 0.5
    row = highest_contingency_claim(records)
    assert row["verdict"] == "not supported" and row["behind"] == 6
