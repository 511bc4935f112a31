"""The paper's claims, each read as a test on our stored runs, with a verdict.

A claim of the form "family A beats family B on these metrics" is tested on every (dataset,
metric) *unit* where both families have values: A's best member against B's best member, seed
by seed (:func:`spae_core.statistics.paired_group_difference`), two-sided paired t-tests with
Holm's correction over the claim's testable units. A unit with fewer than two seed pairs, or a
NaN difference or p-value, is *untestable* (:func:`spae_core.verdicts.is_untestable`): it is
listed apart and counts nowhere, neither in Holm's family nor in any count or denominator. A
testable unit is *ahead* when the adjusted p-value is below ``alpha`` and A's mean is higher,
*behind* when it is below ``alpha`` and A's is lower, *no difference* otherwise. A claim is

- **supported** when A is ahead in at least half of the units and behind in none (for a claim
  the paper states as "consistent", ahead in every unit);
- **not supported** when A is behind in at least one unit and in at least as many as it is ahead
  (the runs contradict the claim);
- **inconclusive** otherwise: some support but not enough, or no unit where the seeds separate
  the families at all (no evidence either way);
- **untestable** when it has no testable unit.

The claims' wording is the paper's (quoted, typed from it in :mod:`spae_core.paper`); the rules
above are :mod:`spae_core.verdicts`; everything else is computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .paper import AWARE, CLAIMS, FIGURE6_CLAIM, IMDB_CONTINGENCY_CLAIM, PAPER_LOSSES, STANDARD, Claim
from .statistics import holm, paired_group_difference
from .tables import figure6_table
from .verdicts import UNTESTABLE, claim_verdict, figure6_as_claim, is_untestable, unit_outcome

# AWARE, STANDARD, CLAIMS and Claim live in spae_core.paper (the paper's words); they stay importable from here.
__all__ = ["AWARE", "CLAIMS", "STANDARD", "Claim", "all_claim_units", "all_claim_verdicts", "claim_units", "claim_verdicts",
           "example_unit", "figure6_claim", "highest_contingency_claim"]


def claim_units(records: pd.DataFrame, claim: Claim, alpha: float = 0.05) -> pd.DataFrame:
    """The (dataset, metric) units of one claim with their paired differences and outcomes.

    Returns
    -------
    DataFrame
        ``dataset``, ``metric``, ``best_a``, ``best_b``, ``difference``, ``ci_low``, ``ci_high``,
        ``p``, ``n_pairs``, ``p_holm`` (over the claim's testable units; NaN for the others),
        ``outcome`` (``ahead`` / ``behind`` / ``no difference`` / ``untestable``).
    """
    frames = [paired_group_difference(records, metric, claim.group_a, claim.group_b).assign(metric=metric)
              for metric in claim.metrics if metric in records.columns]
    units = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["dataset", "best_a", "best_b", "difference", "ci_low", "ci_high", "p", "n_pairs", "metric"])
    untestable = is_untestable(units["n_pairs"], units["p"], units["difference"])
    # Untestable units are no member of Holm's family: their p-values (if any) are set aside.
    units["p_holm"] = holm(np.where(untestable, np.nan, units["p"].to_numpy(dtype=float))) if len(units) else []
    units["outcome"] = unit_outcome(units["difference"], units["p_holm"], alpha, units["n_pairs"])
    return units[["dataset", "metric", "best_a", "best_b", "difference", "ci_low", "ci_high", "p", "n_pairs",
                  "p_holm", "outcome"]]


def _counts(units: pd.DataFrame) -> tuple[int, int, int, int]:
    """How many of a claim's units are ahead, behind, testable and untestable."""
    counts = units["outcome"].value_counts()
    untestable = int(counts.get(UNTESTABLE, 0))
    return int(counts.get("ahead", 0)), int(counts.get("behind", 0)), len(units) - untestable, untestable


def _untestable_note(untestable: int) -> str:
    return f"; {untestable} untestable (fewer than 2 seed pairs), not counted" if untestable else ""


def _reason(units: pd.DataFrame, claim: Claim) -> str:
    ahead, behind, testable, untestable = _counts(units)
    if not testable:
        return f"no testable dataset x metric unit{_untestable_note(untestable)}"
    text = f"{'/'.join(claim.group_a).upper()} ahead in {ahead}, behind in {behind}, not separable in " \
           f"{testable - ahead - behind} of {testable} testable dataset x metric units{_untestable_note(untestable)}"
    row = example_unit(units)
    if row is not None:
        text += (f"; e.g. {row['outcome']} on {row['dataset']} {row['metric']}: {row['best_a']} - {row['best_b']} = "
                 f"{row['difference']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]")
    return text


def example_unit(units: pd.DataFrame, outcomes=("behind", "ahead")) -> pd.Series | None:
    """The unit that best shows a claim's evidence: of the first of ``outcomes`` any unit has, the clearest one.

    Clearest: the largest ``|difference|`` relative to its interval's width (the first unit where
    no interval has a width). None when no unit has any of ``outcomes``; untestable units are
    never an example.
    """
    for outcome in outcomes:
        rows = units[units["outcome"] == outcome]
        if len(rows):
            width = rows["ci_high"].sub(rows["ci_low"])
            return rows.loc[(rows["difference"] / width.replace(0, np.nan)).abs().idxmax() if width.gt(0).any()
                            else rows.index[0]]
    return None


def claim_verdicts(records: pd.DataFrame, claims=CLAIMS, alpha: float = 0.05) -> pd.DataFrame:
    """One row per claim: the paper's words, our verdict, the evidence and a one-line reason.

    Parameters
    ----------
    records : DataFrame
        Run records with ``dataset``, ``loss``, ``seed`` and the claims' metric columns.
    claims : sequence of Claim, default=:data:`CLAIMS`
    alpha : float, default=0.05
        Family-wise error rate over each claim's units.

    Returns
    -------
    DataFrame
        ``claim``, ``source``, ``paper's words``, ``verdict``, ``ahead``, ``behind``,
        ``units`` (testable), ``untestable``, ``evidence``, ``reason``.
    """
    rows = []
    for claim in claims:
        units = claim_units(records, claim, alpha)
        ahead, behind, testable, untestable = _counts(units)
        rows.append(_row(claim, claim_verdict(ahead, behind, testable, claim.consistent), ahead, behind, testable,
                         _reason(units, claim) if len(units) else "no unit where both families have values",
                         untestable=untestable))
    return pd.DataFrame(rows)


def _row(claim: Claim, verdict: str, ahead: int, behind: int, units: int, reason: str, evidence: str | None = None,
         untestable: int = 0) -> dict:
    """One row of the claims table: the paper's words of ``claim``, our verdict and its counts."""
    return {"claim": claim.key, "source": claim.source, "paper's words": claim.text, "verdict": verdict, "ahead": ahead,
            "behind": behind, "units": units, "untestable": untestable,
            "evidence": claim.evidence if evidence is None else evidence, "reason": reason}


def figure6_claim(figure6: pd.DataFrame) -> dict:
    """Figure 6 as a claim: each cell names the top-performing loss.

    ``figure6`` is :func:`spae_core.tables.figure6_table`. Cells with a paper winner we ran are
    counted, untestable cells listed apart; *ahead* is the number of cells that agree (the
    paper's winner is our separated best), *behind* the number that differ (our best beats the
    paper's winner significantly). Supported
    when no cell differs and at least half agree; not supported when at least one cell differs
    and as many differ as agree; inconclusive otherwise (:func:`spae_core.verdicts.figure6_as_claim`).
    """
    rule = figure6_as_claim(figure6["verdict"])
    differing = figure6[figure6["verdict"] == "differs"]
    reason = (f"{rule['agrees']} cells agree, {rule['tied']} are tied (our seeds cannot single out a best), "
              f"{rule['differs']} differ")
    if rule["untestable"]:
        reason += f"; {rule['untestable']} untestable (fewer than 2 seed pairs), not counted"
    if len(differing):
        reason += "; e.g. " + ", ".join(f"{d} {m}: ours {b}, paper's {p}" for d, m, b, p in
                                        differing[["dataset", "metric", "ours_best", "paper_best"]].head(2).to_numpy())
    return _row(FIGURE6_CLAIM, rule["verdict"], rule["agrees"], rule["differs"], rule["units"], reason,
                untestable=rule["untestable"])


def highest_contingency_claim(records: pd.DataFrame, counterpart: str = "IMDB_1.0") -> dict:
    """"all models achieve their highest contingency scores on the IMDB dataset" (Sec. 4.3.1).

    Per loss, the dataset with the highest mean contingency over seeds is compared with our
    stand-in for ``counterpart``; *ahead* counts the losses for which it is, *behind* those for
    which another dataset's mean is higher beyond both 95% intervals.
    """
    from .statistics import summarise

    claim = IMDB_CONTINGENCY_CLAIM
    standins = records.loc[records["paper_counterpart"] == counterpart, "dataset"].unique()
    if len(standins) == 0 or "contingency" not in records.columns:
        return _row(claim, UNTESTABLE, 0, 0, 0, f"no stand-in for {counterpart} in these runs", evidence="Section 3")
    summary = summarise(records, ["contingency"])
    ahead = behind = 0
    examples = []
    for loss, group in summary.groupby("loss", sort=False):
        group = group.dropna(subset=["mean"])
        top = group.loc[group["mean"].idxmax()]
        imdb = group[group["dataset"].isin(standins)]
        if top["dataset"] in standins:
            ahead += 1
        elif len(imdb) and (top["ci_low"] > imdb["ci_high"]).all():
            behind += 1
            examples.append(f"{loss}: {top['dataset']} {top['mean']:.3f} vs {imdb['dataset'].iloc[0]} {imdb['mean'].iloc[0]:.3f}")
    n = summary["loss"].nunique()
    reason = f"highest on the IMDB stand-in for {ahead} of {n} losses, clearly higher elsewhere for {behind}"
    if examples:
        reason += "; e.g. " + examples[0]
    return _row(claim, claim_verdict(ahead, behind, n, claim.consistent), ahead, behind, n, reason)


def all_claim_verdicts(records: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Every claim's verdict on the paper's six losses: :data:`CLAIMS`, the IMDB contingency claim and Figure 6.

    Runs of other losses (e.g. the Mult-DAE likelihood) in ``records`` are left out, since the
    claims are about the paper's losses. Columns as in :func:`claim_verdicts`.
    """
    paper_runs = records[records["loss"].isin(PAPER_LOSSES)]
    return pd.concat([
        claim_verdicts(paper_runs, alpha=alpha),
        pd.DataFrame([highest_contingency_claim(paper_runs), figure6_claim(figure6_table(paper_runs, alpha=alpha))]),
    ], ignore_index=True)


def all_claim_units(records: pd.DataFrame, claims=CLAIMS, alpha: float = 0.05) -> pd.DataFrame:
    """The units of every claim of ``claims`` (:func:`claim_units`) on the paper's six losses, with a ``claim`` column.

    Runs of other losses in ``records`` are left out, as in :func:`all_claim_verdicts`.
    """
    paper_runs = records[records["loss"].isin(STANDARD + AWARE)]
    return pd.concat([claim_units(paper_runs, claim, alpha=alpha).assign(claim=claim.key) for claim in claims],
                     ignore_index=True)
