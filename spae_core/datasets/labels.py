"""Labels for a dataset's rows: read, aligned to the rows, typed, and turned into downstream targets.

:func:`attach_labels` decides the downstream task from the label's type, before any model runs:
booleans, text and categories are classes; numbers holding only 0 and 1 are classes; other
numbers are a regression target. Classes become 0/1 target columns named ``<label>=<class>``
(one per class, or one for the positive class of two), which is what the per-label average
precision of :mod:`spae_core.metrics.downstream` scores. The returned dataset's ``task`` says what
was assumed, e.g. ``"classification: diagnosis (3 classes: a, b, c)"`` or ``"regression: price"``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .dense_csv import DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES, NA_TOKENS, cell_value, sniff_delimiter

__all__ = ["TASKS", "attach_labels", "read_label_file", "typed_label_cells"]

#: What ``task`` may be.
TASKS = ("auto", "classification", "regression")

_SHOWN = 10  # classes or rows named in a task string or a message
_FEW_INTEGERS = 10  # integer labels with at most this many values get a hint in the task string


def attach_labels(dataset, labels, *, task: str = "auto", name: str | None = None, id_column: str | None = None,
                  label_column: str | None = None, source: str | None = None):
    """The dataset with ``labels`` attached as its downstream targets and task.

    Parameters
    ----------
    dataset : BinaryDataset or CountDataset
        Without targets of its own.
    labels : pandas.Series, one-column pandas.DataFrame, 1-D array-like, or path-like
        One label per row. A Series or DataFrame with a default ``RangeIndex``, and an array, are
        taken in row order; a Series or DataFrame with another index is matched to
        ``dataset.row_ids`` (compared as text). A path is a CSV label file read by
        :func:`read_label_file`: matched by id when ``id_column`` is given, else in row order.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"`` decides from the labels' type: booleans, text, categories and numbers holding
        only 0 and 1 are classes, other numbers a regression target (integers too: pass
        ``"classification"`` to read them as classes).
    name : str, optional
        The label's name in target columns and the task string; defaults to the Series' name, the
        file's header, or ``"label"``.
    id_column : str, optional
        For a label file: the header name of its column of row ids.
    label_column : str, optional
        For a label file: the header name of its label column, needed when it has other columns
        than the label and the ids (those are not read).
    source : str, optional
        Where the labels come from, in words, for ``provenance["labels"]``; described from
        ``labels`` by default.

    Returns
    -------
    BinaryDataset or CountDataset
        Of the same class as ``dataset``, with ``targets``: one float column named after the label
        (regression), one 0/1 column ``<label>=<positive class>`` (two classes; the positive one
        is True, 1, "yes" or "true" when present, else the second of the sorted classes) or one
        0/1 column ``<label>=<class>`` per class (more classes); ``task`` in words; and
        ``provenance["labels"]`` saying where the labels came from and how they were aligned.

    Raises
    ------
    ValueError
        If the dataset already has targets; the labels cannot be aligned (naming both counts, or
        the missing and extra ids); a label is missing (naming the rows); there is one class only;
        or ``task="regression"`` is asked of text.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {list(TASKS)}, got {task!r}.")
    if dataset.targets.shape[1]:
        raise ValueError(
            f"dataset {dataset.name!r} already has targets {list(dataset.targets.columns)}; attach labels to a "
            "dataset without targets."
        )
    if isinstance(labels, (str, Path)):
        values, by_id, described = _from_file(Path(labels), id_column, label_column)
    else:
        if id_column is not None or label_column is not None:
            raise ValueError("id_column and label_column name columns of a label file; a Series is matched by its "
                             "index.")
        values, by_id, described = _from_object(labels)
    source = described if source is None else source
    label = str(name if name is not None else (values.name if values.name is not None else "label"))
    values = _aligned(values, by_id, dataset)
    missing = values.isna().to_numpy()
    if missing.any():
        rows = [str(r) for r in dataset.row_ids[missing][:_SHOWN]]
        raise ValueError(
            f"label {label!r} is missing for {int(missing.sum())} row(s) (row ids {', '.join(rows)}); "
            "drop those rows (dataset.subset) or fill the labels."
        )
    targets, task_words, decision = _targets(values.reset_index(drop=True), label, task)
    provenance = dict(dataset.provenance)
    provenance["labels"] = f"{source}, {'matched by id' if by_id else 'in row order'}; {decision}"
    return type(dataset)(
        name=dataset.name, X=dataset.X, feature_names=dataset.feature_names, row_ids=dataset.row_ids,
        targets=targets, task=task_words, paper_counterpart=dataset.paper_counterpart, provenance=provenance,
    )


