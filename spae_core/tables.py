"""Tables for the book, built from run records and their summaries (the top layer)."""

from __future__ import annotations

import json

import pandas as pd

from .losses import expected_loss
from .paper import FIGURE6_METRICS, PAPER_FIGURE6, PAPER_LOSSES
from .statistics import paired_best
from .table_format import MISSING, count_of, words
from .verdicts import UNDEFINED, UNTESTABLE, figure6_cell_verdict, figure6_change_key, is_untestable

__all__ = ["BEST_LOSS_TABLE_COLUMNS", "FIGURE6_TABLE_COLUMNS", "baseline_notes", "best_loss_table", "baseline_table", "changed_cells", "count_phrase",
           "dbscan_clusters_by_eps", "dbscan_eps_verdicts", "expected_loss_table", "figure6_column_variants",
           "figure6_columns", "figure6_sweep", "figure6_table", "figure6_variants", "learning_rate_table",
           "metric_table", "paired_difference_table", "runs_table", "separation_counts", "summary_table",
           "untestable_cells"]


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
    """Per dataset and loss: data sizes, seeds, mean epochs and best epoch, how many seeds stopped early ("k of n")."""
    return records.groupby(["dataset", "loss"], sort=False).agg(
        n_samples=("n_samples", "first"), n_features=("n_features", "first"), n_train=("n_train", "first"),
        seeds=("seed", "count"), epochs=("epochs", "mean"), best_epoch=("best_epoch", "mean"),
        stopped_early=("stopped_early", count_of),
    )


def learning_rate_table(records: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Per dataset, loss and learning rate: how training ended, and how good its best epoch was.

    ``stopped_early`` counts the seeds where early stopping fired ("k of n"); the others used the whole
    epoch budget and were still improving in their last ``patience`` epochs (else they would have
    stopped), i.e. had not converged. ``val_loss_vs_best_lr`` is the best validation loss of each
    run divided by the lowest mean best validation loss any learning rate reached for that dataset
    and loss (mean [95% interval] over seeds): well above 1 where early stopping fired means it
    fired before the model got anywhere near the loss another learning rate reaches.
    """
    from .metrics import metric_range
    from .statistics import mean_ci

    keys = ["dataset", "loss", "learning_rate"]
    floor = records.groupby(keys)["best_val_loss"].mean().groupby(level=[0, 1]).min()
    ratio = records["best_val_loss"] / [floor[(d, l)] for d, l in zip(records["dataset"], records["loss"])]
    rows = []
    for (dataset, loss, lr), group in records.assign(ratio=ratio).groupby(keys, sort=False):
        mean, low, high, n = mean_ci(group["ratio"], value_range=metric_range("best_val_loss").ratio_range())
        rows.append({"dataset": dataset, "loss": loss, "learning_rate": lr, "seeds": len(group),
                     "epochs": group["epochs"].mean(), "best_epoch": group["best_epoch"].mean(),
                     "stopped_early": count_of(group["stopped_early"]),
                     "val_loss_vs_best_lr": f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"})
    return pd.DataFrame(rows).set_index(keys)


def metric_table(summary: pd.DataFrame, metric, digits: int = 3, reference: pd.DataFrame | None = None,
                 compare="loss", label: str | None = None) -> pd.DataFrame:
    """Table of ``mean [ci_low, ci_high]`` per dataset (rows) and loss (columns).

    The number of seeds is said once, in the column axis' name (``Trustworthiness: mean [95%
    interval] over 3 seeds`` for one metric, ``loss: ...`` for several); a cell over fewer seeds (a
    metric undefined on some) adds ``(n=k)``, and one over a single seed shows no interval.

    Parameters
    ----------
    summary : DataFrame
        From :func:`spae_core.statistics.summarise`.
    metric : str or list of str
        One metric (rows are datasets) or several (rows are dataset x metric).
    digits : int
    reference : DataFrame, optional
        Single numbers with ``dataset``, ``metric`` and one or more value columns (e.g.
        :func:`spae_core.baselines.raw_input_downstream`: ``raw_input``, the 0/1 inputs as they
        are, and ``raw_input_standardised``), each shown after the losses under its name in words.
    compare : str or sequence of str, default="loss"
        The summary column(s) whose values are the table's columns, e.g. ``("loss", "beta")`` for
        a summary by ``("dataset", "loss", "beta")``; the column axis keeps the name ``loss``.
    label : str, optional
        Heading of each column, formatted from ``compare``'s values by name, e.g.
        ``"{loss} (beta={beta:g})"``; default: the value of ``compare`` (a single column).
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    rows = summary[summary["metric"].isin(metrics)]
    if rows.empty:
        raise ValueError(f"No metric {metrics} in the summary; it has {sorted(summary['metric'].unique())}.")
    rows = rows.assign(_heading=_compared(rows, compare, label))
    seeds = int(rows["n"].max())
    cells = rows.assign(cell=[_interval_cell(f"{m:.{digits}f}", f"[{lo:.{digits}f}, {hi:.{digits}f}]", n, seeds)
                              for m, lo, hi, n in zip(rows["mean"], rows["ci_low"], rows["ci_high"], rows["n"])])
    index = ["dataset"] if len(metrics) == 1 else ["dataset", "metric"]
    table = cells.pivot_table(index=index, columns="_heading", values="cell", aggfunc="first", sort=False)
    table = table.reindex(columns=list(dict.fromkeys(rows["_heading"])))
    if reference is not None:
        ref = reference[reference["metric"].isin(metrics)].set_index(index)
        for value in _reference_columns(reference):
            table[value.replace("_", " ")] = ref[value].reindex(table.index).map(lambda v: f"{v:.{digits}f}")
    # The corner says what the cells are: the metric (one) or "loss" (several, named by the rows).
    table.columns.name = _seeds_heading(words(metrics[0]) if len(metrics) == 1 else "loss", seeds, rows["n"])
    return table


