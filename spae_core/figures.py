"""The paper's figures, redrawn from stored results (the top layer: results + statistics -> plots).

Every function takes tidy DataFrames (from :mod:`spae_core.experiments` and
:mod:`spae_core.statistics`) and returns a matplotlib ``Figure``; none trains or evaluates
anything. Error bars are 95% intervals over seeds, inside each metric's range
(:func:`spae_core.statistics.mean_ci`).

Every figure is sized for the book's text column by one rule: :func:`_figure` makes it
:data:`FIGURE_WIDTH_IN` wide whatever its number of panels (panels wrap to more rows, at most
two per row unless asked), and :func:`_finish` sets its text sizes (none under
:data:`SMALLEST_FONT_PT`) and puts one legend for all panels below them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .losses import expected_loss, get_loss
from .metrics import metric_range
from .paper import PAPER_LOSSES
from .statistics import mean_ci
from .table_format import loss_name

__all__ = [
    "LOSS_ORDER",
    "bce_soft_target_figure",
    "downstream_comparison",
    "embedding_comparison",
    "reconstruction_comparison",
    "wmse_erratum_figure",
    "expected_loss_figure",
    "loss_comparison",
    "metric_bars_figure",
    "metric_bars_table",
    "parameter_sweep_figure",
    "reconstruction_distribution_figure",
    "training_curves_figure",
]

#: Losses in the order the paper discusses them, then the peer likelihood.
LOSS_ORDER = (*PAPER_LOSSES, "multinomial")
_COLOURS = dict(zip(LOSS_ORDER, plt.get_cmap("tab10").colors))


def _ordered_losses(losses) -> list[str]:
    present = list(dict.fromkeys(losses))
    return [loss for loss in LOSS_ORDER if loss in present] + [loss for loss in present if loss not in LOSS_ORDER]


#: The widest a figure is shown in the book: its text column at a 1400 px window
#: (sphinx-book-theme 1.3.0; Chromium shows a wider image in a numbered figure at 756 CSS px, a
#: bare output image at 772), in inches of 96 CSS px.
COLUMN_WIDTH_IN = 756 / 96
#: Every figure's width. Narrower than the column, so that the inline backend's tight box (which
#: may add a few hundredths of an inch) keeps it narrower: the column shows it at
#: ``COLUMN_WIDTH_IN / FIGURE_WIDTH_IN`` >= 1 of its size, and a font of s pt reads as at least s pt.
FIGURE_WIDTH_IN = 7.5
#: Pixels per inch of the stored PNG: 1125 px across, more than the column, so the browser scales
#: it down to exactly the column (sharp on high-density screens too).
FIGURE_DPI = 150
#: No text of a figure is smaller (the ``n/a`` marks and notes are this size).
SMALLEST_FONT_PT = 8
#: Panels per row unless a figure asks for more: about 3.7 in each.
PANELS_PER_ROW = 2
# Text sizes in pt. Set on the artists, not through an rc_context around a factory: leaving such
# a context restores `interactive`, which the inline backend switches on when a notebook's first
# figure loads it, and the notebook's later figures would no longer be shown.
_TITLE_PT, _LABEL_PT, _TICK_PT, _LEGEND_PT = 10, 9, 8.5, 9
# Legend geometry at 9 pt, in pt: the width a row may use (the figure's, less padding), an average
# character, and a handle with its gaps (2 + 0.8 + 2 em); and the height of one row, in inches.
_LEGEND_ROW_PT, _LEGEND_CHAR_PT, _LEGEND_HANDLE_PT = 72 * FIGURE_WIDTH_IN - 20, 5, 43
_LEGEND_ROW_IN = 0.22


def _figure(n_panels: int, ncols: int | None = None, panel_height: float = 2.4, width_ratios=None,
            sharey: bool = False):
    """A figure of :data:`FIGURE_WIDTH_IN` with ``n_panels`` axes and no other: the one sizing rule.

    Panels fill rows of ``ncols`` (default up to :data:`PANELS_PER_ROW`): more panels make more
    rows, never a wider figure; a last row with fewer panels is centred, with no empty axes.
    ``width_ratios`` puts all panels in one row with these relative widths. Tick labels are pinned
    to the book's size here because matplotlib creates ticks lazily, after the factory returns.
    """
    if n_panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {n_panels}.")
    ncols = n_panels if width_ratios is not None else min(n_panels, ncols or PANELS_PER_ROW)
    nrows = -(-n_panels // ncols)
    fig = plt.figure(figsize=(FIGURE_WIDTH_IN, panel_height * nrows), dpi=FIGURE_DPI, layout="constrained")
    if width_ratios is not None:
        grid = fig.add_gridspec(1, n_panels, width_ratios=width_ratios)
        spans = [grid[0, i] for i in range(n_panels)]
    else:
        # Each panel spans two half-columns, so that a short last row can be shifted by one to the centre.
        grid = fig.add_gridspec(nrows, 2 * ncols)
        spans = []
        for i in range(n_panels):
            row, col = divmod(i, ncols)
            shift = ncols - min(ncols, n_panels - row * ncols)
            spans.append(grid[row, shift + 2 * col:shift + 2 * col + 2])
    axes = []
    for span in spans:
        axes.append(fig.add_subplot(span, sharey=axes[0] if sharey and axes else None))
        axes[-1].tick_params(labelsize=_TICK_PT)
    return fig, axes


def _finish(fig: Figure, axes, legend_from=None, extra=(), title: str | None = None):
    """Every factory's last step: the book's text sizes on ``axes``, and one legend below them.

    The legend has each label of ``legend_from`` (default ``axes``) once, in drawing order, then
    ``extra``, a sequence of ``(handle, label)``; its ``title`` is a note on the whole figure. The
    figure grows by the legend's height, so the panels keep theirs; entries fill as many columns
    as their longest label allows.
    """
    for ax in axes:
        ax.title.set_fontsize(_TITLE_PT)
        ax.xaxis.label.set_fontsize(_LABEL_PT)
        ax.yaxis.label.set_fontsize(_LABEL_PT)
    entries = {}
    for ax in axes if legend_from is None else legend_from:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    for handle, label in extra:
        entries.setdefault(label, handle)
    if not entries:
        return None
    column_pt = _LEGEND_CHAR_PT * max(map(len, entries)) + _LEGEND_HANDLE_PT
    ncols = max(1, min(len(entries), int(_LEGEND_ROW_PT // column_pt)))
    rows = -(-len(entries) // ncols) + (title is not None)
    fig.set_figheight(fig.get_figheight() + rows * _LEGEND_ROW_IN + 0.1)
    return fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncols=ncols, title=title,
                      fontsize=_LEGEND_PT, title_fontsize=_LEGEND_PT, frameon=False)


def expected_loss_figure(target_sparsity: float = 0.999, losses=PAPER_LOSSES,
                         recon_sparsity=None, **kwargs) -> Figure:
    """Figure 1: expected loss against a target of sparsity ``target_sparsity`` as ``s(x_hat)`` grows.

    Curves come from :func:`spae_core.losses.expected_loss` (its docstring states the model of
    the random reconstruction). Each curve is divided by its value at the least sparse
    reconstruction so that losses of different scales share one axis.
    """
    s_hat = np.linspace(0.5, 0.999, 200) if recon_sparsity is None else np.asarray(recon_sparsity)
    fig, (ax_abs, ax_rel) = _figure(2, panel_height=2.6)
    for loss in losses:
        curve = expected_loss(loss, target_sparsity, s_hat, **kwargs)
        ax_abs.plot(s_hat, curve, label=loss_name(loss), color=_COLOURS.get(loss))
        ax_rel.plot(s_hat, curve / curve[0], label=loss_name(loss), color=_COLOURS.get(loss))
    ax_abs.set(xlabel=r"reconstruction sparsity $s(\hat{x})$", ylabel="expected loss per entry", yscale="log",
               title=f"target sparsity $s(x)$ = {target_sparsity}")
    ax_rel.set(xlabel=r"reconstruction sparsity $s(\hat{x})$", ylabel=r"relative to $s(\hat{x})$ = 0.5",
               title="same curves, relative to their start", yscale="log")
    _finish(fig, [ax_abs, ax_rel], legend_from=[ax_abs])
    return fig


def training_curves_figure(histories: pd.DataFrame, value: str = "val_loss", panel_by=("dataset",),
                           ncols: int | None = None) -> Figure:
    """Validation loss per epoch, relative to epoch 1, mean over seeds with a 95% band; one panel per dataset.

    Losses have different scales, so each run's curve is divided by its first value. Where runs
    of one loss stopped at different epochs, the band at a late epoch covers only the runs still
    going (the count shrinks; a single run draws a line without a band).

    Parameters
    ----------
    histories : DataFrame
        From :func:`spae_core.experiments.load_histories`.
    value : str, default="val_loss"
    panel_by : sequence of str, default=("dataset",)
        Columns whose combinations get one panel each, e.g. ``("dataset", "learning_rate")``.
    ncols : int, optional
        Panels per row (default: up to :data:`PANELS_PER_ROW`).
    """
    panel_by = list(panel_by)
    keys = list(dict.fromkeys(histories[panel_by].itertuples(index=False, name=None)))
    fig, axes = _figure(len(keys), ncols=ncols)
    for ax, key in zip(axes, keys):
        subset = histories[(histories[panel_by] == pd.Series(key, index=panel_by)).all(axis=1)]
        for loss in _ordered_losses(subset["loss"]):
            runs = subset[subset["loss"] == loss]
            relative = runs[value] / runs.groupby("run_name")[value].transform("first")
            by_epoch = relative.groupby(runs["epoch"])
            stats = np.array([mean_ci(v, value_range=metric_range(value).ratio_range())[:3] for _, v in by_epoch])
            epochs = np.array(list(by_epoch.groups))
            ax.plot(epochs, stats[:, 0], color=_COLOURS.get(loss), label=loss_name(loss))
            ax.fill_between(epochs, stats[:, 1], stats[:, 2], color=_COLOURS.get(loss), alpha=0.2, linewidth=0)
        # Strings (dataset names) speak for themselves; numbers need their setting's name.
        title = ", ".join(f"{c.replace('learning_rate', 'lr')}={v:g}" if isinstance(v, float) else str(v)
                          for c, v in zip(panel_by, key))
        ax.set(title=title, xlabel="epoch", ylabel=f"{value.replace('_', ' ')} / epoch 1")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _finish(fig, axes)
    return fig


def _in_order(values, order=None) -> list:
    """The distinct ``values`` in ``order`` (those it lists), or in order of first appearance."""
    present = list(dict.fromkeys(values))
    return present if order is None else [v for v in order if v in set(present)]


def _bar_mark(best: pd.DataFrame | None, dataset, metric, loss: str) -> str:
    """How the bar of ``loss`` in one (dataset, metric) cell is marked: ``"best"``, ``"tied"`` or ``""``.

    ``"best"`` (hatched) for the cell's best loss where it is separated (a ``best`` table without
    a ``separated`` column counts every best as separated); ``"tied"`` (outlined) for a best that
    is not separated and for the losses tied with it.
    """
    if best is None:
        return ""
    cell = best[(best["dataset"] == dataset) & (best["metric"] == metric)]
    if cell.empty:
        return ""
    separated = cell["separated"].iloc[0] if "separated" in cell.columns else True
    if cell["best"].iloc[0] == loss and separated:
        return "best"
    if loss in cell["tied"].iloc[0] or cell["best"].iloc[0] == loss:
        return "tied"
    return ""


def metric_bars_table(summary: pd.DataFrame, metrics, best: pd.DataFrame | None = None, datasets=None,
                      panels_by: str = "metric") -> pd.DataFrame:
    """What :func:`metric_bars_figure` draws: one row per bar, in drawing order.

    Panels are the metrics (in ``metrics``' order) or the datasets (in ``datasets``' order, else
    as they come); within a panel the x groups are the datasets or the metrics in the same way,
    and the losses are in :data:`LOSS_ORDER`, side by side in a group of total width 0.8. Every
    loss of a panel has a bar in every group of the panel (NaN where it has no value).

    Returns
    -------
    DataFrame
        ``panel``, ``group`` (the x group's name), ``slot`` (its position), ``dataset``, ``metric``,
        ``loss``, ``x`` (the bar's centre), ``width``, ``mean``, ``err_low``, ``err_high`` (distances
        to the 95% interval's ends), ``mark``: ``"best"`` (hatched: the cell's best, separated),
        ``"tied"`` (outlined: a best not separated, or a loss tied with it) or ``""``.
    """
    if panels_by not in ("metric", "dataset"):
        raise ValueError(f"panels_by must be 'metric' or 'dataset', got {panels_by!r}.")
    rows = summary[summary["metric"].isin(metrics)]
    if datasets is not None:
        rows = rows[rows["dataset"].isin(datasets)]
    group_by = "dataset" if panels_by == "metric" else "metric"
    order = {"metric": list(metrics), "dataset": None if datasets is None else list(datasets)}
    frames = []
    for panel in _in_order(rows[panels_by], order[panels_by]):
        panel_rows = rows[rows[panels_by] == panel]
        groups = _in_order(panel_rows[group_by], order[group_by])
        losses = _ordered_losses(panel_rows["loss"])
        width = 0.8 / max(len(losses), 1)
        for i, loss in enumerate(losses):
            cells = panel_rows[panel_rows["loss"] == loss].set_index(group_by).reindex(groups)
            frames.append(pd.DataFrame({
                "panel": panel, "group": groups, "slot": np.arange(len(groups)), panels_by: panel, group_by: groups,
                "loss": loss, "x": np.arange(len(groups)) + (i - (len(losses) - 1) / 2) * width, "width": width,
                "mean": cells["mean"].to_numpy(), "err_low": (cells["mean"] - cells["ci_low"]).to_numpy(),
                "err_high": (cells["ci_high"] - cells["mean"]).to_numpy()}))
    columns = ["panel", "group", "slot", "dataset", "metric", "loss", "x", "width", "mean", "err_low", "err_high"]
    bars = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    bars["mark"] = [_bar_mark(best, d, m, loss) for d, m, loss in zip(bars["dataset"], bars["metric"], bars["loss"])]
    return bars


#: Groups of bars that fit side by side in one row of the column (about 0.9 in per group of seven bars).
_BAR_GROUPS_PER_ROW = 8


def _bar_axes(bars: pd.DataFrame, panels_by: str):
    """The figure and one axes per panel: a grid of equal panels, or one row whose widths follow the groups.

    Panels by dataset (each with its own metrics, in numbers that differ widely) share one row in
    proportion to their groups where all groups fit in :data:`_BAR_GROUPS_PER_ROW`; otherwise each
    gets a row of its own. Panels by metric (the same datasets in each) wrap like any panels.
    """
    panels = list(dict.fromkeys(bars["panel"]))
    if panels_by == "metric":
        return _figure(len(panels), panel_height=2.6)
    groups_per_panel = [bars.loc[bars["panel"] == p, "group"].nunique() for p in panels]
    if sum(groups_per_panel) <= _BAR_GROUPS_PER_ROW:
        return _figure(len(panels), width_ratios=groups_per_panel, panel_height=2.6)
    return _figure(len(panels), ncols=1, panel_height=2.6)


def _bar_legend_extras(bars: pd.DataFrame) -> list:
    """Legend entries for what the bars' marks mean, only for the marks that occur."""
    extras = []
    if (bars["mark"] == "best").any():
        extras.append((Patch(facecolor="white", edgecolor="black", hatch="///"), "hatched: best, separated"))
    if (bars["mark"] == "tied").any():
        extras.append((Patch(facecolor="white", edgecolor="black"), "outlined: tied for best"))
    return extras


def _draw_bars(ax, bars: pd.DataFrame) -> None:
    """One panel's bars with their intervals, one ``ax.bar`` per loss; the best hatched, ties outlined.

    A bar whose mean is undefined (NaN) would be silently absent: an ``n/a`` mark stands at its place.
    """
    for x, width in bars.loc[bars["mean"].isna(), ["x", "width"]].to_numpy():
        ax.text(x, 0.02, "n/a", transform=ax.get_xaxis_transform(), rotation=90, ha="center", va="bottom",
                fontsize=SMALLEST_FONT_PT, color="dimgrey")
        # A NaN bar adds nothing to the data limits: without its slot the x-axis can shrink to the
        # defined bars and leave the n/a marks outside the axes (where the layout then collapses).
        ax.update_datalim([(x - width / 2, 0.0), (x + width / 2, 0.0)], updatey=False)
    for loss, rows in bars.groupby("loss", sort=False):
        err = np.vstack([rows["err_low"], rows["err_high"]])
        drawn = ax.bar(rows["x"].to_numpy(), rows["mean"].to_numpy(), rows["width"].iloc[0], yerr=err, capsize=2,
                       color=_COLOURS.get(loss), label=loss_name(loss))
        for bar, mark in zip(drawn, rows["mark"]):
            if mark == "best":
                bar.set_hatch("///")
            if mark:
                bar.set_edgecolor("black")


def metric_bars_figure(summary: pd.DataFrame, metrics, labels: dict | None = None, best: pd.DataFrame | None = None,
                       datasets=None, panels_by: str = "metric") -> Figure:
    """Figures 2, 4, 5: bars per loss with 95% intervals, grouped by dataset or metric; the best loss hatched.

    What is drawn is :func:`metric_bars_table`; this function draws it. A value that is undefined
    (NaN mean, e.g. a metric that does not apply to a dataset) has no bar but an ``n/a`` mark in its
    place, and the legend's title says so.

    Parameters
    ----------
    summary : DataFrame
        From :func:`spae_core.statistics.summarise` (``dataset``, ``loss``, ``metric``, ``mean``,
        ``ci_low``, ``ci_high``).
    metrics : sequence of str
        Which metrics, in order.
    labels : dict, optional
        Display names of metrics.
    best : DataFrame, optional
        From :func:`spae_core.statistics.paired_best_per_metric` (or ``best_per_group``): the
        best loss of each dataset and metric is hatched where it is separated from every other
        loss; a best that is not separated and the losses tied with it are outlined.
    datasets : sequence of str, optional
        Which datasets, in order; default all in ``summary``.
    panels_by : {"metric", "dataset"}, default="metric"
        One panel per metric with datasets along the x axis (Figures 2 and 4), or one panel per
        dataset with its metrics along the x axis (Figure 5, where each dataset has its own
        downstream metrics).
    """
    bars = metric_bars_table(summary, metrics, best=best, datasets=datasets, panels_by=panels_by)
    labels = labels or {}
    fig, axes = _bar_axes(bars, panels_by)
    for ax, (panel, panel_bars) in zip(axes, bars.groupby("panel", sort=False)):
        _draw_bars(ax, panel_bars)
        groups = panel_bars.drop_duplicates("slot")["group"]
        ax.set_xticks(np.arange(len(groups)), [labels.get(g, g) for g in groups], rotation=20, ha="right")
        ax.set_title(labels.get(panel, panel))
    undefined = "n/a: value undefined, no bar" if bars["mean"].isna().any() else None
    _finish(fig, axes, extra=_bar_legend_extras(bars), title=undefined)
    return fig


def loss_comparison(records: pd.DataFrame, metrics, also=(), labels: dict | None = None, panels_by: str = "metric",
                    defined_only: bool = False) -> tuple[pd.DataFrame, Figure]:
    """Figures 2, 4, 5 from the runs: the seed summary and the bars of :func:`metric_bars_figure`.

    Parameters
    ----------
    records : DataFrame
        One row per run.
    metrics : sequence of str
        The metrics shown; the best loss of each dataset and metric is marked as
        :func:`spae_core.statistics.paired_best_per_metric` finds it.
    also : sequence of str
        Further metrics summarised (for tables) but not drawn.
    labels : dict, optional
        Display names of metrics.
    panels_by : {"metric", "dataset"}, default="metric"
    defined_only : bool, default=False
        Leave out the summary rows whose mean is undefined, and draw only the metrics defined on
        some dataset (e.g. the downstream metrics, each defined on one dataset).

    Returns
    -------
    summary : DataFrame
        :func:`spae_core.statistics.summarise` of ``metrics`` and ``also``.
    figure : Figure
    """
    from .statistics import paired_best_per_metric, summarise

    summary = summarise(records, [*metrics, *also])
    if defined_only:
        summary = summary.dropna(subset=["mean"])
        metrics = list(dict.fromkeys(summary["metric"]))
    best = paired_best_per_metric(records, list(metrics))
    return summary, metric_bars_figure(summary, list(metrics), labels=labels, best=best, panels_by=panels_by)


def reconstruction_comparison(records: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """The paper's Figure 2 from the runs: (a) average precision and (b) pairwise contingency per loss.

    :func:`loss_comparison`; the summary also holds the share of entries above the threshold
    (``mass_above_threshold``, Figure 3's table).
    """
    return loss_comparison(records, ["ap_macro", "contingency"], also=["mass_above_threshold"],
                           labels={"ap_macro": "(a) average precision", "contingency": "(b) pairwise contingency"})


def embedding_comparison(records: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """The paper's Figure 4 from the runs: (a) trustworthiness, (b) CH on DBSCAN clusters and (c) CH on
    sparsity groups, both CH scores as a percentage of the best mean on their dataset.

    :func:`loss_comparison`; the summary also holds DBSCAN's cluster count and noise share.
    """
    from .statistics import percent_of_best

    scaled = records.assign(ch_dbscan_pct=percent_of_best(records, "ch_dbscan"),
                            ch_sparsity_pct=percent_of_best(records, "ch_sparsity"))
    return loss_comparison(
        scaled, ["trustworthiness", "ch_dbscan_pct", "ch_sparsity_pct"], also=["dbscan_clusters", "dbscan_noise_fraction"],
        labels={"trustworthiness": "(a) trustworthiness", "ch_dbscan_pct": "(b) CH on DBSCAN clusters, % of best",
                "ch_sparsity_pct": "(c) CH on sparsity groups, % of best"})


def downstream_comparison(records: pd.DataFrame) -> tuple[pd.DataFrame, Figure]:
    """The paper's Figure 5 from the runs: the downstream scores each dataset defines, one panel per dataset.

    :func:`loss_comparison` of the records' downstream fields
    (:func:`spae_core.evaluation.downstream_metrics`), undefined ones left out.
    """
    from .evaluation import downstream_metrics

    return loss_comparison(records, downstream_metrics(records.columns), panels_by="dataset", defined_only=True)


def reconstruction_distribution_figure(distributions: pd.DataFrame) -> Figure:
    """Figure 3: density of reconstruction values per loss (log scale), mean over seeds; one panel per dataset.

    The band is the 95% interval over seeds of each bin's density; where its lower end is not
    positive, a log axis cannot show it and the band runs to the bottom of the panel. The dashed
    line marks the threshold. The mass above it is a table of its own (``mass_above_threshold``
    in :func:`spae_core.statistics.summarise`): seven intervals per panel do not fit a legend
    that can be read at the column's width.
    """
    datasets = list(dict.fromkeys(distributions["dataset"]))
    fig, axes = _figure(len(datasets))
    for ax, dataset in zip(axes, datasets):
        subset = distributions[distributions["dataset"] == dataset]
        top_of_bands = float(subset["density"].max())
        for loss in _ordered_losses(subset["loss"]):
            runs = subset[subset["loss"] == loss]
            by_bin = runs.groupby(["bin_left", "bin_right"], sort=True)["density"]
            stats = np.array([mean_ci(values, value_range=metric_range("density"))[:3] for _, values in by_bin])
            edges = np.array(list(by_bin.groups))
            centres = edges.mean(axis=1)
            # Empty bins have density 0, which a log axis cannot show: they are drawn as gaps.
            density = np.where(stats[:, 0] > 0, stats[:, 0], np.nan)
            top_of_bands = max(top_of_bands, float(np.nanmax(stats[:, 2])))
            ax.plot(centres, density, marker=".", color=_COLOURS.get(loss), label=loss_name(loss))
            ax.fill_between(centres, np.where(stats[:, 1] > 0, stats[:, 1], 1e-300),
                            np.where(stats[:, 2] > 0, stats[:, 2], np.nan), color=_COLOURS.get(loss), alpha=0.15,
                            linewidth=0)
        threshold = subset["threshold"].iloc[0]
        ax.axvline(threshold, linestyle="--", color="grey", label=f"threshold t = {threshold:g}")
        positive = subset["density"][subset["density"] > 0]
        ax.set(title=dataset, xlabel=r"reconstruction value $\hat{x}$", ylabel="density", yscale="log", xlim=(0, 1))
        if len(positive):
            # The bands' stand-in lower end (1e-300) must not stretch a log axis over 300 decades.
            ax.set_ylim(positive.min() / 2, top_of_bands * 2)
    _finish(fig, axes)
    return fig


def _loss_curve(loss, x_hat, target: float, gradient: bool = False):
    """A loss module's per-entry value for a constant ``target`` as a function of the reconstruction ``x_hat``.

    ``x_hat`` (probabilities in (0, 1), a float64 tensor) is turned into the logits the loss
    takes; with ``gradient``, the derivative of the loss with respect to ``x_hat`` comes too, by
    autograd through the module itself. Returns ``(values, derivative or None)``, detached.
    """
    import torch

    p = x_hat.clone().requires_grad_() if gradient else x_hat
    logits = torch.log(p) - torch.log1p(-p)
    values = loss(logits, torch.full_like(p, target))
    if not gradient:
        return values, None
    values.sum().backward()
    return values.detach(), p.grad


def bce_soft_target_figure(targets=(0.05, 0.2, 0.5, 0.8, 0.95)) -> Figure:
    """BCE against targets in [0, 1] (not only 0/1): loss and gradient as functions of ``x_hat``.

    The loss of a soft target ``x`` is minimal at ``x_hat = x`` but its minimum is the binary
    entropy ``H(x) > 0``, not 0; its gradient with respect to ``x_hat``,
    ``(x_hat - x) / (x_hat (1 - x_hat))``, grows near 0 and 1, so extreme targets pull harder than
    mid-tones. Curves are the BCE module itself, differentiated by autograd (:func:`_loss_curve`).
    """
    import torch

    bce = get_loss("bce", reduction="none", check_target=False)
    x_hat = torch.linspace(0.01, 0.99, 197, dtype=torch.float64)
    fig, (ax_loss, ax_grad) = _figure(2, panel_height=2.6)
    for x in targets:
        loss, gradient = _loss_curve(bce, x_hat, x, gradient=True)
        line, = ax_loss.plot(x_hat, loss, label=f"x = {x}")
        entropy = -(x * np.log(x) + (1 - x) * np.log(1 - x))
        ax_loss.plot([x], [entropy], "o", color=line.get_color())
        ax_grad.plot(x_hat, gradient, color=line.get_color(), label=f"x = {x}")
    ax_loss.set(xlabel=r"reconstruction $\hat{x}$", ylabel="BCE", title="minimum (dots) at x: entropy H(x) > 0")
    ax_grad.axhline(0, color="grey", linewidth=0.5)
    ax_grad.set(xlabel=r"reconstruction $\hat{x}$", ylabel=r"$\partial\,$BCE$/\partial \hat{x}$", ylim=(-30, 30),
                title="gradient steepens towards 0 and 1")
    _finish(fig, [ax_loss, ax_grad], legend_from=[ax_loss])
    return fig


def wmse_erratum_figure(alpha: float = 4.0) -> Figure:
    """Eq. 5 as printed vs corrected: the per-entry WMSE of a zero and of a one target.

    As printed, a zero target also pays ``alpha (1 - x_hat)^2``, so its loss is minimal at
    ``alpha / (1 + alpha)``, above 0.5: every output is pushed towards 1.
    """
    import torch

    x_hat = torch.linspace(0.001, 0.999, 200, dtype=torch.float64)
    fig, axes = _figure(2, panel_height=2.6, sharey=True)
    for ax, target in zip(axes, (0.0, 1.0)):
        for as_printed, style in ((False, "-"), (True, "--")):
            values, _ = _loss_curve(get_loss("wmse", alpha=alpha, as_printed=as_printed, reduction="none"), x_hat, target)
            label = "as printed (Eq. 5)" if as_printed else "corrected (x_j restored)"
            ax.plot(x_hat, values, style, label=label)
            ax.plot(x_hat[values.argmin()], values.min(), "o", color=ax.lines[-1].get_color())
        ax.set(title=f"target x = {int(target)}, alpha = {alpha}", xlabel=r"reconstruction $\hat{x}$")
    axes[0].set_ylabel("per-entry WMSE")
    axes[1].tick_params(labelleft=False)
    _finish(fig, axes, legend_from=axes[:1])
    return fig


def parameter_sweep_figure(summary: pd.DataFrame, parameter: str, metrics, line_by="dataset",
                           labels: dict | None = None) -> Figure:
    """Metrics against one setting (e.g. ``ovr_lambda``): one panel per metric, one line per ``line_by`` value.

    The setting's values are placed at equal steps in increasing order (a sweep usually includes
    0, which a log axis cannot show); each point is the mean over seeds with its 95% interval.

    Parameters
    ----------
    summary : DataFrame
        From :func:`spae_core.statistics.summarise` grouped by at least ``parameter`` and
        ``line_by`` (columns ``metric``, ``mean``, ``ci_low``, ``ci_high``).
    parameter : str
    metrics : sequence of str
        Which metrics, one panel each, in order.
    line_by : str or sequence of str, default="dataset"
        Column(s) whose values (or combinations of values) get one line each.
    labels : dict, optional
        Display names of metrics.
    """
    labels = labels or {}
    line_by = [line_by] if isinstance(line_by, str) else list(line_by)
    missing = [c for c in (parameter, *line_by, "metric", "mean", "ci_low", "ci_high") if c not in summary.columns]
    if missing:
        raise ValueError(f"summary has no column(s) {missing}; summarise by {(parameter, *line_by)}.")
    metrics = [m for m in metrics if m in set(summary["metric"])]
    if not metrics:
        raise ValueError(f"none of the metrics is in the summary; it has {sorted(summary['metric'].unique())}.")
    values = sorted(summary[parameter].unique())
    position = {v: i for i, v in enumerate(values)}
    fig, axes = _figure(len(metrics))
    for ax, metric in zip(axes, metrics):
        rows = summary[summary["metric"] == metric]
        for line, cells in rows.groupby(line_by, sort=False):
            line = line if isinstance(line, tuple) else (line,)
            cells = cells.sort_values(parameter)
            x = cells[parameter].map(position).to_numpy(dtype=float)
            err = np.vstack([cells["mean"] - cells["ci_low"], cells["ci_high"] - cells["mean"]])
            ax.errorbar(x, cells["mean"], yerr=err, marker="o", capsize=3,
                        label=", ".join(f"{c}={v}" for c, v in zip(line_by, line)))
        ax.set_xticks(range(len(values)), [f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v) for v in values])
        ax.set_xlabel(parameter)
        ax.set_title(labels.get(metric, metric))
    _finish(fig, axes)
    return fig
