"""Tables for the book, built from run records and their summaries (the top layer)."""

from __future__ import annotations

import pandas as pd

from .losses import expected_loss
from .paper import FIGURE6_METRICS, PAPER_FIGURE6, PAPER_LOSSES
from .statistics import paired_best
from .verdicts import UNDEFINED, figure6_cell_verdict, figure6_change_key

__all__ = ["baseline_table", "expected_loss_table", "figure6_table", "figure6_variants", "learning_rate_table", "metric_table", "paired_difference_table", "runs_table",
           "separation_counts"]


def expected_loss_table(target_sparsity: float = 0.999, losses=PAPER_LOSSES,
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


def learning_rate_table(records: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Per dataset, loss and learning rate: how training ended, and how good its best epoch was.

    ``stopped_early`` is the share of seeds where early stopping fired; the others used the whole
    epoch budget and were still improving in their last ``patience`` epochs (else they would have
    stopped), i.e. had not converged. ``val_loss_vs_best_lr`` is the best validation loss of each
    run divided by the lowest mean best validation loss any learning rate reached for that dataset
    and loss (mean [95% interval] over seeds): well above 1 where early stopping fired means it
    fired before the model got anywhere near the loss another learning rate reaches.
    """
    from .statistics import mean_ci

    keys = ["dataset", "loss", "learning_rate"]
    floor = records.groupby(keys)["best_val_loss"].mean().groupby(level=[0, 1]).min()
    ratio = records["best_val_loss"] / [floor[(d, l)] for d, l in zip(records["dataset"], records["loss"])]
    rows = []
    for (dataset, loss, lr), group in records.assign(ratio=ratio).groupby(keys, sort=False):
        mean, low, high, n = mean_ci(group["ratio"])
        rows.append({"dataset": dataset, "loss": loss, "learning_rate": lr, "seeds": len(group),
                     "epochs": group["epochs"].mean(), "best_epoch": group["best_epoch"].mean(),
                     "stopped_early": group["stopped_early"].mean(),
                     "val_loss_vs_best_lr": f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"})
    return pd.DataFrame(rows).set_index(keys)


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


def figure6_table(records: pd.DataFrame, losses=None, columns: dict | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Figure 6 for our runs beside the paper's cells.

    For each of our datasets and each Figure 6 metric, our best loss is the one with the highest
    mean over seeds, declared *the* best only where seed-paired t-tests (Holm-corrected within
    the cell, see :func:`spae_core.statistics.paired_best`) separate it from every other loss;
    the losses it does not separate from are listed as tied. Verdicts: *agrees* when the paper's
    winner is our separated best (for the paper's "All": when every loss is tied); *tied* when
    the paper's winner is our best or among the losses tied with it, but not separated from the
    rest; *differs* when our best beats the paper's winner significantly; *paper's winner not
    run* when ``losses`` leaves it out; *paper's winner undefined here* when the metric is undefined
    for every run of the paper's winner (e.g. DBSCAN finds one cluster); *not in paper* for a
    metric the paper has no cell for (the rule: :func:`spae_core.verdicts.figure6_cell_verdict`).

    Parameters
    ----------
    records : DataFrame
        One row per run, with ``dataset``, ``loss``, ``seed``, ``paper_counterpart`` and metric columns.
    losses : sequence of str, optional
        Losses to compare (default: the paper's six present in ``records``).
    columns : dict, optional
        Record column to use for a Figure 6 metric label, overriding
        :data:`spae_core.paper.FIGURE6_METRICS` (e.g. a DBSCAN score at another ``eps``).
    alpha : float, default=0.05
        Family-wise error rate of each cell's comparisons.

    Returns
    -------
    DataFrame
        Long format: ``dataset``, ``paper_counterpart``, ``metric``, ``ours_best``, ``ours_tied``,
        ``separated``, ``p_runner_up``, ``n_seeds``, ``paper_best`` (the paper's), ``verdict``.
    """
    losses = losses or [l for l in PAPER_LOSSES if l in set(records["loss"])]
    mapping = {**FIGURE6_METRICS, **(columns or {})}
    records = records[records["loss"].isin(losses)]
    rows = []
    for dataset, group in records.groupby("dataset", sort=False):
        counterpart = group["paper_counterpart"].iloc[0]
        paper_cells = PAPER_FIGURE6.get(counterpart, {})
        for label, column in mapping.items():
            if column not in group.columns or group[column].isna().all():
                continue
            best = paired_best(group, column, alpha=alpha).iloc[0]
            paper = paper_cells.get(label)
            rows.append({
                "dataset": dataset, "paper_counterpart": counterpart, "metric": label,
                "ours_best": best["best"], "ours_tied": ", ".join(best["tied"]) or "none",
                "separated": bool(best["separated"]), "p_runner_up": best["p_runner_up"],
                "n_seeds": int(group.loc[group["loss"] == best["best"], column].notna().sum()),
                "paper_best": ", ".join(sorted(paper)).upper() if paper else "—",
                "verdict": figure6_cell_verdict(paper, best["best"], best["tied"], set(losses), bool(best["separated"]),
                                                set(group.loc[group[column].notna(), "loss"])),
            })
    return pd.DataFrame(rows)


def figure6_variants(variants: dict, losses=None, columns: dict | None = None) -> pd.DataFrame:
    """Figure 6 verdicts under several variants of the runs or of a metric, side by side.

    Parameters
    ----------
    variants : dict of label -> DataFrame or (DataFrame, columns dict)
        Each value is the records of one variant (e.g. one learning rate), or a pair of records
        and a ``columns`` override for :func:`figure6_table` (e.g. DBSCAN at another ``eps``).
    losses, columns
        Passed to :func:`figure6_table` (``columns`` for the variants without their own).

    Returns
    -------
    DataFrame
        One row per dataset and metric present in any variant; per variant a column
        ``"<label>"`` with ``"<best> (<verdict>)"`` (``"<best> ~ <tied> (<verdict>)"`` when the best
        is not separated, ``"undefined"`` where the metric is undefined in that variant), and
        ``changes``: whether the verdict, the separated best, or definedness differs between
        variants (which loss has the highest mean among tied ones is not a change;
        :func:`spae_core.verdicts.figure6_change_key`).
    """
    frames = []
    for label, value in variants.items():
        records, own_columns = value if isinstance(value, tuple) else (value, columns)
        table = figure6_table(records, losses=losses, columns=own_columns)
        table["cell"] = [f"{b}{'' if s else ' ~ ' + t} ({v})" for b, s, t, v in
                         zip(table["ours_best"], table["separated"], table["ours_tied"], table["verdict"])]
        table["key"] = [figure6_change_key(v, b, s) for b, s, v in zip(table["ours_best"], table["separated"], table["verdict"])]
        frames.append(table.assign(variant=label))
    long = pd.concat(frames, ignore_index=True)
    index = ["dataset", "metric"]
    cells = long.pivot_table(index=index, columns="variant", values="cell", aggfunc="first", sort=False)
    keys = long.pivot_table(index=index, columns="variant", values="key", aggfunc="first", sort=False)
    cells = cells.reindex(columns=list(variants)).fillna("undefined")
    keys = keys.reindex(columns=list(variants)).fillna(UNDEFINED)
    cells["changes"] = keys.nunique(axis=1) > 1
    cells.columns.name = None
    return cells.reset_index()


def baseline_table(records: pd.DataFrame, baselines: pd.DataFrame, metrics, reference: pd.DataFrame | None = None,
                   losses=PAPER_LOSSES, peer: str = "multinomial",
                   digits: int = 3) -> pd.DataFrame:
    """The autoencoders against the baselines, per dataset and metric.

    Parameters
    ----------
    records : DataFrame
        Run records (one row per run).
    baselines : DataFrame
        :func:`spae_core.baselines.baseline_records` (one row per dataset and ``model``;
        deterministic given the split, so one number each).
    metrics : sequence of str
        Record columns to compare.
    reference : DataFrame, optional
        :func:`spae_core.baselines.raw_input_downstream` (``dataset``, ``metric``, ``raw_input``).
    losses : sequence of str
        The autoencoder losses whose best (highest mean over seeds) represents the paper's method.
    peer : str
        A loss shown in its own column (the Mult-DAE likelihood), not counted among ``losses``.

    Returns
    -------
    DataFrame
        Index (dataset, metric); ``autoencoder`` (best of ``losses``: name, mean, 95% interval),
        ``peer``, one column per baseline and ``raw input``, and ``outcome``: *autoencoder ahead*
        when the best baseline is below the autoencoder's interval, *baseline ahead* when above
        it, *within interval* otherwise, *no baseline* where no baseline defines the metric.
    """
    from .statistics import summarise

    metrics = [m for m in metrics if m in records.columns]
    runs = records[records["loss"].isin(losses)]
    summary = summarise(runs, metrics).dropna(subset=["mean"])
    peer_summary = summarise(records[records["loss"] == peer], metrics) if peer in set(records["loss"]) else None
    models = list(dict.fromkeys(baselines["model"])) if len(baselines) else []
    rows = []
    for (dataset, metric), group in summary.groupby(["dataset", "metric"], sort=False):
        top = group.loc[group["mean"].idxmax()]
        row = {"dataset": dataset, "metric": metric,
               "autoencoder": f"{top['loss']}: {top['mean']:.{digits}f} [{top['ci_low']:.{digits}f}, {top['ci_high']:.{digits}f}]"}
        if peer_summary is not None:
            cell = peer_summary[(peer_summary["dataset"] == dataset) & (peer_summary["metric"] == metric)]
            row[peer] = ("undefined" if cell.empty or not cell["n"].iloc[0] else
                         f"{cell['mean'].iloc[0]:.{digits}f} [{cell['ci_low'].iloc[0]:.{digits}f}, {cell['ci_high'].iloc[0]:.{digits}f}]")
        values = {}
        for model in models:
            value = baselines.loc[(baselines["dataset"] == dataset) & (baselines["model"] == model), metric] \
                if metric in baselines.columns else pd.Series(dtype=float)
            values[model] = float(value.iloc[0]) if len(value) else float("nan")
        if reference is not None:
            value = reference.loc[(reference["dataset"] == dataset) & (reference["metric"] == metric), "raw_input"]
            values["raw input"] = float(value.iloc[0]) if len(value) else float("nan")
        for name, value in values.items():
            row[name] = "—" if pd.isna(value) else f"{value:.{digits}f}"
        finite = [v for v in values.values() if pd.notna(v)]
        if not finite:
            row["outcome"] = "no baseline"
        elif max(finite) < top["ci_low"]:
            row["outcome"] = "autoencoder ahead"
        elif max(finite) > top["ci_high"]:
            row["outcome"] = "baseline ahead"
        else:
            row["outcome"] = "within interval"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "metric"])