def _reference_columns(reference: pd.DataFrame) -> list[str]:
    """The value columns of a ``reference`` frame (all but ``dataset`` and ``metric``), at least one."""
    values = [c for c in reference.columns if c not in ("dataset", "metric")]
    if not values or not {"dataset", "metric"} <= set(reference.columns):
        raise ValueError(f"reference needs the columns dataset, metric and at least one value column, "
                         f"got {list(reference.columns)}.")
    return values


def _interval_cell(mean: str, interval: str, n: int, seeds: int) -> str:
    """``mean [low, high]``, with ``(n=k)`` only where fewer than the table's ``seeds`` gave a value."""
    if not n:
        return "undefined"
    if n == 1:  # one seed gives no interval; a zero-width one would claim certainty
        return f"{mean} (n=1)"
    return f"{mean} {interval}" if n == seeds else f"{mean} {interval} (n={n})"


def _seeds_heading(name: str, seeds: int, counts: pd.Series) -> str:
    """The column axis' heading: what the columns are, and over how many seeds each cell is (once per table)."""
    fewer = ", (n=k) where fewer" if (counts.gt(0) & counts.lt(seeds)).any() else ""
    return f"{name}: mean [95% interval] over {seeds} seed{'s' if seeds != 1 else ''}{fewer}"


def _compared(rows: pd.DataFrame, compare, label: str | None) -> list:
    """The column heading of each summary row: ``label`` formatted from the ``compare`` columns."""
    compare = [compare] if isinstance(compare, str) else list(compare)
    if label is None:
        if len(compare) != 1:
            raise ValueError(f"comparing several columns {compare} needs a label, e.g. '{{{compare[0]}}} ...'.")
        return rows[compare[0]].tolist()
    return [label.format(**values) for values in rows[compare].to_dict("records")]


