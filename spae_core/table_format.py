"""How the book's tables are shown to a reader: numbers, missing values, names and headers (the top layer).

The library's tables keep machine-readable values (record column names, loss keys, floats) so that
code and tests can use them; :func:`readable` turns one into the strings a reader sees, by these rules:

- integers, and float columns whose every defined value is a whole number (e.g. a mean of equal
  epoch counts), as integers ("3", never "3.0");
- other floats with a fixed number of decimals per column (``decimals``, default 3);
- p-values (a column ``p`` or ``p_*``) with 3 significant digits, and "< 0.001" below 0.001;
- missing values (NaN, None) as "n/a"; booleans as "yes" / "no"; lists and tuples joined by ", ";
- loss names as the paper writes them (:data:`LOSS_NAMES`; baselines: :data:`MODEL_NAMES`), wherever
  a loss key stands as a word;
- headers and metric names in words (:func:`words`; Figure 6's metrics by Figure 6's names), the
  paper's datasets as the paper writes them, our datasets by their registered names (as in the prose);
- text in full (never cut at pandas' 50 characters), and no column of row numbers.

A boolean summarised over seeds is a count, "2 of 3" (:func:`count_of`), never a mean.
"""

from __future__ import annotations

import math
import numbers
import re

import numpy as np
import pandas as pd

from .paper import FIGURE6_METRICS, PAPER_DATASET_NAMES, PAPER_LOSS_NAMES

__all__ = ["LOSS_NAMES", "METRIC_NAMES", "MISSING", "MODEL_NAMES", "P_FLOOR", "ReadableTable", "count_of",
           "format_number", "format_p", "join_items", "loss_label", "loss_name", "readable", "words"]

#: What a reader sees where a value is missing or undefined.
MISSING = "n/a"

#: p-values below this are shown as "< 0.001": more digits there say nothing at 3-10 seeds.
P_FLOOR = 0.001

#: Display names of every loss: the paper's as it writes them, then ours in the same style
#: (acronyms in capitals, named losses capitalised).
LOSS_NAMES = {**PAPER_LOSS_NAMES, "multinomial": "Multinomial", "count_mse": "Count MSE", "poisson": "Poisson",
              "nb": "NB", "zinb": "ZINB", "wpoisson": "WPoisson", "focal_poisson": "Focal Poisson"}

#: Display names of the baselines (:data:`spae_core.baselines.BASELINES`), in the same style.
MODEL_NAMES = {"pca50": "PCA-50", "svd50": "SVD-50", "ease": "EASE"}

#: The metrics Figure 6 names, under its names wherever they are shown (e.g. ``ap_macro`` is "AP").
METRIC_NAMES = {column: label for label, column in FIGURE6_METRICS.items()}

#: Headers whose words are not just the key's parts.
HEADERS = {"n_samples": "samples", "n_features": "features", "n_positives": "positives", "n_train": "training rows",
           "n_pairs": "pairs", "n_seeds": "seeds", "p_holm": "p (Holm)", "p_runner_up": "p (runner-up)",
           "ci_low": "95% low", "ci_high": "95% high", "paper_counterpart": "paper's dataset",
           "val_loss_vs_best_lr": "val. loss / best rate's", "max_abs": "max |difference|", "p05": "5th percentile",
           "p95": "95th percentile"}

#: Parts of a key written in capitals.
_ACRONYMS = {"ap", "ch", "r2", "mae", "dbscan", "mse", "bce", "ovr", "cpu", "imdb", "lr", "nb", "zinb"}

_NAMES = {**LOSS_NAMES, **MODEL_NAMES}
# A loss or model key standing as a word (not part of a longer key such as focal_poisson); longest first.
_NAME_WORD = re.compile(r"(?<![\w-])(" + "|".join(sorted(_NAMES, key=len, reverse=True)) + r")(?![\w-])")
# A snake_case key inside a label ("ovr_lambda - 0.0"); parts of one letter ("p_j", "x_hat") are maths, kept.
_SNAKE_WORD = re.compile(r"(?<![\w-])[a-z][a-z0-9]+(?:_[a-z0-9]{2,})+(?![\w-])")


def _missing(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isnan(value))


def format_p(p) -> str:
    """A p-value with 3 significant digits ("0.0123"), "< 0.001" below :data:`P_FLOOR`, "n/a" if missing."""
    if _missing(p):
        return MISSING
    if not 0 <= p <= 1:
        raise ValueError(f"a p-value lies in [0, 1], got {p}.")
    return f"< {P_FLOOR:g}" if p < P_FLOOR else f"{p:#.3g}"


