"""The verdict rules, one place each: untestable units, a Figure 6 cell, a claim, Figure 6 as a claim, and "same or changed".

One rule runs through all of them: a unit (a claim's dataset x metric unit, or a Figure 6 cell)
that cannot be tested (:func:`is_untestable`) is *untestable*, listed apart, and never counts
toward a verdict or a count, denominators included.

Pure functions of counts and labels; the tests and statistics that feed them live in
:mod:`spae_core.statistics`, the tables that show them in :mod:`spae_core.tables`,
:mod:`spae_core.claims`, :mod:`spae_core.reproduction` and :mod:`spae_core.kernel_checks`.
This module imports nothing of spae's.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["FIGURE6_COMPARED", "UNDEFINED", "UNTESTABLE", "claim_verdict", "figure6_as_claim", "figure6_cell_verdict",
           "figure6_change_key", "is_untestable", "unit_outcome"]

#: Figure 6 verdicts of cells where the paper's winner was run and is defined: the cells that
#: count as units when Figure 6 is read as a claim.
FIGURE6_COMPARED = ("agrees", "tied", "differs")

#: The key (and text) of a Figure 6 cell that is missing or undefined on one side.
UNDEFINED = "undefined"

#: The outcome of a unit, and the verdict of a Figure 6 cell or a claim, that no test can decide.
UNTESTABLE = "untestable"


def is_untestable(n_pairs, p, difference=None) -> np.ndarray:
    """Whether a unit cannot be tested: fewer than two seed pairs (none included), or a NaN p-value or difference.

    The one rule for claim units and Figure 6 cells. A paired t-test needs two pairs; with one,
    the "interval" ``0 [0, 0]`` and any p-value are artefacts, not evidence. Element-wise.

    Parameters
    ----------
    n_pairs : int or array-like
        Seeds where both sides of the comparison are defined.
    p : float or array-like
        The comparison's p-value (raw or adjusted; NaN where no test was possible).
    difference : float or array-like, optional
        The compared difference; omitted where a unit has no single difference (a Figure 6 cell).

    Returns
    -------
    ndarray of bool
    """
    n_pairs, p = np.asarray(n_pairs, dtype=float), np.asarray(p, dtype=float)
    untestable = ~(n_pairs >= 2) | np.isnan(p)
    if difference is not None:
        untestable |= np.isnan(np.asarray(difference, dtype=float))
    return untestable


def figure6_cell_verdict(paper: set | None, best, tied, all_losses: set, separated: bool, defined: set,
                         testable: bool = True) -> str:
    """The verdict of one Figure 6 cell: our best loss against the paper's winner(s).

    Parameters
    ----------
    paper : set of str or None
        The paper's winners of the cell (``{"all"}``: every loss tied); None where the paper
        has no cell for this metric.
    best : str or None
        Our loss with the highest mean over seeds; None where the metric is undefined for every run.
    tied : sequence of str
        The losses the seed-paired tests do not separate from ``best``.
    all_losses : set of str
        The losses compared.
    separated : bool
        Whether ``best`` is separated from every other loss.
    defined : set of str
        The losses with at least one defined value of the metric.
    testable : bool, default=True
        False where ``best`` cannot be tested against the runner-up (:func:`is_untestable` of
        that comparison): its "ties" are then the absence of a test, not a finding.

    Returns
    -------
    str
        In this order of precedence: *not in paper* (no paper cell); *undefined here* (no best);
        *paper's winner not run* (no winner among ``all_losses``); *paper's winner undefined
        here* (no winner among ``defined``); *untestable* (not ``testable``); for the paper's
        "All", *agrees* when every loss is ``best`` or tied with it, else *differs*; *agrees*
        when ``best`` is a paper winner and separated, *tied* when a paper winner is ``best`` or
        tied with it but not separated; *differs* otherwise (our best beats every paper winner
        significantly). Only the last three count when Figure 6 is read as a claim.
    """
    if paper is None:
        return "not in paper"
    if best is None:
        return "undefined here"
    if paper != {"all"} and not paper & all_losses:
        return "paper's winner not run"
    if paper != {"all"} and not paper & defined:
        return "paper's winner undefined here"
    if not testable:
        return UNTESTABLE
    if paper == {"all"}:
        return "agrees" if {best, *tied} == all_losses else "differs"
    if paper & {best, *tied}:
        return "agrees" if best in paper and separated else "tied"
    return "differs"


def unit_outcome(difference, p_holm, alpha: float, n_pairs) -> np.ndarray:
    """The outcome of each (dataset, metric) unit of a claim, family A's best minus family B's best.

    *untestable* when :func:`is_untestable` (fewer than two pairs, a NaN difference or p-value);
    else *ahead* when the Holm-adjusted p-value is below ``alpha`` and the difference positive,
    *behind* when it is below ``alpha`` and the difference negative, *no difference* otherwise.
    Element-wise over arrays.
    """
    difference, p_holm = np.asarray(difference, dtype=float), np.asarray(p_holm, dtype=float)
    significant = p_holm < alpha
    tested = np.where(significant & (difference > 0), "ahead",
                      np.where(significant & (difference < 0), "behind", "no difference"))
    return np.where(is_untestable(n_pairs, p_holm, difference), UNTESTABLE, tested)


def claim_verdict(ahead: int, behind: int, total: int, consistent: bool) -> str:
    """The verdict of a claim from the outcomes of its ``total`` testable units (untestable ones are not counted).

    - *untestable* when there is no testable unit;
    - *not supported* when behind in at least one unit and in at least as many as ahead;
    - *supported* when behind in none and ahead in at least half of the units (every unit for a
      claim the paper states as ``consistent``);
    - *inconclusive* otherwise: some support but not enough, or no unit separated at all.
    """
    if total == 0:
        return UNTESTABLE
    if behind > 0 and behind >= ahead:
        return "not supported"
    if behind == 0 and (ahead == total if consistent else 2 * ahead >= total):
        return "supported"
    return "inconclusive"


def figure6_as_claim(verdicts: Iterable[str]) -> dict:
    """Figure 6 read as a claim ("each cell marks the top-performing loss"), from its cells' verdicts.

    The units are the cells whose verdict is one of :data:`FIGURE6_COMPARED` (the paper's winner
    was run and is defined, and the cell is testable); *ahead* are those that agree, *behind*
    those that differ, and the verdict is :func:`claim_verdict` of these counts (not
    ``consistent``): supported when no cell differs and at least half agree, not supported when
    at least one differs and as many differ as agree, inconclusive otherwise; untestable when no
    cell is a unit. Untestable cells are counted apart.

    Returns
    -------
    dict
        ``verdict``, ``agrees``, ``tied``, ``differs``, ``units``, ``untestable``.
    """
    verdicts = list(verdicts)
    cells = [v for v in verdicts if v in FIGURE6_COMPARED]
    agrees, tied, differs = (cells.count(v) for v in ("agrees", "tied", "differs"))
    return {"verdict": claim_verdict(agrees, differs, len(cells), consistent=False), "agrees": agrees, "tied": tied,
            "differs": differs, "units": len(cells), "untestable": verdicts.count(UNTESTABLE)}


def figure6_change_key(verdict, best, separated: bool) -> str:
    """What decides whether a Figure 6 cell is the same under two versions of the runs: compare the keys.

    The verdict and the separated best; where the best is not separated, only the verdict (which
    loss has the highest mean among losses the seeds cannot separate is an accident of the seeds,
    not a change). A cell without a verdict (missing, or NaN) is :data:`UNDEFINED`.
    """
    if not isinstance(verdict, str):
        return UNDEFINED
    return f"{verdict}|{best if separated else '~'}"