def summary_table(records: pd.DataFrame, metrics, compare="loss", label: str | None = None,
                  digits: int = 3) -> pd.DataFrame:
    """:func:`metric_table` of the seed summary of ``records``, one column per value of ``compare``.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metrics : str or sequence of str
    compare : str or sequence of str, default="loss"
        The record column(s) compared (the runs are summarised by dataset and these).
    label : str, optional
        See :func:`metric_table`, e.g. ``"lambda={ovr_lambda:g}"``.
    digits : int, default=3
    """
    from .statistics import summarise

    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    compare = [compare] if isinstance(compare, str) else list(compare)
    summary = summarise(records, metrics, by=("dataset", *compare))
    return metric_table(summary, metrics, digits=digits, compare=compare, label=label)


def figure6_columns(records: pd.DataFrame) -> list[str]:
    """The record columns of Figure 6's metrics that some run of ``records`` defines, in Figure 6's order."""
    return [c for c in FIGURE6_METRICS.values() if c in records.columns and records[c].notna().any()]


#: The columns of :func:`figure6_table`, in the order a reader needs them.
FIGURE6_TABLE_COLUMNS = ["dataset", "metric", "verdict", "ours_best", "paper_best", "ours_tied", "separated",
                         "p_runner_up", "n_seeds", "paper_counterpart"]


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
    for every run of the paper's winner (e.g. DBSCAN finds one cluster); *untestable* when the
    best cannot be tested against the runner-up (fewer than two paired seeds, or no runner-up:
    :func:`spae_core.verdicts.is_untestable`); *not in paper* for a metric the paper has no cell
    for (the rule: :func:`spae_core.verdicts.figure6_cell_verdict`).

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
        Long format, in reading order (the verdict first, then what it compares and the test behind
        it): ``dataset``, ``metric``, ``verdict``, ``ours_best``, ``paper_best`` (the paper's),
        ``ours_tied``, ``separated``, ``p_runner_up``, ``n_seeds``, ``paper_counterpart``.
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
                "paper_best": _paper_winners(paper),
                "verdict": figure6_cell_verdict(paper, best["best"], best["tied"], set(losses), bool(best["separated"]),
                                                set(group.loc[group[column].notna(), "loss"]),
                                                testable=not is_untestable(best["n_pairs"], best["p_runner_up"])),
            })
    return pd.DataFrame(rows, columns=FIGURE6_TABLE_COLUMNS)


#: The columns of :func:`best_loss_table`, in reading order.
BEST_LOSS_TABLE_COLUMNS = ["dataset", "metric", "outcome", "best", "best_mean", "tied", "runner_up", "p_runner_up",
                           "n_pairs"]


def best_loss_table(records: pd.DataFrame, metrics: dict, losses=None, lower_is_better=(), alpha: float = 0.05
                    ) -> pd.DataFrame:
    """Per dataset and metric, the loss with the best mean over seeds and whether seed-paired tests separate it.

    The rule of Figure 6's cells (:func:`spae_core.statistics.paired_best`: two-sided paired
    t-tests of the best against every other loss, Holm-corrected within the cell) without the
    paper's winners, for data the paper has no cell for (``spae compare`` on a user's dataset).

    Parameters
    ----------
    records : DataFrame
        One row per run, with ``dataset``, ``loss``, ``seed`` and the metric columns.
    metrics : dict
        Display label -> record column (e.g. :data:`spae_core.paper.FIGURE6_METRICS`); columns
        missing from ``records`` (not measured) are left out.
    losses : sequence of str, optional
        Losses compared (default: every loss in ``records``).
    lower_is_better : collection of str
        Record columns where lower is better (e.g. an error): the best is the lowest mean.
    alpha : float, default=0.05
        Family-wise error rate of each cell's comparisons.

    Returns
    -------
    DataFrame
        :data:`BEST_LOSS_TABLE_COLUMNS`: ``outcome`` is *separated* (the best is separated from
        every other loss), *tied* (some loss is not separated from it: ``tied``), *untestable*
        (the best cannot be tested against the runner-up: :func:`spae_core.verdicts.is_untestable`)
        or *undefined* (the metric is NaN on every run, e.g. DBSCAN found one cluster: no best);
        ``best_mean`` is in the metric's own direction.
    """
    if losses is not None:
        records = records[records["loss"].isin(losses)]
    rows = []
    for label, column in metrics.items():
        if column not in records.columns:
            continue
        sign = -1.0 if column in lower_is_better else 1.0
        signed = records.assign(**{column: sign * records[column]})
        for _, best in paired_best(signed, column, alpha=alpha).iterrows():
            testable = not is_untestable(best["n_pairs"], best["p_runner_up"])
            outcome = (UNDEFINED if best["best"] is None
                       else UNTESTABLE if not testable else "separated" if best["separated"] else "tied")
            rows.append({"dataset": best["dataset"], "metric": label, "outcome": outcome, "best": best["best"],
                         "best_mean": sign * best["best_mean"],
                         "tied": ", ".join(best["tied"]) or ("none" if outcome in ("separated", "tied") else MISSING),
                         "runner_up": best["runner_up"], "p_runner_up": best["p_runner_up"],
                         "n_pairs": int(best["n_pairs"])})
    return pd.DataFrame(rows, columns=BEST_LOSS_TABLE_COLUMNS)


