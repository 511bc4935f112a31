"""Every figure is legible where the book shows it: its text column, at a 1400 px window.

What the browser does is computed here independently of :mod:`spae_core.figures`' sizing rule:
the inline backend saves the figure as a PNG at the figure's dpi with ``bbox_inches="tight"``;
the page shows it at its natural width, or scaled down to the column when it is wider (never
up). A font of ``s`` pt covers ``s * dpi / 72`` PNG pixels, shown at ``min(1, column_px / png_px)``
of their size on a grid of 96 CSS pixels per inch: ``s * dpi / 96 * min(1, column_px / png_px)`` pt.
"""

import io
import warnings

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from matplotlib.text import Text

from spae_core.figures import (
    bce_soft_target_figure,
    expected_loss_figure,
    metric_bars_figure,
    parameter_sweep_figure,
    reconstruction_distribution_figure,
    training_curves_figure,
    wmse_erratum_figure,
)
from spae_core.statistics import best_per_group, summarise

#: Widest a figure's image is shown in the ci book at a 1400 px window (sphinx-book-theme 1.3.0),
#: measured with Chromium as the <img>'s displayed width inside a numbered MyST figure (a bare
#: output image gets 772); CSS pixels.
COLUMN_PX = 756
#: Smallest legible text at the displayed size (the issue's threshold).
SMALLEST_PT = 8.0

LOSSES = ("mse", "bce", "wmse", "wbce", "focal", "dice", "multinomial")
DATASETS = ("movielens_097", "omdb_metadata", "thyroid")


def _records(datasets=DATASETS, losses=LOSSES, seeds=3):
    rng = np.random.default_rng(1)
    rows = [{"dataset": d, "loss": loss, "seed": s, "ap_macro": 0.5 + 0.1 * rng.random(),
             "contingency": 0.2 + 0.1 * rng.random(), "trustworthiness": 0.9 + 0.01 * rng.random(),
             "ch_sparsity": 20 * rng.random(), "ch_dbscan": 10 * rng.random(), "r2_rating": rng.random()}
            for d in datasets for loss in losses for s in range(seeds)]
    return pd.DataFrame(rows)


def _histories(panel_values=tuple((d, 0.001) for d in DATASETS)):
    return pd.DataFrame([{"dataset": d, "learning_rate": lr, "loss": loss, "seed": s, "run_name": f"{d}{lr}{loss}{s}",
                          "epoch": e, "val_loss": (1 + s) / e}
                         for d, lr in panel_values for loss in LOSSES for s in range(3) for e in range(1, 6)])


def _distributions():
    edges = np.linspace(0, 1, 21)
    return pd.DataFrame([{"dataset": d, "loss": loss, "seed": s, "run_name": f"{d}{loss}{s}", "bin_left": left,
                          "bin_right": right, "density": 1.0 + s + k, "mass_above_threshold": 0.0004 * (1 + s),
                          "threshold": 0.5}
                         for d in DATASETS for loss in LOSSES for s in range(3)
                         for k, (left, right) in enumerate(zip(edges[:-1], edges[1:]))])


def _sweep_summary(metrics, line_by=("dataset",)):
    rows = [{"dataset": d, "batch_size": b, "ovr_lambda": lam, "seed": s, **{m: lam + s * 0.1 for m in metrics}}
            for d in ("thyroid", "omdb_metadata") for b in (256, 32) for lam in (0.0, 0.01, 0.1) for s in range(3)]
    return summarise(pd.DataFrame(rows), metrics, by=("dataset", *line_by[1:], "ovr_lambda"))


def _downstream_figure():
    """Figure 5's shape: one dataset with one downstream metric, another with nine."""
    labels = [f"ap_label_{i}" for i in range(9)]
    records = _records(datasets=("omdb_metadata", "thyroid"))
    records = records.assign(**{m: np.where(records["dataset"] == "thyroid", records["ap_macro"], np.nan) for m in labels},
                             r2_rating=np.where(records["dataset"] == "omdb_metadata", records["r2_rating"], np.nan))
    summary = summarise(records, ["r2_rating", *labels]).dropna(subset=["mean"])
    return metric_bars_figure(summary, ["r2_rating", *labels], panels_by="dataset")


def _every_figure():
    """One of each figure the book draws, at the book's sizes (ci preset and beyond)."""
    records = _records()
    main_metrics = summarise(records, ["ap_macro", "contingency"])
    embedding = summarise(records, ["trustworthiness", "ch_sparsity", "ch_dbscan"])
    downstream = summarise(records, ["r2_rating", "ap_macro"])
    ovr = ["code_near_zero", "code_hoyer", "code_treves_rolls", "code_dead_units", "ap_macro"]
    return {
        "expected_loss": expected_loss_figure(),
        "bce_soft_target": bce_soft_target_figure(),
        "wmse_erratum": wmse_erratum_figure(),
        "training_curves": training_curves_figure(_histories()),
        "training_curves_lr": training_curves_figure(
            _histories([("thyroid", lr) for lr in (1e-6, 1e-4, 1e-3)]), panel_by=("dataset", "learning_rate"), ncols=3),
        "bars_two_metrics": metric_bars_figure(main_metrics, ["ap_macro", "contingency"], best=best_per_group(main_metrics)),
        "bars_three_metrics": metric_bars_figure(embedding, ["trustworthiness", "ch_sparsity", "ch_dbscan"]),
        "bars_by_dataset": metric_bars_figure(downstream, ["r2_rating", "ap_macro"], panels_by="dataset"),
        "bars_by_dataset_wrapped": _downstream_figure(),
        "distributions": reconstruction_distribution_figure(_distributions()),
        "sweep_four": parameter_sweep_figure(_sweep_summary(ovr[:4]), "ovr_lambda", ovr[:4]),
        "sweep_five": parameter_sweep_figure(_sweep_summary(ovr), "ovr_lambda", ovr),
        "sweep_two_lines": parameter_sweep_figure(_sweep_summary(ovr[:3], ("dataset", "batch_size")), "ovr_lambda",
                                                  ovr[:3], line_by=("dataset", "batch_size")),
    }


