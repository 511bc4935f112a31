"""OMDB movie metadata, one-hot: stand-in for the paper's IMDB_1.0 (content metadata -> rating).

Source: the ``omdb`` table of the SQLite database in ``bokeh-sampledata==2025.0``
(``bokeh_sampledata.movies_data.movie_path``; 12,569 films, 1915-2014). Later versions of the
package have an empty ``imdbRating`` column, hence the exact pin.
"""

from __future__ import annotations

import sqlite3

import pandas as pd

from .dataset import BinaryDataset
from .onehot import one_hot_multi
from .packages import BOKEH_SAMPLEDATA, import_package
from .reduction import nonempty

PACKAGE = BOKEH_SAMPLEDATA
SOURCE_FILE = "bokeh_sampledata/_data/movies.db"
SOURCE_URL = "http://www.omdbapi.com (via bokeh-sampledata)"
DATA_LICENCE = "data: CC BY-NC 4.0 (OMDB, per bokeh_sampledata.movies_data)"
TARGET = "imdb_rating"
TASK = f"regression: {TARGET}"
#: Columns of the paper's IMDB encoding: language, country, content type (the content rating).
METADATA_COLUMNS = ("Language", "Country", "Rating")


def read_movies() -> pd.DataFrame:
    """The raw ``omdb`` table (id, metadata columns, imdbRating), ordered by imdbID."""
    import_package(PACKAGE)
    from bokeh_sampledata.movies_data import movie_path

    with sqlite3.connect(f"file:{movie_path}?mode=ro", uri=True) as connection:
        return pd.read_sql_query(
            "SELECT imdbID, Language, Country, Rating, Director, imdbRating FROM omdb ORDER BY imdbID",
            connection,
        )


def build_metadata(movies: pd.DataFrame, *, name: str, columns) -> BinaryDataset:
    """One-hot metadata of the films that have an IMDB rating, with the rating as target."""
    rated = movies[movies["imdbRating"].notna()].reset_index(drop=True)
    X, feature_names = one_hot_multi(rated, list(columns))
    rows, _ = nonempty(X)
    rule = (
        f"films without imdbRating dropped ({len(movies) - len(rated)} of {len(movies)}); columns "
        f"{', '.join(columns)} one-hot encoded: each cell split on ',', parts stripped, missing and "
        f"'N/A' parts dropped, feature '<column>=<value>' is 1 if the film has that value; films "
        f"with no value in any of these columns dropped ({len(rated) - len(rows)}); target "
        f"{TARGET} = imdbRating (0-10, float)."
    )
    return BinaryDataset(
        name=name,
        X=X[rows],
        feature_names=feature_names,
        row_ids=rated["imdbID"].to_numpy(dtype=str)[rows],
        targets=pd.DataFrame({TARGET: rated["imdbRating"].to_numpy(dtype=float)[rows]}),
        task=TASK,
        provenance={"rule": rule},
    )