def format_number(value, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, "n/a" if missing."""
    return MISSING if _missing(value) else f"{value:.{decimals}f}"


def count_of(flags) -> str:
    """How many of ``flags`` (one true/false per seed) are true: ``"2 of 3"``."""
    flags = list(flags)
    if not all(isinstance(flag, (bool, np.bool_)) for flag in flags):
        raise ValueError(f"count_of counts true/false flags, got {flags}.")
    return f"{sum(bool(flag) for flag in flags)} of {len(flags)}"


def join_items(values) -> str:
    """A list or tuple as text: ``"a, b, c"``."""
    return ", ".join(str(value) for value in values)


def loss_label(name: str) -> str:
    """A loss's display name (:data:`LOSS_NAMES`), e.g. ``"wmse"`` -> ``"WMSE"``."""
    if name not in LOSS_NAMES:
        raise ValueError(f"loss {name!r} has no display name; add it to spae_core.table_format.LOSS_NAMES.")
    return LOSS_NAMES[name]


def loss_name(value) -> str:
    """A loss key in display style where it is one (:data:`LOSS_NAMES`), other text as it is, "n/a" for a missing value.

    The lenient twin of :func:`loss_label`, for figures' legends and prose built from records.
    """
    if not isinstance(value, str):
        return MISSING
    return LOSS_NAMES.get(value, value)


def words(key: str) -> str:
    """A record key in words: ``"best_epoch"`` -> ``"best epoch"``, ``"ap_label_mean"`` -> ``"AP diagnosis labels"``.

    Known headers first (:data:`HEADERS`), then Figure 6's metric names and the paper's dataset
    names; otherwise the key's parts joined by spaces, acronyms (AP, CH, DBSCAN, ...) in capitals.
    """
    for names in (HEADERS, METRIC_NAMES):
        if key in names:
            return names[key]
    if key in PAPER_DATASET_NAMES:
        return PAPER_DATASET_NAMES[key]
    return " ".join(part.upper() if part.lower() in _ACRONYMS else part for part in key.split("_"))


def _name_words(value: str) -> str:
    """Loss and baseline keys standing as words inside ``value`` in display style."""
    return _NAME_WORD.sub(lambda match: _NAMES[match.group(1)], value)



def _label(value, level: str | None = None) -> str:
    """A header (``level`` None), or a value of the index level named ``level``, for display.

    Headers and metric names are put in words; dataset names are kept as registered (the prose
    and figures use them); in any other text only loss keys change.
    """
    if _missing(value):
        return MISSING
    if isinstance(value, float):
        return f"{value:g}"  # parameters such as a learning rate: 1e-06, 0.001
    if not isinstance(value, str):
        return str(value)
    if value in _NAMES:
        return _NAMES[value]
    if level == "dataset":
        return value
    if level is None or level in ("metric", "paper_counterpart"):
        if re.fullmatch(r"[A-Za-z0-9_.]+", value):
            return words(value)
        return _SNAKE_WORD.sub(lambda match: words(match.group(0)), _name_words(value))
    return _name_words(value)


def _cell(value, decimals: int) -> str:
    if _missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return format_number(value, decimals)
    if isinstance(value, (list, tuple, set)):
        return _name_words(join_items(value))
    return _name_words(str(value))


def _column(values: pd.Series, name, decimals: int) -> list[str]:
    """One column's cells, formatted by what the whole column holds."""
    if pd.api.types.is_float_dtype(values):
        if isinstance(name, str) and (name == "p" or name.startswith("p_")):
            return [format_p(v) for v in values]
        defined = values.dropna()
        if len(defined) and (defined == defined.round()).all():
            return [MISSING if pd.isna(v) else str(int(v)) for v in values]
    if isinstance(name, str) and name in ("metric", "paper_counterpart"):
        return [_label(v, name) for v in values]
    return [_cell(v, decimals) for v in values]


def _index(index: pd.Index) -> pd.Index:
    names = [None if n is None else _label(n) for n in index.names]  # headers
    if isinstance(index, pd.MultiIndex):
        tuples = [tuple(_label(v, level) for v, level in zip(row, index.names)) for row in index]
        return pd.MultiIndex.from_tuples(tuples, names=names)
    return pd.Index([_label(v, index.name) for v in index], name=names[0])


class ReadableTable(pd.DataFrame):
    """A table of display strings, shown in full (no text cut short) and without a column of row numbers."""

    @property
    def _constructor(self):
        return ReadableTable

    def _row_numbers(self) -> bool:
        return _plain_rows(self.index)

    def _repr_html_(self) -> str:
        with pd.option_context("display.max_colwidth", None):
            return self.to_html(index=not self._row_numbers(), border=0, classes="spae-table")

    def __repr__(self) -> str:
        with pd.option_context("display.max_colwidth", None, "display.width", None):
            return self.to_string(index=not self._row_numbers())


def readable(table: pd.DataFrame | None, decimals: int | dict = 3) -> ReadableTable | None:
    """``table`` as a reader sees it (the rules are this module's docstring).

    Parameters
    ----------
    table : DataFrame or None
        A table of the library (values as computed, keys as recorded). None, a table this build
        did not make (e.g. the reproduction's without a reproduction), is returned as None: there
        is nothing to show.
    decimals : int or dict, default=3
        Decimals of the float columns: one number for all, or ``{column: decimals}`` (others 3).

    Returns
    -------
    ReadableTable or None
        A DataFrame of strings with display headers and index.
    """
    if table is None:
        return None
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"readable formats a DataFrame, got {type(table).__name__}.")
    per_column = decimals if isinstance(decimals, dict) else {}
    default = 3 if isinstance(decimals, dict) else decimals
    cells = {i: _column(table.iloc[:, i], name, per_column.get(name, default)) for i, name in enumerate(table.columns)}
    shown = ReadableTable(cells, index=table.index)
    shown.index = table.index if _plain_rows(table.index) else _index(table.index)
    shown.columns = _index(table.columns)
    return shown


def _plain_rows(index: pd.Index) -> bool:
    """Whether ``index`` only numbers the rows (unnamed integers, e.g. left from a filter), which says nothing."""
    return not isinstance(index, pd.MultiIndex) and index.name is None and pd.api.types.is_integer_dtype(index)