def _png_width_px(fig) -> int:
    """The width of the PNG the notebook's inline backend stores (IPython: ``fig.dpi``, tight box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    buffer.seek(0)
    return matplotlib.image.imread(buffer).shape[1]


def _drawn_texts(fig):
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is not None]


@pytest.fixture(scope="module")
def figures():
    drawn = _every_figure()
    yield drawn
    for fig in drawn.values():
        plt.close(fig)


def test_no_text_is_smaller_than_8_pt_as_shown_in_the_column(figures):
    too_small = {}
    for name, fig in figures.items():
        shown_scale = fig.dpi / 96 * min(1.0, COLUMN_PX / _png_width_px(fig))
        smallest = min(_drawn_texts(fig), key=lambda t: t.get_fontsize())
        shown_pt = smallest.get_fontsize() * shown_scale
        if shown_pt < SMALLEST_PT - 1e-9:
            too_small[name] = (round(shown_pt, 2), smallest.get_text()[:30])
    assert not too_small, f"text under {SMALLEST_PT} pt as displayed: {too_small}"


def test_no_figure_has_an_empty_panel(figures):
    empty = {name: [i for i, ax in enumerate(fig.axes) if not (ax.get_visible() and ax.has_data())]
             for name, fig in figures.items()}
    assert not {name: panels for name, panels in empty.items() if panels}


def _overlap_px2(a, b) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0) * max(height, 0)


def test_legends_lie_outside_every_data_area(figures):
    covering = {}
    for name, fig in figures.items():
        renderer = fig.canvas.get_renderer()
        fig.canvas.draw()
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
        for legend in legends:
            box = legend.get_window_extent(renderer)
            hit = [i for i, ax in enumerate(fig.axes) if _overlap_px2(box, ax.get_window_extent(renderer)) > 1.0]
            if hit:
                covering[name] = hit
    assert not covering, f"legends over the data axes: {covering}"


def test_every_figure_has_one_legend_at_most(figures):
    counts = {name: len(fig.legends) + sum(ax.get_legend() is not None for ax in fig.axes)
              for name, fig in figures.items()}
    assert all(count <= 1 for count in counts.values()), counts


def test_a_bar_missing_for_an_undefined_value_is_marked_n_a():
    summary = summarise(_records(), ["ap_macro", "contingency"])
    undefined = (summary["loss"] == "multinomial") & (summary["metric"] == "contingency")
    summary.loc[undefined, ["mean", "ci_low", "ci_high"]] = np.nan
    fig = metric_bars_figure(summary, ["ap_macro", "contingency"])
    contingency_axes = fig.axes[1]
    marks = [t for t in contingency_axes.texts if t.get_text() == "n/a"]
    # One per dataset: multinomial's slot, the last of seven in each group of width 0.8.
    expected_x = sorted(slot + (6 - 3) * 0.8 / 7 for slot in range(len(DATASETS)))
    assert sorted(t.get_position()[0] for t in marks) == pytest.approx(expected_x)
    assert not [t for t in fig.axes[0].texts if t.get_text() == "n/a"]
    # The figure says what the mark means.
    assert any("n/a" in t.get_text() and "undefined" in t.get_text() for t in fig.findobj(Text) if t not in marks)
    plt.close(fig)


def test_n_a_marks_stay_inside_their_axes_when_one_dataset_has_a_single_defined_loss():
    # A user's dataset on which DBSCAN finds two clusters only with Dice's codes (spae compare on the
    # grants table): without the undefined slots in the data limits the x-axis shrank to Dice's bar,
    # the n/a marks fell outside it and constrained layout collapsed ("axes sizes collapsed to zero").
    records = _records(datasets=("mine",))
    records.loc[records["loss"] != "dice", "ch_dbscan"] = np.nan
    summary = summarise(records, ["trustworthiness", "ch_dbscan", "ch_sparsity"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the layout's collapse is a UserWarning at draw time
        fig = metric_bars_figure(summary, ["trustworthiness", "ch_dbscan", "ch_sparsity"])
        fig.canvas.draw()
    axes = fig.axes[1]
    low, high = axes.get_xlim()
    marks = [t.get_position()[0] for t in axes.texts if t.get_text() == "n/a"]
    assert len(marks) == 6 and all(low < x < high for x in marks)
    plt.close(fig)