def read_label_file(path, *, id_column: str | None = None, label_column: str | None = None) -> pd.DataFrame:
    """A CSV of labels: one label column, and optionally one column of row ids.

    ``label_column`` picks the label among several columns (the others are not read); without
    it the file must hold one column besides ``id_column``.

    The delimiter is detected as for data files. The first line is a header unless every field
    on it is a number (or a boolean word); without a header the columns are named ``"0"``,
    ``"1"``. Cells are typed as a whole column: numbers if every present cell is a number,
    booleans if every one is a boolean word, text otherwise; missing-value tokens
    (``spae_core.datasets.dense_csv.NA_TOKENS``) are missing.

    Returns
    -------
    pandas.DataFrame
        The label column, and the id column (as text) when ``id_column`` is given.

    Raises
    ------
    ValueError
        On an empty file, a line with the wrong number of fields, an unknown id column, or a
        number of columns other than the one label (plus the ids).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise ValueError(f"{path} is empty; expected one label per row.")
    reader = csv.reader(io.StringIO(text), delimiter=sniff_delimiter(text, path))
    records, lines = [], []
    for fields in reader:
        records.append(fields)
        lines.append(reader.line_num)
    width = len(records[0])
    for fields, line in zip(records, lines):
        if len(fields) != width:
            raise ValueError(f"{path}, line {line}: expected {width} fields, found {len(fields)}.")
    has_header = not all(isinstance(cell_value(t), float) for t in records[0])
    names = records[0] if has_header else [str(j) for j in range(width)]
    rows = records[1:] if has_header else records
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    for option, column in (("id column", id_column), ("label column", label_column)):
        if column is not None and column not in names:
            raise ValueError(f"{path}: {option} {column!r} is not in its columns {names}.")
    label_columns = [label_column] if label_column is not None else [c for c in names if c != id_column]
    if len(label_columns) != 1:
        hint = " (name the id column with label_id_column, or the label column with label_column)"
        raise ValueError(f"{path}: expected one label column besides the ids, found {label_columns}{hint}.")
    result = pd.DataFrame({label_columns[0]: typed_label_cells(frame[label_columns[0]])})
    if id_column is not None:
        result.insert(0, id_column, frame[id_column].str.strip())
    return result


def typed_label_cells(cells: pd.Series) -> pd.Series:
    """A column of label cells read from a file, typed as a whole.

    Numbers if every present cell is a number, booleans if every one is a boolean word (true/false,
    yes/no, t/f), text otherwise; missing-value tokens (``spae_core.datasets.dense_csv.NA_TOKENS``)
    are missing.
    """
    kinds = [cell_value(t) for t in cells]
    present = [k for k in kinds if k != "missing"]
    missing = [k == "missing" for k in kinds]
    if present and all(isinstance(k, float) for k in present):
        lowered = {t.strip().lower() for t, m in zip(cells, missing) if not m}
        if lowered <= set(DEFAULT_TRUE_VALUES) | set(DEFAULT_FALSE_VALUES):
            return pd.Series([None if m else k == 1.0 for k, m in zip(kinds, missing)], name=cells.name,
                             dtype="boolean")
        numbers = pd.Series([np.nan if m else k for k, m in zip(kinds, missing)], name=cells.name, dtype=float)
        if all(float(k).is_integer() for k in present):
            return numbers.astype("Int64")
        return numbers
    return pd.Series([None if m else t.strip() for t, m in zip(cells, missing)], name=cells.name, dtype=object)


def _from_file(path: Path, id_column, label_column):
    frame = read_label_file(path, id_column=id_column, label_column=label_column)
    values = frame.iloc[:, -1]
    if id_column is not None:
        values = pd.Series(values.to_numpy(), index=pd.Index(frame[id_column].to_numpy()), name=values.name)
        return values, True, f"labels {values.name!r} from {path} (id column {id_column!r})"
    return values, False, f"labels {values.name!r} from {path}"


def _from_object(labels):
    if isinstance(labels, pd.DataFrame):
        if labels.shape[1] != 1:
            raise ValueError(f"labels as a DataFrame must have one column, got {list(labels.columns)}.")
        labels = labels.iloc[:, 0]
    if isinstance(labels, pd.Series):
        named = "" if labels.name is None else f" {labels.name!r}"
        source = f"labels{named} from a pandas Series"
    else:
        array = np.asarray(labels)
        if array.ndim != 1:
            raise ValueError(f"labels must be one-dimensional (one label per row), got shape {array.shape}.")
        labels, source = pd.Series(array), "labels from an array"
    by_id = not labels.index.equals(pd.RangeIndex(len(labels)))
    if labels.dtype == object or pd.api.types.is_string_dtype(labels.dtype):
        # Text labels: the missing-value tokens of files mean missing here too.
        labels = labels.astype(object).map(lambda v: None if isinstance(v, str) and v.strip().lower() in NA_TOKENS
                                           else v)
    return labels, by_id, source


def _aligned(values: pd.Series, by_id: bool, dataset) -> pd.Series:
    n_rows = dataset.shape[0]
    if not by_id:
        if len(values) != n_rows:
            raise ValueError(f"{len(values)} labels for {n_rows} rows; pass one label per row, in row order, "
                             "or labels with an id column.")
        return values.reset_index(drop=True)
    ids = pd.Index(values.index.astype(str).str.strip())
    if ids.has_duplicates:
        raise ValueError(f"the label ids repeat: {sorted(set(ids[ids.duplicated()]))[:_SHOWN]}.")
    wanted = pd.Index(np.asarray(dataset.row_ids).astype(str))
    absent, extra = wanted.difference(ids), ids.difference(wanted)
    if len(absent) or len(extra):
        raise ValueError(
            f"label ids do not match the data's row ids: {len(absent)} row id(s) have no label "
            f"{list(absent[:_SHOWN])}, {len(extra)} label id(s) are not rows {list(extra[:_SHOWN])}."
        )
    return pd.Series(values.to_numpy(), index=ids, name=values.name).loc[wanted]


def _is_text(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype))


def _targets(values: pd.Series, label: str, task: str) -> tuple[pd.DataFrame, str, str]:
    """Target columns, task string and the decision in words."""
    is_bool = pd.api.types.is_bool_dtype(values.dtype)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    is_text = _is_text(values)
    distinct = pd.unique(values)
    zero_one = not is_text and not is_bool and set(np.asarray(distinct, dtype=float).tolist()) <= {0.0, 1.0}
    if task == "regression":
        if is_text:
            raise ValueError(f"task='regression' needs numeric labels; {label!r} holds text (e.g. {distinct[0]!r}); "
                             "use task='classification' or 'auto'.")
        return (pd.DataFrame({label: values.astype(float).to_numpy()}), f"regression: {label}",
                "regression asked (task='regression')")
    if task == "auto" and not (is_text or is_bool or zero_one):
        numbers = values.astype(float)
        words = f"regression: {label}"
        decision = "numbers other than 0/1 read as a regression target"
        if np.all(np.mod(numbers, 1) == 0) and len(distinct) <= _FEW_INTEGERS:
            words += (f" (integers with {len(distinct)} distinct values, read as a regression target; pass "
                      "task='classification' to read them as classes)")
        return pd.DataFrame({label: numbers.to_numpy()}), words, decision
    classes = _sorted_classes(distinct)
    if len(classes) < 2:
        raise ValueError(f"label {label!r} holds one class ({_class_name(classes[0])}); classification needs two "
                         "or more.")
    kept = classes if len(classes) > 2 else [_positive(classes)]
    targets = pd.DataFrame({f"{label}={_class_name(c)}": (values == c).astype(np.int64).to_numpy() for c in kept})
    shown = ", ".join(_class_name(c) for c in classes[:_SHOWN]) + (", ..." if len(classes) > _SHOWN else "")
    words = f"classification: {label} ({len(classes)} classes: {shown}"
    words += f"; positive: {_class_name(kept[0])})" if len(classes) == 2 else ")"
    why = "asked (task='classification')" if task == "classification" else (
        "booleans" if is_bool else "text" if is_text else "numbers holding only 0 and 1")
    columns = "one 0/1 target column per class" if len(kept) > 1 else "one 0/1 target column for the positive class"
    return targets, words, f"classification: {why}, {columns}"


def _sorted_classes(distinct) -> list:
    values = list(distinct)
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by their text
        return sorted(values, key=str)


def _positive(classes: list):
    for c in classes:
        if isinstance(c, (bool, np.bool_)):
            if c:
                return c
        elif (isinstance(c, (int, float, np.number)) and c == 1) or (
                isinstance(c, str) and c.strip().lower() in ("yes", "true")):
            return c
    return classes[1]


def _class_name(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)
