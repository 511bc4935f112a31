"""The claims page and the book's headline, as HTML: each claim with a verdict badge, one line of evidence, the detail folded.

Pure functions of the frames of :mod:`spae_core.claims` (``all_claim_verdicts``, optionally with
the column ``under other kernels`` of :func:`spae_core.kernel_checks.with_kernel_checks`, and
``all_claim_units``) to :class:`IPython.display.HTML`. The styles live in ``_static/claims.css``
at the book's root (Jupyter Book adds every ``_static/*.css`` to each page); the classes are
``spae-verdict--<verdict>`` with the verdict's spaces as hyphens. A badge always carries the
verdict's word, so the colour is never the only signal. Nothing here depends on random ids: the
HTML is the same for the same frames (the notebooks' outputs are compared as text).
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
from IPython.display import HTML

from .claims import example_unit
from .table_format import loss_name, words
from .verdicts import UNTESTABLE

__all__ = ["CLAIM_TITLES", "VERDICTS", "claim_anchor", "claims_page", "headline", "untestable_units", "verdict_class"]

#: The verdicts a claim can get, in the order the headline counts them.
VERDICTS = ("supported", "not supported", "inconclusive", UNTESTABLE)

#: A short title for each claim, shown instead of its key (the key stays as the anchor id).
CLAIM_TITLES = {
    "ap_standard": "MSE and BCE recover entries best (AP)",
    "contingency_aware": "Sparsity-aware losses preserve feature dependencies",
    "mass_aware": "Sparsity-aware losses put more mass above the threshold",
    "embedding_aware": "Sparsity-aware losses give better embeddings",
    "focal_embedding": "Focal loss balances local and global structure",
    "downstream_weighted": "WBCE and WMSE predict best downstream",
    "abstract_rare_events": "The alternatives win on rare-event metrics (abstract)",
    "conclusion_consistent": "Sparsity-awareness consistently improves (conclusion)",
    "contingency_highest_on_imdb": "Contingency is highest on IMDB",
    "figure6_winners": "Figure 6 names each cell's best loss",
}


def verdict_class(verdict: str) -> str:
    """The CSS class of ``verdict``'s badge: ``spae-verdict--not-supported`` for "not supported".

    Raises
    ------
    ValueError
        For a verdict that is not one of :data:`VERDICTS`.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; expected one of {VERDICTS}.")
    return "spae-verdict--" + verdict.replace(" ", "-")


def claim_anchor(key: str) -> str:
    """The id of a claim's block on the claims page (``claim-<key>``): the target of the headline's links."""
    return f"claim-{key}"


def _title(key: str) -> str:
    return CLAIM_TITLES.get(key, key.replace("_", " ").capitalize())


def _number(value) -> str:
    """Three significant digits; "n/a" for a missing value."""
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3g}"


def _comparison(unit) -> str:
    """``dataset metric, A − B`` in the book's names, e.g. ``thyroid AP, MSE − Dice``."""
    return f"{unit.dataset} {words(unit.metric)}, {loss_name(unit.best_a)} − {loss_name(unit.best_b)}"


def _badge(verdict: str) -> str:
    return f'<span class="spae-badge {verdict_class(verdict)}">{escape(verdict)}</span>'


def _kernel_mark(row: pd.Series) -> str:
    """The kernel checks' word on this verdict: a visible FRAGILE mark, or a quiet "same"."""
    mark = row.get("under other kernels")
    if not isinstance(mark, str):
        return ""
    if mark.startswith("FRAGILE"):
        return f'<p class="spae-fragile"><strong>Fragile under other kernels</strong>: {escape(mark[len("FRAGILE: "):])}</p>'
    return f'<p class="spae-kernels">Under other kernels: {escape(mark)}</p>'


def _evidence(row: pd.Series, units: pd.DataFrame) -> str:
    """One line: the counts of units ahead, behind and untestable, and the clearest unit's effect and interval."""
    if units.empty:
        return escape(row["reason"])
    # The counts are the verdict's own (claims.claim_verdicts), not recounted here.
    line = (f"Ahead in {int(row['ahead'])}, behind in {int(row['behind'])} of {int(row['units'])} testable units"
            f"; {int(row['untestable'])} untestable")
    example = example_unit(units, ("behind", "ahead", "no difference"))
    if example is not None:
        line += (f". {'Clearest' if example['outcome'] != 'no difference' else 'Largest'} effect "
                 f"({example['outcome']}): {_comparison(example)} = {_number(example['difference'])} [{_number(example['ci_low'])}, "
                 f"{_number(example['ci_high'])}]")
    return escape(line)


