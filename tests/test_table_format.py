"""The book's table formatting: the expected strings are written out from the rules by hand."""

import json

import numpy as np
import pandas as pd
import pytest

from spae_core.table_format import (MISSING, count_of, format_number, format_p, join_items, loss_label, readable,
                                    words)
from spae_core.tables import baseline_notes, learning_rate_table, runs_table


def test_p_values_have_three_significant_digits_and_a_floor():
    assert format_p(0.0123456) == "0.0123"
    assert format_p(0.5) == "0.500" and format_p(1.0) == "1.00" and format_p(0.04567) == "0.0457"
    assert format_p(0.001) == "0.00100" and format_p(0.000999) == "< 0.001" and format_p(0.0) == "< 0.001"
    assert format_p(np.nan) == MISSING == "n/a"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        format_p(1.5)


def test_numbers_missing_values_lists_and_counts():
    assert format_number(0.0123456, 4) == "0.0123" and format_number(-2.5, 1) == "-2.5"
    assert format_number(np.nan, 3) == "n/a" and format_number(None, 3) == "n/a"
    assert join_items(["thyroid"]) == "thyroid" and join_items(("a", "b", "c")) == "a, b, c"
    assert count_of([True, True, False]) == "2 of 3" and count_of(pd.Series([False] * 3)) == "0 of 3"
    with pytest.raises(ValueError, match="true/false"):
        count_of([True, np.nan])


def test_names_in_one_style():
    assert [loss_label(n) for n in ("mse", "bce", "wmse", "wbce", "focal", "dice")] == [
        "MSE", "BCE", "WMSE", "WBCE", "Focal", "Dice"]
    assert loss_label("count_mse") == "Count MSE" and loss_label("focal_poisson") == "Focal Poisson"
    with pytest.raises(ValueError, match="no display name"):
        loss_label("huber")
    assert words("best_epoch") == "best epoch" and words("n_samples") == "samples"
    assert words("ap_label_hypothyroid") == "AP label hypothyroid" and words("dbscan_clusters") == "DBSCAN clusters"
    assert words("ap_macro") == "AP" and words("ch_dbscan") == "CH Score (DBScan)"  # Figure 6's names
    assert words("p_holm") == "p (Holm)" and words("Netflix_0.97") == "Netflix 0.97"


def test_readable_formats_each_column_by_what_it_holds():
    frame = pd.DataFrame({
        "dataset": ["thyroid", "omdb_metadata"], "loss": ["wmse", "focal_poisson"],
        "epochs": [3.0, 4.0], "best_epoch": [1.6667, 2.0], "stopped_early": [True, False],
        "p_holm": [0.0004, 0.21337], "notes": [["thyroid"], ("a", "b")], "mean": [np.nan, 0.123456],
        "verdict": ["tied: highest mean bce, not separated", "dice ~ mse, wbce (tied)"],
    })
    table = readable(frame)
    assert list(table.columns) == ["dataset", "loss", "epochs", "best epoch", "stopped early", "p (Holm)", "notes",
                                   "mean", "verdict"]
    assert table.iloc[0].tolist() == ["thyroid", "WMSE", "3", "1.667", "yes", "< 0.001", "thyroid", "n/a",
                                      "tied: highest mean BCE, not separated"]
    assert table.iloc[1].tolist() == ["omdb_metadata", "Focal Poisson", "4", "2.000", "no", "0.213", "a, b", "0.123",
                                      "Dice ~ MSE, WBCE (tied)"]
    # Decimals per column; a loss-named column axis and index levels in words and display names.
    wide = pd.DataFrame({"mse": [0.5], "dice": [0.25]}, index=pd.Index(["ap_macro"], name="metric"))
    wide.columns.name = "loss"
    shown = readable(wide, decimals={"mse": 1})
    assert list(shown.columns) == ["MSE", "Dice"] and list(shown.index) == ["AP"]
    assert list(readable(pd.DataFrame({"pca50": [1], "ease": [2]})).columns) == ["PCA-50", "EASE"]
    assert shown.iloc[0].tolist() == ["0.5", "0.250"]


def test_readable_shows_long_text_in_full_and_hides_a_plain_row_number():
    text = "Reconstruction metrics use order_preserving_unit_scores of the linear reconstruction, not its values."
    table = readable(pd.DataFrame({"model": ["pca50"], "notes": [text]}))
    assert text in table._repr_html_() and text in repr(table)
    assert "<th>0</th>" not in table._repr_html_() and 'class="dataframe spae-table"' in table._repr_html_()
    filtered = readable(pd.DataFrame({"model": ["a", "b", "c"]}).iloc[[0, 2]])
    assert "<th>2</th>" not in filtered._repr_html_()
    assert readable(None) is None  # a table this build did not make
    with pytest.raises(TypeError, match="DataFrame"):
        readable([1, 2])


def test_runs_and_learning_rate_tables_count_early_stops():
    rows = [{"dataset": "d", "loss": "mse", "learning_rate": 1e-3, "seed": seed, "n_samples": 9, "n_features": 3,
             "n_train": 6, "epochs": 10, "best_epoch": 4 + seed * seed, "stopped_early": seed < 2, "best_val_loss": 1.0}
            for seed in range(3)]
    records = pd.DataFrame(rows)
    assert runs_table(records).loc[("d", "mse"), "stopped_early"] == "2 of 3"
    assert learning_rate_table(records).loc[("d", "mse", 1e-3), "stopped_early"] == "2 of 3"
    shown = readable(runs_table(records), decimals=1)
    # best epochs 4, 5, 8: mean 5.67, one decimal.
    assert shown.loc[("d", "MSE"), ["epochs", "best epoch", "stopped early"]].tolist() == ["10", "5.7", "2 of 3"]


def test_baseline_notes_are_sentences_not_a_list_repr():
    baselines = pd.DataFrame({"dataset": ["d"], "model": ["ease"],
                              "notes": [json.dumps(["EASE has no embedding.", "Metrics are NaN."])]})
    notes = baseline_notes(baselines)
    assert notes.to_dict("records") == [{"dataset": "d", "model": "ease",
                                         "notes": "EASE has no embedding. Metrics are NaN."}]


def test_loss_name_is_lenient_where_loss_label_is_strict():
    from spae_core.table_format import loss_name
    assert loss_name("wbce") == "WBCE" and loss_name("focal") == "Focal"
    assert loss_name("All") == "All"  # not a loss key: kept as written
    assert loss_name(float("nan")) == "n/a" and loss_name(None) == "n/a"