def untestable_cells(figure6: pd.DataFrame) -> str:
    """One line naming the untestable cells of :func:`figure6_table` (they count in no verdict), or "none"."""
    cells = figure6[figure6["verdict"] == UNTESTABLE]
    named = ", ".join(f"{dataset} / {metric}" for dataset, metric in zip(cells["dataset"], cells["metric"]))
    return f"untestable (fewer than 2 paired seeds), not counted: {named or 'none'}"


def _paper_winners(paper: set | None) -> str:
    """The paper's winner(s) of a Figure 6 cell as loss keys (shown in the paper's spelling by
    :func:`spae_core.table_format.readable`), "All" for its all-tied cells, "—" where it has none."""
    if not paper:
        return "—"
    return ", ".join("All" if loss == "all" else loss for loss in sorted(paper))


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


def figure6_column_variants(records: pd.DataFrame, metric: str, columns: dict) -> pd.DataFrame:
    """One Figure 6 metric's verdicts when it is measured by each of several record columns.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metric : str
        A Figure 6 metric label (a key of :data:`spae_core.paper.FIGURE6_METRICS`).
    columns : dict of variant label -> record column
        E.g. ``{"t = 0.5": "contingency", "t = p_j": "contingency_rate_threshold"}``.

    Returns
    -------
    DataFrame
        The rows of :func:`figure6_variants` for ``metric`` (their index kept).
    """
    table = figure6_variants({label: (records, {metric: column}) for label, column in columns.items()})
    return table[table["metric"] == metric]


def dbscan_eps_verdicts(records: pd.DataFrame) -> pd.DataFrame:
    """Figure 6's DBSCAN cell at each multiple of the rule's ``eps`` (:func:`spae_core.evaluation.dbscan_eps_columns`)."""
    from .evaluation import dbscan_eps_columns

    columns = {f"eps {factor:g} x rule": column for factor, column in dbscan_eps_columns("ch_dbscan").items()}
    return figure6_column_variants(records, "CH Score (DBScan)", columns)


def dbscan_clusters_by_eps(records: pd.DataFrame) -> pd.DataFrame:
    """Mean number of DBSCAN clusters over runs, per dataset (rows) and multiple of the rule's ``eps`` (columns)."""
    from .evaluation import dbscan_eps_columns
    from .statistics import summarise

    columns = dbscan_eps_columns("dbscan_clusters")
    clusters = summarise(records, list(columns.values()), by=("dataset",))
    eps = clusters["metric"].map({column: f"{factor:g} x rule" for factor, column in columns.items()})
    return clusters.assign(eps=eps).pivot(index="dataset", columns="eps", values="mean")


