"""Claims as tests on run records: the verdict rules, on hand-made records with known answers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spae_core.claims import AWARE, STANDARD, Claim, claim_units, claim_verdicts, figure6_claim, highest_contingency_claim
from spae_core.statistics import paired_group_difference
from spae_core.tables import FIGURE6_TABLE_COLUMNS, figure6_table, untestable_cells


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


def _with_few_pairs(records, dataset, pairs):
    """``records`` where, on ``dataset``, only ``pairs`` seeds have values of both families.

    The aware family keeps seeds ``0 .. pairs - 1`` and the next two; the standard family the
    first ``pairs`` and the two after those (with ``pairs = 0``: disjoint seeds, no pair at all).
    """
    records = records.copy()
    seeds = records["seed"]
    on = records["dataset"] == dataset
    aware_kept = seeds.lt(pairs) | seeds.isin([pairs, pairs + 1])
    standard_kept = seeds.lt(pairs) | seeds.isin([pairs + 2, pairs + 3])
    records.loc[on & records["loss"].isin(AWARE) & ~aware_kept, "contingency"] = np.nan
    records.loc[on & records["loss"].isin(STANDARD) & ~standard_kept, "contingency"] = np.nan
    return records


@pytest.mark.parametrize("pairs", [0, 1])
def test_units_with_fewer_than_two_pairs_are_untestable_and_never_counted(pairs):
    # d1: aware ahead by 0.1 against noise 0.001 (a clear "ahead"); d2 and d3: fewer than two
    # seeds pair the families, so no test is possible there. The rule leaves d2 and d3 out of
    # every count: 1 testable unit, ahead in it.
    records = _records({"d1": 0.1, "d2": 0.1, "d3": 0.1}, noise=0.001)
    records = _with_few_pairs(_with_few_pairs(records, "d2", pairs), "d3", pairs)
    units = claim_units(records, CLAIM).set_index("dataset")
    assert units.loc[["d2", "d3"], "n_pairs"].tolist() == [pairs, pairs]
    assert units["outcome"].tolist() == ["ahead", "untestable", "untestable"]
    assert units.loc[["d2", "d3"], "p_holm"].isna().all()
    # Holm's family is the testable units only: d1's p-value is not multiplied by 3.
    assert units.loc["d1", "p_holm"] == pytest.approx(units.loc["d1", "p"])
    # Plain claim: ahead in 1 of 1 testable unit (with the untestable ones counted it was 1 of 3,
    # inconclusive). A consistent claim: ahead in every testable unit, so supported too.
    strict = Claim("c", "test", "consistently", ("contingency",), AWARE, STANDARD, "here", consistent=True)
    for claim in (CLAIM, strict):
        row = claim_verdicts(records, claims=[claim]).iloc[0]
        assert (row["verdict"], row["ahead"], row["behind"], row["units"], row["untestable"]) == (
            "supported", 1, 0, 1, 2), row["reason"]
        assert "2 untestable" in row["reason"] and "of 1 " in row["reason"]


def test_a_claim_with_only_untestable_units_is_untestable():
    # Every unit has one pair, with a large lead: the only "evidence" cannot be tested, so the
    # claim is neither supported nor inconclusive but untestable, with no unit counted.
    records = _records({"d1": 0.3, "d2": 0.3}, noise=0.001)
    records = _with_few_pairs(_with_few_pairs(records, "d1", 1), "d2", 1)
    row = claim_verdicts(records, claims=[CLAIM]).iloc[0]
    assert (row["verdict"], row["ahead"], row["behind"], row["units"], row["untestable"]) == ("untestable", 0, 0, 0, 2)


def _figure6_records(seeds_defined):
    """Six losses on one IMDB-like dataset, CH Score (Sparsity) (the paper's "All") and AP (paper: BCE).

    Each loss's values are defined on the seeds ``seeds_defined`` only; BCE leads by 0.5.
    """
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(3):
        for loss in ("mse", "bce", "wmse", "wbce", "focal", "dice"):
            value = 0.3 + 0.5 * (loss == "bce") + 0.01 * rng.standard_normal() if seed in seeds_defined else np.nan
            rows.append({"dataset": "imdb_like", "paper_counterpart": "IMDB_1.0", "loss": loss, "seed": seed,
                         "ap_macro": value, "ch_sparsity": value})
    return pd.DataFrame(rows)


def test_figure6_cells_with_one_seed_are_untestable():
    # One seed: no loss can be tested against another. The old rule read such a cell as "tied"
    # (AP, paper's winner BCE among the untested "ties") or "agrees" (the paper's "All": every
    # loss tied for lack of a test); the rule makes both untestable.
    table = figure6_table(_figure6_records({0})).set_index("metric")
    assert table.loc["AP", "verdict"] == "untestable" and table.loc["CH Score (Sparsity)", "verdict"] == "untestable"
    row = figure6_claim(table.reset_index())
    assert (row["verdict"], row["units"], row["untestable"]) == ("untestable", 0, 2)
    assert untestable_cells(table.reset_index()) == ("untestable (fewer than 2 paired seeds), not counted: "
                                                     "imdb_like / AP, imdb_like / CH Score (Sparsity)")
    # Three seeds: BCE, 0.5 ahead against noise 0.01, is separated: AP agrees, the "All" cell differs.
    table = figure6_table(_figure6_records({0, 1, 2})).set_index("metric")
    assert table.loc["AP", "verdict"] == "agrees" and table.loc["CH Score (Sparsity)", "verdict"] == "differs"
    assert untestable_cells(table.reset_index()).endswith("not counted: none")
    assert list(figure6_table(_figure6_records({0, 1, 2})).columns) == FIGURE6_TABLE_COLUMNS  # reading order: the verdict before the detail


def test_figure6_claim_counts_cells():
    table = pd.DataFrame({"dataset": ["a", "b", "c", "d"], "metric": ["AP"] * 4, "ours_best": ["mse", "bce", "focal", "dice"],
                          "paper_best": ["mse", "mse", "mse", "—"], "verdict": ["agrees", "tied", "differs", "not in paper"]})
    row = figure6_claim(table)
    assert (row["ahead"], row["behind"], row["units"]) == (1, 1, 3) and row["verdict"] == "not supported"
    row = figure6_claim(table.assign(verdict=["agrees", "agrees", "tied", "not in paper"]))
    assert row["verdict"] == "supported"
    # An untestable cell is listed apart: not a unit, not behind.
    row = figure6_claim(table.assign(verdict=["agrees", "untestable", "differs", "not in paper"]))
    assert (row["ahead"], row["behind"], row["units"], row["untestable"]) == (1, 1, 2, 1)
    assert "1 untestable" in row["reason"]


def test_highest_contingency_claim():
    records = _records({"imdb_like": 0.0, "other": 0.0}, noise=0.001)
    records["paper_counterpart"] = records["dataset"].map({"imdb_like": "IMDB_1.0", "other": "Netflix_0.97"})
    records.loc[records["dataset"] == "imdb_like", "contingency"] += 0.2
    assert highest_contingency_claim(records)["verdict"] == "supported"
    # 0.3 below the other dataset: its seeds span 0.2, so the two intervals are clearly apart.
    records.loc[records["dataset"] == "imdb_like", "contingency"] -= 0.5
    row = highest_contingency_claim(records)
    assert row["verdict"] == "not supported" and row["behind"] == 6
    # Without an IMDB stand-in in the runs there is nothing to test: untestable, no unit counted.
    row = highest_contingency_claim(records.assign(paper_counterpart="Netflix_0.97"))
    assert (row["verdict"], row["units"]) == ("untestable", 0) and "no stand-in" in row["reason"]
