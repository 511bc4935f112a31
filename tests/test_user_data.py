"""Users' own files with labels: header and delimiter detection, boolean words, missing cells, BOM,
the fast and reference CSV parsers, ``read_data``'s formats and kinds, ``attach_labels``, and the
evaluation refusing text targets before any metric runs.

Expected values come from independent parses of the same files (numpy, pandas, the csv module with
hand-written mappings), never from a previous run of these loaders.
"""

import csv
import io

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from spae_core import datasets, evaluation
from spae_core.datasets import dense_csv

ENGINES = ["auto", "reference"]


def _write(tmp_path, body, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(body.encode(encoding))
    return path


def _random_binary(n=60, d=7, seed=0, rate=0.3):
    return (np.random.default_rng(seed).random((n, d)) < rate).astype(int)


def _csv_text(X, delimiter=",", header=None):
    lines = [delimiter.join(header)] if header is not None else []
    lines += [delimiter.join(str(v) for v in row) for row in X]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- header detection


@pytest.mark.parametrize("engine", ENGINES)
def test_headerless_csv_keeps_every_row(tmp_path, engine):
    # The user's report: 20 rows without a header came back as 19, the first row as names.
    X = _random_binary(n=20, d=5, seed=1)
    X[0] = [0, 1, 0, 0, 1]
    path = _write(tmp_path, _csv_text(X))
    ds = datasets.load_binary_csv(path, engine=engine)
    np.testing.assert_array_equal(ds.X.toarray(), np.loadtxt(path, delimiter=",", ndmin=2))
    assert ds.shape == (20, 5)
    assert list(ds.feature_names) == ["0", "1", "2", "3", "4"]
    np.testing.assert_array_equal(ds.row_ids, np.arange(1, 21))  # line numbers
    assert ds.provenance["header"].startswith("no header: the first line is all numbers")
    assert "pass header=True" in ds.provenance["header"]


@pytest.mark.parametrize("engine", ENGINES)
def test_header_with_names_is_detected_and_can_be_overridden(tmp_path, engine):
    X = _random_binary(n=12, d=3, seed=2)
    path = _write(tmp_path, _csv_text(X, header=["a", "b", "c"]))
    ds = datasets.load_binary_csv(path, engine=engine)
    assert list(ds.feature_names) == ["a", "b", "c"]
    np.testing.assert_array_equal(ds.X.toarray(), pd.read_csv(path).to_numpy())
    assert ds.provenance["header"].startswith("first line read as a header (it holds non-numeric names)")
    assert "pass header=False" in ds.provenance["header"]
    with pytest.raises(ValueError, match=r"line 1, column '0': non-numeric value 'a'"):
        datasets.load_binary_csv(path, header=False, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_all_numeric_header_is_allowed_when_asked(tmp_path, engine):
    path = _write(tmp_path, "1,2,3\n1,0,1\n0,0,1\n")
    forced = datasets.load_binary_csv(path, header=True, engine=engine)
    assert list(forced.feature_names) == ["1", "2", "3"] and forced.shape == (2, 3)
    assert forced.provenance["header"] == "first line read as a header (header=True)"
    with pytest.raises(ValueError, match=r"2 value\(s\) are not 0 or 1; the first is '2' at line 1, column '1'"):
        datasets.load_binary_csv(path, engine=engine)  # detected as data: 2 and 3 are not 0/1


@pytest.mark.parametrize("engine", ENGINES)
def test_headerless_file_with_text_ids_and_labels_is_read_as_data(tmp_path, engine):
    path = _write(tmp_path, "u1,1,0,cat\nu2,0,1,dog\nu3,1,1,cat\n")
    ds = datasets.load_binary_csv(path, id_column="0", label_column="3", engine=engine)
    assert list(ds.row_ids) == ["u1", "u2", "u3"] and list(ds.feature_names) == ["1", "2"]
    np.testing.assert_array_equal(ds.X.toarray(), [[1, 0], [0, 1], [1, 1]])
    assert ds.provenance["header"].startswith("no header: the first line holds numbers, and its text sits in")


# ---------------------------------------------------------------- delimiters, booleans, BOM


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
@pytest.mark.parametrize("engine", ENGINES)
def test_delimiter_is_detected(tmp_path, delimiter, engine):
    X = _random_binary(n=15, d=4, seed=3)
    path = _write(tmp_path, _csv_text(X, delimiter, header=["w", "x", "y", "z"]))
    ds = datasets.load_binary_csv(path, engine=engine)
    np.testing.assert_array_equal(ds.X.toarray(), X)
    assert list(ds.feature_names) == ["w", "x", "y", "z"]
    assert ds.provenance["delimiter"].startswith(repr(delimiter))
    given = datasets.load_binary_csv(path, delimiter=delimiter, engine=engine)
    np.testing.assert_array_equal(given.X.toarray(), X)


def test_ambiguous_delimiter_names_the_candidates(tmp_path):
    # Decimal commas in a semicolon file: both split every line evenly.
    path = _write(tmp_path, "0,5;1,0\n1,0;0,5\n")
    with pytest.raises(ValueError, match=r"split evenly on each of \[',', ';'\]; pass delimiter="):
        datasets.load_binary_csv(path)
    with pytest.raises(ValueError, match=r"non-numeric value '(0,5|1,0)'"):
        datasets.load_binary_csv(path, delimiter=";")


@pytest.mark.parametrize("engine", ENGINES)
def test_boolean_words_are_read_as_1_and_0(tmp_path, engine):
    words = [["TRUE", "false", "1"], ["yes", "No", "0"], ["t", "F", "True"], [" Yes ", "0", "FALSE"]]
    path = _write(tmp_path, "a,b,c\n" + "\n".join(",".join(row) for row in words) + "\n")
    truth = {"true": 1, "yes": 1, "t": 1, "1": 1, "false": 0, "no": 0, "f": 0, "0": 0}
    expected = [[truth[w.strip().lower()] for w in row] for row in words]
    ds = datasets.load_binary_csv(path, engine=engine)
    np.testing.assert_array_equal(ds.X.toarray(), expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_boolean_words_can_be_replaced(tmp_path, engine):
    path = _write(tmp_path, "a,b\nY,N\nn,y\n")
    ds = datasets.load_binary_csv(path, true_values=["y"], false_values=["n"], engine=engine)
    np.testing.assert_array_equal(ds.X.toarray(), [[1, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"line 2, column 'a': non-numeric value 'Y'"):
        datasets.load_binary_csv(path, engine=engine)
    with pytest.raises(ValueError, match=r"share \['y'\]"):
        datasets.load_binary_csv(path, true_values=["y"], false_values=["Y"])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("header", [True, False])
def test_byte_order_mark_is_skipped(tmp_path, engine, header):
    body = ("first,second\n" if header else "") + "1,0\n0,1\n"
    path = _write(tmp_path, "\ufeff" + body)
    ds = datasets.load_binary_csv(path, engine=engine)
    np.testing.assert_array_equal(ds.X.toarray(), np.eye(2))
    assert list(ds.feature_names) == (["first", "second"] if header else ["0", "1"])
    assert "byte-order mark" in ds.provenance["byte_order_mark"]


# ---------------------------------------------------------------- missing cells


NA_BODY = "a,b,c\n1,0,1\n,1,0\n0,NA,1\n1,1,0\nn/a,?,NULL\n0,nan,1\n"
# Missing cells by hand: line 3 a; line 4 b; line 6 a, b, c; line 7 b.
NA_CELLS = [(3, "a"), (4, "b"), (6, "a"), (6, "b"), (6, "c"), (7, "b")]


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_cells_are_refused_by_default_naming_them(tmp_path, engine):
    path = _write(tmp_path, NA_BODY)
    with pytest.raises(ValueError) as error:
        datasets.load_binary_csv(path, engine=engine)
    message = str(error.value)
    assert f"{len(NA_CELLS)} missing cell(s)" in message
    first_few = "; ".join(f"line {line}, column {column!r}" for line, column in NA_CELLS[:5])
    assert f"the first: {first_few}." in message and "na='zero'" in message and "na='drop-rows'" in message


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_cells_read_as_zero_are_counted(tmp_path, engine):
    path = _write(tmp_path, NA_BODY)
    ds = datasets.load_binary_csv(path, na="zero", engine=engine)
    reference = pd.read_csv(path, na_values=["", "NA", "n/a", "?", "NULL", "nan"], keep_default_na=False).fillna(0)
    np.testing.assert_array_equal(ds.X.toarray(), reference.to_numpy())
    assert ds.provenance["na_cells_set_to_zero"] == len(NA_CELLS)


@pytest.mark.parametrize("engine", ENGINES)
def test_rows_with_missing_cells_can_be_dropped(tmp_path, engine):
    path = _write(tmp_path, NA_BODY)
    ds = datasets.load_binary_csv(path, na="drop-rows", engine=engine)
    dropped_lines = sorted({line for line, _ in NA_CELLS})
    kept_lines = [line for line in range(2, 8) if line not in dropped_lines]
    np.testing.assert_array_equal(ds.row_ids, kept_lines)
    rows = list(csv.reader(io.StringIO(NA_BODY)))
    np.testing.assert_array_equal(ds.X.toarray(), [[int(v) for v in rows[line - 1]] for line in kept_lines])
    assert ds.provenance["na_rows_dropped"] == len(dropped_lines)
    assert ds.provenance["na_rows_dropped_first_lines"] == dropped_lines


def test_bad_na_option_is_explained(tmp_path):
    with pytest.raises(ValueError, match=r"na must be one of \['error', 'zero', 'drop-rows'\]"):
        datasets.load_binary_csv(_write(tmp_path, "1,0\n"), na="skip")


# ---------------------------------------------------------------- fast path against references


def _messy_file(tmp_path, n=400, d=9, seed=4):
    """ids, a text label and 0/1 features written as digits, booleans and a few missing cells."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n, d)) < 0.25).astype(int)
    missing = rng.random((n, d)) < 0.01
    spellings = {1: ["1", "1.0", "TRUE", "yes", "t"], 0: ["0", "0.0", "FALSE", "no", "f"]}
    labels = rng.choice(["alpha", "beta", "gamma"], n)
    lines = ["id," + ",".join(f"f{j}" for j in range(d)) + ",kind"]
    for i in range(n):
        cells = ["" if missing[i, j] else rng.choice(spellings[X[i, j]]) for j in range(d)]
        lines.append(f"r{i}," + ",".join(cells) + f",{labels[i]}")
    path = tmp_path / "messy.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path, np.where(missing, 0, X), labels


def test_fast_and_reference_parsers_agree_with_an_independent_parse(tmp_path):
    path, X, labels = _messy_file(tmp_path)
    fast = datasets.load_binary_csv(path, id_column="id", label_column="kind", na="zero")
    reference = datasets.load_binary_csv(path, id_column="id", label_column="kind", na="zero", engine="reference")
    assert fast.provenance["parser"] == "pandas C parser"
    assert reference.provenance["parser"].startswith("csv module")
    for ds in (fast, reference):
        np.testing.assert_array_equal(ds.X.toarray(), X)
        np.testing.assert_array_equal(ds.row_ids, [f"r{i}" for i in range(len(X))])
        pd.testing.assert_frame_equal(ds.targets.reset_index(drop=True),
                                      pd.get_dummies(pd.Series(labels), prefix="kind", prefix_sep="=", dtype=np.int64))
        assert ds.provenance["na_cells_set_to_zero"] == fast.provenance["na_cells_set_to_zero"]
    assert fast.provenance["na_cells_set_to_zero"] == int((pd.read_csv(path, dtype=str).isna()).to_numpy().sum())


def test_fast_path_reads_a_larger_plain_file_as_numpy_does(tmp_path, monkeypatch):
    # Small chunks, so that rows are read in several pandas chunks.
    monkeypatch.setattr(dense_csv, "_CHUNK_CELLS", 500)
    X = _random_binary(n=1000, d=40, seed=5, rate=0.05)
    path = _write(tmp_path, _csv_text(X, "\t"))
    ds = datasets.load_binary_csv(path)
    assert ds.provenance["parser"] == "pandas C parser"
    np.testing.assert_array_equal(ds.X.toarray(), np.loadtxt(path, delimiter="\t"))
    np.testing.assert_array_equal(ds.row_ids, np.arange(1, 1001))


def test_quoted_file_is_read_by_the_reference_parser(tmp_path):
    path = _write(tmp_path, '"id","a, first","b"\n"x",1,0\n"y",0,1\n')
    ds = datasets.load_binary_csv(path, id_column="id")
    assert ds.provenance["parser"].startswith("csv module")
    assert list(ds.feature_names) == ["a, first", "b"] and list(ds.row_ids) == ["x", "y"]
    np.testing.assert_array_equal(ds.X.toarray(), np.eye(2))


@pytest.mark.parametrize(
    "body",
    [
        "a,b\n1,0\n1\n",
        "a,b\n1,0\n1,0,1\n0,1\n",
        "a,b\n1,0\n0,1,1\n1\n",  # one field too many and one too few: the byte counts add up
        "a,b\n1,0\n\n0,1\n",
        "a,b\n1,0\n1,maybe\n0,x\n",
        "a,b\n1,0\nnope,1\n0,\n",
        "a,b\n1,0\n2,1\n0,-1\n3,1\n",
        "a,b\n1,0\n2,1\n7,1\n",
        "a,b\n1,,\n",
        "a,b\n,1\nNA,1\n0,?\n1,NULL\n1,N/A\nnan,0\n",
        "a,b\n1,0\n0,0.5\n",
        "a;b\n1;0\n0;2\n",
        "a,b\n1,0\n0,1\r\n0,1\n1\r\n",
    ],
)
def test_fast_and_reference_parsers_raise_the_same_errors(tmp_path, body):
    path = _write(tmp_path, body)
    with pytest.raises(ValueError) as fast:
        datasets.load_binary_csv(path)
    with pytest.raises(ValueError) as reference:
        datasets.load_binary_csv(path, engine="reference")
    assert str(fast.value) == str(reference.value)


def test_line_numbers_count_the_header(tmp_path):
    X = _random_binary(n=30, d=3, seed=6)
    lines = _csv_text(X, header=["a", "b", "c"]).splitlines()
    lines[17] = "1,0,oops"  # the file's line 18
    path = _write(tmp_path, "\n".join(lines) + "\n")
    for engine in ENGINES:
        with pytest.raises(ValueError, match=r"line 18, column 'c': non-numeric value 'oops'"):
            datasets.load_binary_csv(path, engine=engine)


# ---------------------------------------------------------------- read_data: formats and kinds


def test_read_data_reads_counts_and_binary_by_their_values(tmp_path):
    counts = np.random.default_rng(7).poisson(1.0, (20, 4))
    path = _write(tmp_path, _csv_text(counts, header=["a", "b", "c", "d"]))
    ds = datasets.read_data(path)
    assert isinstance(ds, datasets.CountDataset)
    np.testing.assert_array_equal(ds.X.toarray(), pd.read_csv(path).to_numpy())
    binary = datasets.read_data(_write(tmp_path, _csv_text(counts > 0), "b.csv"))
    assert type(binary) is datasets.BinaryDataset
    forced = datasets.read_data(_write(tmp_path, _csv_text((counts > 0).astype(int)), "c.csv"), kind="counts")
    assert isinstance(forced, datasets.CountDataset)
    with pytest.raises(ValueError, match=r"not 0 or 1; the first is '\d+' at line \d+, column '[a-d]'"):
        datasets.read_data(path, kind="binary")


def test_read_data_names_the_first_cell_that_is_neither_binary_nor_a_count(tmp_path):
    path = _write(tmp_path, "a,b\n1,0\n3,1\n0,2.5\n-1,1\n")
    with pytest.raises(ValueError, match=r"2 value\(s\) are not 0/1 or non-negative integers \(counts\); the first "
                                         r"is '2.5' at line 4, column 'b'"):
        datasets.read_data(path)


def test_read_data_formats_by_suffix(tmp_path):
    X = sp.csr_matrix(np.array([[1, 0, 2], [0, 1, 0]]))
    sp.save_npz(tmp_path / "m.npz", X)
    counts = datasets.read_data(tmp_path / "m.npz")
    assert isinstance(counts, datasets.CountDataset)
    np.testing.assert_array_equal(counts.X.toarray(), X.toarray())
    scipy.io.mmwrite(tmp_path / "m.mtx", sp.coo_matrix(np.array([[0, 1], [1, 1]])))
    binary = datasets.read_data(tmp_path / "m.mtx")
    assert type(binary) is datasets.BinaryDataset
    np.testing.assert_array_equal(binary.X.toarray(), [[0, 1], [1, 1]])
    pairs = datasets.read_data(_write(tmp_path, "row\tcolumn\nann\ttea\nbob\tcoffee\n", "p.tsv"))
    assert list(pairs.row_ids) == ["ann", "bob"] and list(pairs.feature_names) == ["coffee", "tea"]
    with pytest.raises(ValueError, match=r"cannot tell the format of .*data\.parquet.*'csv' \(\.csv \.tsv \.txt\)"):
        datasets.read_data(tmp_path / "data.parquet")
    with pytest.raises(ValueError, match=r"option\(s\) \['na'\] do not apply to the 'npz' format"):
        datasets.read_data(tmp_path / "m.npz", na="zero")
    # Every reading option may be passed at its default, whatever the format (as the spae command does).
    same = datasets.read_data(tmp_path / "m.npz", header=None, delimiter=None, na="error", id_column=None)
    np.testing.assert_array_equal(same.X.toarray(), X.toarray())
    with pytest.raises(ValueError, match=r"unknown reading option\(s\) \['sep'\]"):
        datasets.read_data(tmp_path / "m.npz", sep=",")
    with pytest.raises(ValueError, match="kind='counts' needs a dense CSV"):
        datasets.read_data(_write(tmp_path, "row,column\n1,2\n", "q.csv"), kind="counts")


# ---------------------------------------------------------------- labels


def _unlabelled(n=40, seed=8):
    X = _random_binary(n=n, d=6, seed=seed)
    return datasets.BinaryDataset(name="u", X=X, feature_names=[f"f{j}" for j in range(6)],
                                  row_ids=np.arange(100, 100 + n))


def test_labels_by_order_from_a_column_of_the_csv(tmp_path):
    path = _write(tmp_path, "a,b,diagnosis\n1,0,b\n0,1,a\n1,1,c\n0,0,a\n")
    ds = datasets.load_binary_csv(path, label_column="diagnosis")
    assert list(ds.feature_names) == ["a", "b"]
    assert ds.task == "classification: diagnosis (3 classes: a, b, c)"
    expected = pd.get_dummies(pd.Series(["b", "a", "c", "a"]), prefix="diagnosis", prefix_sep="=", dtype=np.int64)
    pd.testing.assert_frame_equal(ds.targets.reset_index(drop=True), expected)
    assert evaluation.task_kind(ds.task, ds.targets) == "classification"


@pytest.mark.parametrize("engine", ENGINES)
def test_label_column_is_typed_as_a_whole(tmp_path, engine):
    prices = [3.25, 10.0, 7.5, 1.0]
    path = _write(tmp_path, "a,b,price\n" + "".join(f"{i % 2},1,{p}\n" for i, p in enumerate(prices)))
    ds = datasets.load_binary_csv(path, label_column="price", engine=engine)
    assert ds.task == "regression: price"
    np.testing.assert_array_equal(ds.targets["price"], prices)
    flags = _write(tmp_path, "a,ok\n1,yes\n0,No\n1,YES\n", "f.csv")
    assert list(datasets.load_binary_csv(flags, label_column="ok", engine=engine).targets["ok=True"]) == [1, 0, 1]


def test_labels_by_id_from_a_label_file_in_another_order(tmp_path):
    ds = _unlabelled()
    rng = np.random.default_rng(9)
    prices = rng.normal(10, 3, len(ds.row_ids))
    order = rng.permutation(len(ds.row_ids))
    lines = ["price;id"] + [f"{prices[i]:.17g};{ds.row_ids[i]}" for i in order]
    labels = _write(tmp_path, "\n".join(lines) + "\n", "labels.csv")
    labelled = datasets.read_data(_write(tmp_path, _csv_text(ds.X.toarray().astype(int)), "x.csv"))
    # The data file's rows are ids 1..40 (its line numbers); the label file names 100..139.
    with pytest.raises(ValueError, match=r"40 row id\(s\) have no label .* 40 label id\(s\) are not rows"):
        datasets.attach_labels(labelled, labels, id_column="id")
    attached = datasets.attach_labels(ds, labels, id_column="id")
    assert attached.task == "regression: price"
    np.testing.assert_allclose(attached.targets["price"].to_numpy(), prices)
    assert "matched by id" in attached.provenance["labels"]


def test_label_count_and_id_mismatches_are_named(tmp_path):
    ds = _unlabelled(n=5)
    with pytest.raises(ValueError, match=r"4 labels for 5 rows"):
        datasets.attach_labels(ds, ["a", "b", "a", "b"])
    series = pd.Series(["x", "y", "x", "y", "z", "x"], index=[100, 101, 102, 103, 999, 998], name="kind")
    with pytest.raises(ValueError, match=r"1 row id\(s\) have no label \['104'\], 2 label id\(s\) are not rows "
                                         r"\['998', '999'\]"):
        datasets.attach_labels(ds, series)
    with pytest.raises(ValueError, match=r"label 'kind' is missing for 2 row\(s\) \(row ids 101, 103\)"):
        datasets.attach_labels(ds, pd.Series(["x", None, "y", "NA", "x"], name="kind"))
    with pytest.raises(ValueError, match=r"already has targets"):
        datasets.attach_labels(datasets.attach_labels(ds, [0, 1, 0, 1, 1]), [0, 1, 0, 1, 1])


def test_label_types_decide_the_task():
    ds = _unlabelled(n=6)
    two = datasets.attach_labels(ds, pd.Series(["no", "yes", "yes", "no", "no", "yes"], name="sick"))
    assert list(two.targets.columns) == ["sick=yes"] and list(two.targets["sick=yes"]) == [0, 1, 1, 0, 0, 1]
    assert two.task == "classification: sick (2 classes: no, yes; positive: yes)"
    flags = datasets.attach_labels(ds, np.array([True, False, True, True, False, False]), name="flag")
    assert list(flags.targets.columns) == ["flag=True"] and list(flags.targets["flag=True"]) == [1, 0, 1, 1, 0, 0]
    zero_one = datasets.attach_labels(ds, [0, 1, 1, 0, 1, 0], name="y")
    assert zero_one.task.startswith("classification: y (2 classes: 0, 1; positive: 1)")
    grades = [1, 2, 3, 2, 1, 3]
    regression = datasets.attach_labels(ds, grades, name="grade")
    assert regression.task.startswith("regression: grade (integers with 3 distinct values")
    np.testing.assert_array_equal(regression.targets["grade"], grades)
    classes = datasets.attach_labels(ds, grades, name="grade", task="classification")
    assert list(classes.targets.columns) == ["grade=1", "grade=2", "grade=3"]
    np.testing.assert_array_equal(classes.targets.to_numpy(), np.eye(3, dtype=int)[np.array(grades) - 1])
    category = datasets.attach_labels(ds, pd.Series(pd.Categorical(list("abcabc")), name="c"))
    assert category.task == "classification: c (3 classes: a, b, c)"
    with pytest.raises(ValueError, match=r"task='regression' needs numeric labels; 'c' holds text"):
        datasets.attach_labels(ds, pd.Series(list("abcabc"), name="c"), task="regression")
    with pytest.raises(ValueError, match=r"holds one class \(a\)"):
        datasets.attach_labels(ds, list("aaaaaa"))


def test_label_file_without_ids_is_taken_in_order_and_typed(tmp_path):
    ds = _unlabelled(n=4)
    path = _write(tmp_path, "outcome\nTRUE\nfalse\nFALSE\ntrue\n", "y.csv")
    attached = datasets.attach_labels(ds, path)
    assert list(attached.targets["outcome=True"]) == [1, 0, 0, 1]
    with pytest.raises(ValueError, match=r"expected one label column besides the ids, found \['id', 'y'\] \(name the "
                                         r"id column with label_id_column, or the label column with label_column\)"):
        datasets.attach_labels(ds, _write(tmp_path, "id,y\n1,a\n", "two.csv"))


def test_read_data_with_a_label_file(tmp_path):
    X = _random_binary(n=8, d=3, seed=10)
    data = _write(tmp_path, "id," + "a,b,c\n" + "".join(f"s{i}," + ",".join(map(str, row)) + "\n"
                                                        for i, row in enumerate(X)))
    labels = _write(tmp_path, "id,group\n" + "".join(f"s{i},{'xyz'[i % 3]}\n" for i in reversed(range(8))), "l.csv")
    ds = datasets.read_data(data, id_column="id", labels=labels, label_id_column="id")
    expected = pd.get_dummies(pd.Series(["xyz"[i % 3] for i in range(8)]), prefix="group", prefix_sep="=",
                              dtype=np.int64)
    pd.testing.assert_frame_equal(ds.targets.reset_index(drop=True), expected)
    several = _write(tmp_path, "note,id,group\n" + "".join(f"n{i},s{i},{'xyz'[i % 3]}\n" for i in range(8)), "m.csv")
    picked = datasets.read_data(data, id_column="id", labels=several, label_id_column="id", label_column="group")
    pd.testing.assert_frame_equal(picked.targets.reset_index(drop=True), expected)
    with pytest.raises(ValueError, match=r"label column 'grp' is not in its columns \['note', 'id', 'group'\]"):
        datasets.read_data(data, id_column="id", labels=several, label_id_column="id", label_column="grp")


def test_attaching_labels_never_changes_the_split():
    ds = _unlabelled(n=200)
    labels = np.random.default_rng(11).choice(["a", "b"], 200, p=[0.8, 0.2])
    labelled = datasets.attach_labels(ds, labels, name="y")
    for seed in (0, 1, 2):
        before, after = ds.split(seed=seed), labelled.split(seed=seed)
        for name in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(before, name).positions, getattr(after, name).positions)
        assert after.stratified_on == ()
    assert labelled.split(seed=0, stratify="labels").stratified_on == ("y=b",)


# ---------------------------------------------------------------- evaluation refuses text targets up front


def test_task_kind_refuses_text_targets():
    targets = pd.DataFrame({"diagnosis": ["a", "b", "c"]})
    with pytest.raises(ValueError, match=r"target column 'diagnosis' holds .* neither numbers nor 0/1.*attach_labels"):
        evaluation.task_kind(None, targets)
    with pytest.raises(ValueError, match=r"target column 'diagnosis'"):
        evaluation.task_kind("classification: diagnosis", targets)
    assert evaluation.task_kind("none", targets) == "none"
    assert evaluation.task_kind(None, pd.DataFrame({"y": [0.5, 2.0]})) == "regression"
    assert evaluation.task_kind(None, pd.DataFrame({"y": [True, False]})) == "classification"


def test_evaluate_refuses_string_labels_before_any_metric(monkeypatch):
    ds = _unlabelled(n=60)
    labelled = datasets.BinaryDataset(name="t", X=ds.X, feature_names=ds.feature_names, row_ids=ds.row_ids,
                                      targets=pd.DataFrame({"diagnosis": list("abc") * 20}))
    split = labelled.split(seed=0)
    calls = []

    class Model:
        def predict_proba(self, X):
            calls.append("predict_proba")
            return np.full(X.shape, 0.5)

        def transform(self, X):
            calls.append("transform")
            return np.zeros((X.shape[0], 2))

    def metric_ran(*args, **kwargs):
        raise AssertionError("a metric ran before the targets were checked")

    monkeypatch.setattr(evaluation, "_reconstruction_fields", metric_ran)
    monkeypatch.setattr(evaluation, "_embedding_fields", metric_ran)
    with pytest.raises(ValueError, match=r"target column 'diagnosis'"):
        evaluation.evaluate(Model(), split)
    assert calls == []


@pytest.mark.parametrize("engine", ENGINES)
def test_ids_and_labels_are_kept_as_written_on_both_parsers(tmp_path, engine):
    # "NA" is a missing feature cell, but an id as written; a label "NA" is a missing label.
    path = _write(tmp_path, "id,a,b,y\nNA,1,0,x\nnull,0,1,z\nn3,1,1,NA\n")
    with pytest.raises(ValueError, match=r"label 'y' is missing for 1 row\(s\) \(row ids n3\)"):
        datasets.load_binary_csv(path, id_column="id", label_column="y", engine=engine)
    kept = datasets.load_binary_csv(path, id_column="id", label_column="y", na="drop-rows", engine=engine)
    assert list(kept.row_ids) == ["NA", "null"] and kept.provenance["na_rows_dropped_first_lines"] == [4]
    np.testing.assert_array_equal(kept.X.toarray(), [[1, 0], [0, 1]])
    assert list(kept.targets["y=z"]) == [0, 1]
