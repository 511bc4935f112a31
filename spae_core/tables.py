"""Tables for the book, built from run records and their summaries (the top layer)."""

from __future__ import annotations

import pandas as pd

from .losses import expected_loss
from .paper import FIGURE6_METRICS, PAPER_FIGURE6
from .statistics import best_per_group, summarise

__all__ = ["expected_loss_table", "figure6_table", "metric_table", "runs_table"]


def expected_loss_table(target_sparsity: float = 0.999, losses=("mse", "bce", "wmse", "wbce", "focal", "dice"),
                        recon_sparsity=(0.5, 0.999)) -> pd.DataFrame:
    """Expected loss (Figure 1's model) at two reconstruction sparsities, and their ratio."""
    low, high = recon_sparsity
    table = pd.DataFrame({
        f"s(x_hat) = {low}": [expected_loss(name, target_sparsity, low) for name in losses],
        f"s(x_hat) = {high}": [expected_loss(name, target_sparsity, high) for name in losses],
    }, index=pd.Index(losses, name="loss"))
    table["ratio"] = table.iloc[:, 1] / table.iloc[:, 0]
    return table


def runs_table(records: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and loss: data sizes, seeds, and mean epochs / best epoch / share stopped early."""
    return records.groupby(["dataset", "loss"], sort=False).agg(
        n_samples=("n_samples", "first"), n_features=("n_features", "first"), n_train=("n_train", "first"),
        seeds=("seed", "count"), epochs=("epochs", "mean"), best_epoch=("best_epoch", "mean"),
        stopped_early=("stopped_early", "mean"),
    )


def metric_table(summary: pd.DataFrame, metric, digits: int = 3, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table of ``mean [ci_low, ci_high] (n=seeds)`` per dataset (rows) and loss (columns).

    Parameters
    ----------
    summary : DataFrame
        From :func:`spae_core.statistics.summarise`.
    metric : str or list of str
        One metric (rows are datasets) or several (rows are dataset x metric).
    digits : int
    reference : DataFrame, optional
        Extra column of single numbers with ``dataset``, ``metric`` and one value column (e.g.
        :func:`spae_core.baselines.raw_input_downstream`), shown after the losses.
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    rows = summary[summary["metric"].isin(metrics)]
    if rows.empty:
        raise ValueError(f"No metric {metrics} in the summary; it has {sorted(summary['metric'].unique())}.")
    cells = rows.assign(cell=[
        f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}] (n={n})" if n else "undefined"
        for m, lo, hi, n in zip(rows["mean"], rows["ci_low"], rows["ci_high"], rows["n"])
    ])
    index = ["dataset"] if len(metrics) == 1 else ["dataset", "metric"]
    table = cells.pivot_table(index=index, columns="loss", values="cell", aggfunc="first", sort=False)
    table = table.reindex(columns=list(dict.fromkeys(rows["loss"])))
    if reference is not None:
        value = [c for c in reference.columns if c not in ("dataset", "metric")][0]
        ref = reference[reference["metric"].isin(metrics)].set_index(index)[value]
        table[value.replace("_", " ")] = ref.reindex(table.index).map(lambda v: f"{v:.{digits}f}")
    table.columns.name = "loss"
    return table


def _verdict(paper: set | None, best, tied: list, all_losses: set) -> str:
    if paper is None:
        return "not in paper"
    if best is None:
        return "undefined here"
    if paper == {"all"}:
        return "agrees" if {best, *tied} == all_losses else "differs"
    if not paper & all_losses:
        return "paper's winner not run"
    if best in paper:
        return "agrees"
    return "tied" if paper & set(tied) else "differs"


def figure6_table(records: pd.DataFrame, losses=None) -> pd.DataFrame:
    """Figure 6 for our runs beside the paper's cells.

    For each of our datasets and each Figure 6 metric: our best loss (highest mean over seeds),
    the losses whose 95% interval overlaps it (tied), the paper's winner for the dataset it stands
    in for, and a verdict: *agrees* when the paper's winner is our best (for the paper's "All":
    when every loss is tied), *tied* when it is not our best but its interval overlaps our best
    one's (our seeds cannot separate them), *differs* when our best beats it beyond the
    intervals, *paper's winner not run* when ``losses`` leaves it out, *not in paper* for a
    metric the paper has no cell for.

    Parameters
    ----------
    records : DataFrame
        One row per run, with ``dataset``, ``loss``, ``paper_counterpart`` and metric columns.
    losses : sequence of str, optional
        Losses to compare (default: the paper's six present in ``records``).

    Returns
    -------
    DataFrame
        Long format: ``dataset``, ``paper_counterpart``, ``metric``, ``ours_best``, ``ours_tied``,
        ``paper_best`` (the paper's), ``verdict``.
    """
    losses = losses or [l for l in ("mse", "bce", "wmse", "wbce", "focal", "dice") if l in set(records["loss"])]
    records = records[records["loss"].isin(losses)]
    rows = []
    for dataset, group in records.groupby("dataset", sort=False):
        counterpart = group["paper_counterpart"].iloc[0]
        paper_cells = PAPER_FIGURE6.get(counterpart, {})
        for label, column in FIGURE6_METRICS.items():
            if column not in group.columns or group[column].isna().all():
                continue
            best = best_per_group(summarise(group, [column]), by=("dataset", "metric")).iloc[0]
            paper = paper_cells.get(label)
            rows.append({
                "dataset": dataset, "paper_counterpart": counterpart, "metric": label,
                "ours_best": best["best"], "ours_tied": ", ".join(best["tied"]) or "none",
                "paper_best": ", ".join(sorted(paper)).upper() if paper else "—",
                "verdict": _verdict(paper, best["best"], best["tied"], set(losses)),
            })
    return pd.DataFrame(rows)