def paired_difference_table(records: pd.DataFrame, metrics, reference, candidate: str = "loss", by=("dataset",),
                            digits: int = 3, alpha: float = 0.05) -> pd.DataFrame:
    """Each candidate minus ``reference``, per seed: ``mean [95% interval]`` per group and metric.

    Built on :func:`spae_core.statistics.paired_differences`. A cell is marked ``*`` where the
    Holm-adjusted paired t-test (one family per group and metric) rejects a zero difference at
    ``alpha``; ``(n=k)`` gives the number of paired seeds.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metrics : str or sequence of str
    reference
        The ``candidate`` value the others are compared with (e.g. ``"count_mse"``, or 0.0 for
        ``candidate="ovr_lambda"``).
    candidate : str, default="loss"
    by : sequence of str, default=("dataset",)
    digits : int, default=3
    alpha : float, default=0.05

    Returns
    -------
    DataFrame
        Rows ``by`` (and ``metric`` with several metrics), one column per candidate.
    """
    from .statistics import paired_differences

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}.")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    frames = [paired_differences(records, m, reference, candidate=candidate, by=by).assign(metric=m) for m in metrics]
    rows = pd.concat(frames, ignore_index=True)
    if rows.empty:
        raise ValueError(f"No group of records holds the reference {candidate} = {reference!r}.")
    cells = rows.assign(cell=[
        f"{d:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]{' *' if p < alpha else ''} (n={n})" if n else "undefined"
        for d, lo, hi, p, n in zip(rows["difference"], rows["ci_low"], rows["ci_high"], rows["p_holm"], rows["n_pairs"])
    ])
    index = list(by) if len(metrics) == 1 else [*by, "metric"]
    table = cells.pivot_table(index=index, columns=candidate, values="cell", aggfunc="first", sort=False)
    table = table.reindex(columns=list(dict.fromkeys(rows[candidate])))
    table.columns.name = f"{candidate} - {reference}"
    return table