def figure6_sweep(runs: pd.DataFrame, parameter: str, label: str, others: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`figure6_variants` with one variant per value of a swept ``parameter``, ascending.

    Parameters
    ----------
    runs : DataFrame
        The sweep's records (e.g. the learning-rate study), with a ``parameter`` column.
    parameter : str
        The swept record column, e.g. ``"learning_rate"`` or ``"beta"``.
    label : str
        Each variant's label, formatted from the value, e.g. ``"lr={:g}"``.
    others : DataFrame, optional
        Runs of the losses the sweep leaves alone (e.g. the main grid when only WMSE and WBCE are
        swept): their rows on the sweep's datasets, of losses the sweep does not run, join every
        variant.
    """
    context = None
    if others is not None:
        context = others[others["dataset"].isin(set(runs["dataset"])) & ~others["loss"].isin(set(runs["loss"]))]
    variants = {label.format(value): runs[runs[parameter] == value] for value in sorted(runs[parameter].unique())}
    if context is not None:
        variants = {name: pd.concat([context, frame]) for name, frame in variants.items()}
    return figure6_variants(variants)


def changed_cells(verdicts: dict) -> pd.DataFrame:
    """How many Figure 6 cells each choice moves: ``choice``, ``cells``, ``cells that change``.

    ``verdicts`` maps each choice to its :func:`figure6_variants` table (with ``changes``).
    """
    return pd.DataFrame({
        "choice": list(verdicts),
        "cells": [len(table) for table in verdicts.values()],
        "cells that change": [int(table["changes"].sum()) for table in verdicts.values()],
    })


def baseline_notes(baselines: pd.DataFrame) -> pd.DataFrame:
    """``dataset``, ``model`` and ``notes`` of :func:`spae_core.baselines.baseline_records`, the notes as sentences.

    The records store each baseline's notes as a JSON list of sentences; here they are one text.
    """
    notes = [" ".join(json.loads(text)) for text in baselines["notes"]]
    return baselines[["dataset", "model"]].assign(notes=notes).reset_index(drop=True)


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
        :func:`spae_core.baselines.raw_input_downstream` (``dataset``, ``metric`` and its value
        columns ``raw_input``, ``raw_input_standardised``), one column each, named in words
        (``raw input``, ``raw input standardised``); they count as baselines in ``outcome``.
    losses : sequence of str
        The autoencoder losses whose best (highest mean over seeds) represents the paper's method.
    peer : str
        A loss shown in its own column (the Mult-DAE likelihood), not counted among ``losses``.

    Returns
    -------
    DataFrame
        Index (dataset, metric); ``autoencoder`` (best of ``losses``: name, mean, 95% interval),
        ``peer``, one column per baseline and per value column of ``reference``, and ``outcome``: *autoencoder ahead*
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
            here = reference[(reference["dataset"] == dataset) & (reference["metric"] == metric)]
            for column in _reference_columns(reference):
                values[column.replace("_", " ")] = float(here[column].iloc[0]) if len(here) else float("nan")
        for name, value in values.items():
            row[name] = MISSING if pd.isna(value) else f"{value:.{digits}f}"
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
    ``alpha``; the number of paired seeds is in the column axis' name, and ``(n=k)`` marks a cell
    with fewer.

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
    seeds = int(rows["n_pairs"].max())
    cells = rows.assign(cell=[
        _interval_cell(f"{d:+.{digits}f}", f"[{lo:+.{digits}f}, {hi:+.{digits}f}]{' *' if p < alpha else ''}", n, seeds)
        for d, lo, hi, p, n in zip(rows["difference"], rows["ci_low"], rows["ci_high"], rows["p_holm"], rows["n_pairs"])
    ])
    index = list(by) if len(metrics) == 1 else [*by, "metric"]
    table = cells.pivot_table(index=index, columns=candidate, values="cell", aggfunc="first", sort=False)
    table = table.reindex(columns=list(dict.fromkeys(rows[candidate])))
    table.columns.name = _seeds_heading(f"{candidate} - {reference}", seeds, rows["n_pairs"])
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