def _unit_table(units: pd.DataFrame) -> str:
    """The testable units as a compact table, in a box that scrolls sideways where the column is narrow."""
    rows = "".join(
        f"<tr><td>{escape(u.dataset)}</td><td>{escape(words(u.metric))}</td><td>{escape(loss_name(u.best_a))} − {escape(loss_name(u.best_b))}</td>"
        f"<td>{_number(u.difference)} [{_number(u.ci_low)}, {_number(u.ci_high)}]</td><td>{_number(u.p_holm)}</td>"
        f"<td>{escape(u.outcome)}</td></tr>" for u in units.itertuples(index=False))
    return ('<div class="spae-scroll"><table class="spae-units"><thead><tr><th>dataset</th><th>metric</th>'
            '<th>A − B</th><th>difference [95% interval]</th><th>p (Holm)</th><th>outcome</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _untestable_list(units: pd.DataFrame) -> str:
    rows = units[units["outcome"] == UNTESTABLE]
    if rows.empty:
        return ""
    items = "".join(f"<li>{escape(u.dataset)} {escape(words(u.metric))} ({escape(loss_name(u.best_a))} − {escape(loss_name(u.best_b))}): "
                    f"{int(u.n_pairs)} seed pair{'' if u.n_pairs == 1 else 's'}</li>" for u in rows.itertuples(index=False))
    return (f'<div class="spae-untestable"><p>Untestable, not counted (a test needs at least 2 seed pairs):</p>'
            f"<ul>{items}</ul></div>")


def _details(row: pd.Series, units: pd.DataFrame) -> str:
    """The collapsible detail: every testable unit, then the untestable ones apart; or the reason and where to look."""
    if units.empty:
        body = f"<p>{escape(row['reason'])}.</p><p>Evidence: {escape(row['evidence'])}.</p>"
        summary = "Detail"
    else:
        testable = units[units["outcome"] != UNTESTABLE]
        untestable = len(units) - len(testable)
        summary = f"Detail: {len(testable)} testable units" + (f", {untestable} untestable" if untestable else "")
        body = (_unit_table(testable) if len(testable) else "<p>No testable unit.</p>") + _untestable_list(units) + \
            f"<p>Evidence: {escape(row['evidence'])}.</p>"
    return f'<details class="spae-claim__detail"><summary>{escape(summary)}</summary>{body}</details>'


def _card(row: pd.Series, units: pd.DataFrame) -> str:
    """One claim's block; its border takes the verdict's colour, its badge the verdict's word."""
    verdict, key, words = row["verdict"], row["claim"], row["paper's words"]
    return (f'<article class="spae-claim {verdict_class(verdict)}" id="{escape(claim_anchor(key))}">'
            f'<div class="spae-claim__head">{_badge(verdict)}<h3 class="spae-claim__title">{escape(_title(key))}</h3></div>'
            f'<blockquote class="spae-claim__words"><p>“{escape(words)}”</p>'
            f'<footer>— the paper, {escape(row["source"])}</footer></blockquote>'
            f'<p class="spae-claim__evidence">{_evidence(row, units)}</p>{_kernel_mark(row)}{_details(row, units)}'
            "</article>")


def claims_page(verdicts: pd.DataFrame, units: pd.DataFrame) -> HTML:
    """Every claim of ``verdicts`` as a block: badge, title, the paper's words, one line of evidence, folded detail.

    Parameters
    ----------
    verdicts : DataFrame
        :func:`spae_core.claims.all_claim_verdicts`, optionally with ``under other kernels``.
    units : DataFrame
        :func:`spae_core.claims.all_claim_units` (a ``claim`` column); claims without units (the
        IMDB contingency claim, Figure 6) show their reason instead.

    Returns
    -------
    IPython.display.HTML
        One ``article`` per claim, in the order of ``verdicts``, with id :func:`claim_anchor`.
    """
    missing = ({"claim", "verdict", "paper's words", "source", "ahead", "behind", "units", "untestable", "evidence",
                "reason"} - set(verdicts.columns))
    if missing:
        raise ValueError(f"verdicts lacks column(s) {sorted(missing)}: pass spae_core.claims.all_claim_verdicts.")
    by_claim = {key: group for key, group in units.groupby("claim", sort=False)}
    empty = units.iloc[0:0]
    cards = "".join(_card(row, by_claim.get(row["claim"], empty)) for _, row in verdicts.iterrows())
    return HTML(f'<div class="spae-claims">{cards}</div>')


def untestable_units(verdicts: pd.DataFrame) -> str:
    """One line: how many untestable units the claims of ``verdicts`` set aside, in how many claims."""
    counts = verdicts["untestable"]
    return f"untestable units, not counted: {int(counts.sum())} in {int((counts > 0).sum())} claims"


def headline(verdicts: pd.DataFrame, preset: str, seeds, page: str = "10_claims.html") -> HTML:
    """The book's headline: how many claims got each verdict, and one line per claim linking to its evidence.

    Parameters
    ----------
    verdicts : DataFrame
        :func:`spae_core.claims.all_claim_verdicts`.
    preset : str
        The preset's name, printed beside the counts (a smoke-test preset's counts are not findings).
    seeds : sequence of int
        The preset's seeds.
    page : str, default="10_claims.html"
        The claims page, relative to the page that shows the headline.
    """
    counts = verdicts["verdict"].value_counts()
    unknown = set(counts.index) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdict(s) {sorted(unknown)}; expected {VERDICTS}.")
    shown = [v for v in VERDICTS if v != UNTESTABLE or counts.get(v, 0)]
    tally = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in shown)
    lead = (f"<p class=\"spae-headline\"><strong>Of the paper's {len(verdicts)} claims checked against these runs: "
            f"{tally}</strong> (preset <code>{escape(preset)}</code>, {len(seeds)} seeds per run).</p>")
    items = "".join(f'<li>{_badge(row["verdict"])} <a href="{escape(page)}#{escape(claim_anchor(row["claim"]))}">'
                    f'{escape(_title(row["claim"]))}</a></li>' for _, row in verdicts.iterrows())
    return HTML(f'<div class="spae-claims-headline">{lead}<ul class="spae-headline__list">{items}</ul></div>')