def separation_counts(records: pd.DataFrame, metrics: dict, reference, candidate: str = "loss", by=("dataset",),
                      alpha: float = 0.05) -> pd.DataFrame:
    """How many (group, candidate) pairs are separated better or worse than ``reference``, per metric.

    A pair counts as *better* (or *worse*) where the seed-paired difference of
    :func:`spae_core.statistics.paired_differences` points that way and its Holm-adjusted p-value
    is below ``alpha``; every other pair, an undefined one included, is *not separated*.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metrics : dict
        ``{metric: higher_is_better}``, e.g. ``{"nonzero_exact": True, "mae_nonzero": False}``.
    reference
        The ``candidate`` value the others are compared with.
    candidate : str, default="loss"
    by : sequence of str, default=("dataset",)
    alpha : float, default=0.05

    Returns
    -------
    DataFrame
        Index ``metric``; columns ``pairs``, ``better``, ``worse``, ``not separated``.
    """
    from .statistics import paired_differences

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}.")
    rows = []
    for metric, higher_is_better in metrics.items():
        tests = paired_differences(records, metric, reference, candidate=candidate, by=by)
        towards_better = tests["difference"] if higher_is_better else -tests["difference"]
        separated = tests["p_holm"] < alpha
        better, worse = int((separated & (towards_better > 0)).sum()), int((separated & (towards_better < 0)).sum())
        rows.append({"metric": metric, "pairs": len(tests), "better": better, "worse": worse,
                     "not separated": len(tests) - better - worse})
    table = pd.DataFrame(rows).set_index("metric")
    table.columns.name = f"vs {candidate} = {reference}"
    return table


def count_phrase(values: pd.Series) -> str:
    """``"16 tied, 6 differs, 2 agrees"``: each distinct value with its count, most frequent first.

    Ties in count are ordered by the value's text, so the phrase is the same whatever the order
    of the rows (``value_counts`` alone leaves tied counts in an order that depends on the data).
    """
    counts = values.value_counts()
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return ", ".join(f"{n} {value}" for value, n in ordered)
