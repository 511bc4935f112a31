"""The paper's own constants and reported results, typed from its text: its losses, its claims, its Figure 6.

Everything here is the paper's, not ours; the book marks it so. Source: the paper's text
(``../shared/paper/000_80c6a77a4ffe7ea1.txt``). Figure 6 is "which reconstruction loss achieves
the best performance for each dataset-metric combination"; the figure's bar heights (Figures 2-5)
were lost in the text extraction, so only these verdicts can be compared. The claims' ``text``
and ``source`` are quoted from the paper; the metric columns they are read on are ours.

This module imports nothing of spae's: every other module takes the paper's names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AWARE", "CLAIMS", "DOWNSTREAM", "EMBEDDING", "FIGURE6_CLAIM", "FIGURE6_METRICS", "IMDB_CONTINGENCY_CLAIM",
           "PAPER_DATASET_NAMES", "PAPER_FIGURE6", "PAPER_LOSSES", "PAPER_LOSS_NAMES", "STANDARD", "WEIGHTED", "Claim"]

#: The paper's six losses, in the order it discusses them.
PAPER_LOSSES = ("mse", "bce", "wmse", "wbce", "focal", "dice")

#: How the paper writes its losses' names (its Conclusion: "WBCE, WMSE, Focal, Dice"), for display.
PAPER_LOSS_NAMES = {"mse": "MSE", "bce": "BCE", "wmse": "WMSE", "wbce": "WBCE", "focal": "Focal", "dice": "Dice"}

#: The paper's sparsity-aware losses and its standard ones (together :data:`PAPER_LOSSES`).
AWARE = ("wmse", "wbce", "focal", "dice")
STANDARD = ("mse", "bce")

#: The paper's weighted losses (Eq. 5 and its BCE twin), whose weights ``alpha_j`` depend on ``beta``.
WEIGHTED = ("wmse", "wbce")

#: Metric columns of Figure 6, mapped to the column of our run records that measures the same thing.
FIGURE6_METRICS = {
    "AP": "ap_macro",
    "Pairwise Contingency": "contingency",
    "Trustworthiness": "trustworthiness",
    "CH Score (DBScan)": "ch_dbscan",
    "CH Score (Sparsity)": "ch_sparsity",
    "R2 Score Rating": "r2_imdb_rating",
    "AP diagnosis labels": "ap_label_mean",
}

#: How the paper writes its datasets' names (Figure 6's rows: "Netflix 0.97"), for display.
PAPER_DATASET_NAMES = {"Netflix_0.97": "Netflix 0.97", "Netflix_0.98": "Netflix 0.98", "Netflix_1.0": "Netflix 1.0",
                       "IMDB_1.0": "IMDB 1.0", "Reuma_0.85": "Reuma 0.85"}

#: Figure 6 cells: paper dataset -> Figure 6 metric -> set of winning losses ({"all"} = all tied).
#: The paper's three label columns (AP SpA: WBCE, AP PMR: WMSE, AP APS: WMSE) are pooled into
#: "AP diagnosis labels" because our clinical stand-in has different labels; its winners are the
#: union of the three.
PAPER_FIGURE6 = {
    "Netflix_0.97": {"AP": {"mse"}, "Pairwise Contingency": {"wmse"}, "Trustworthiness": {"wmse"},
                     "CH Score (DBScan)": {"dice"}, "CH Score (Sparsity)": {"focal"}},
    "Netflix_0.98": {"AP": {"mse"}, "Pairwise Contingency": {"focal"}, "Trustworthiness": {"wmse"},
                     "CH Score (DBScan)": {"dice"}, "CH Score (Sparsity)": {"dice"}},
    "Netflix_1.0": {"AP": {"bce"}, "Pairwise Contingency": {"dice"}, "Trustworthiness": {"wmse"},
                    "CH Score (DBScan)": {"wmse"}, "CH Score (Sparsity)": {"dice"}},
    "IMDB_1.0": {"AP": {"bce"}, "Pairwise Contingency": {"all"}, "Trustworthiness": {"wmse"},
                 "CH Score (DBScan)": {"dice"}, "CH Score (Sparsity)": {"all"}, "R2 Score Rating": {"wbce"}},
    "Reuma_0.85": {"AP": {"mse"}, "Pairwise Contingency": {"focal"}, "Trustworthiness": {"focal"},
                   "CH Score (DBScan)": {"wmse"}, "CH Score (Sparsity)": {"focal"},
                   "AP diagnosis labels": {"wbce", "wmse"}},
}


#: Record columns of the embedding-space metrics (Sec. 4.3.2, Figure 4) and of the downstream tasks
#: (Sec. 4.3.3, Figure 5), as the claims about them are read on our runs.
EMBEDDING = ("trustworthiness", "ch_dbscan", "ch_sparsity")
DOWNSTREAM = ("r2_imdb_rating", "ap_label_mean")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, read as "``group_a`` beats ``group_b`` on ``metrics``".

    ``text`` and ``source`` are the paper's; ``evidence`` names the book section to look at.
    A claim tested otherwise (Figure 6's cells, the IMDB contingency claim) leaves ``metrics``
    and the groups empty.
    """

    key: str
    source: str
    text: str
    metrics: tuple = ()
    group_a: tuple = ()
    group_b: tuple = ()
    evidence: str = ""
    consistent: bool = False


#: The claims read as "family A beats family B", in the order the claims page lists them.
CLAIMS = (
    Claim("ap_standard", "Sec. 4.3.1 and Conclusion", "MSE and BCE achieve the strongest per-entry recovery (AP)",
          ("ap_macro",), STANDARD, AWARE, "Section 3, Figure 2a"),
    Claim("contingency_aware", "Sec. 4.3.1", "Sparsity-aware losses better preserve feature dependencies",
          ("contingency",), AWARE, STANDARD, "Section 3, Figure 2b"),
    Claim("mass_aware", "Sec. 4.3.1, Fig. 3", "sparsity-aware losses place more probability mass in the intermediate "
          "region, specifically in the region where x_hat > t = 0.5", ("mass_above_threshold",), AWARE, STANDARD,
          "Section 3, Figure 3"),
    Claim("embedding_aware", "Sec. 4.3.2", "Sparsity-aware losses have better results on the embedding space metrics "
          "when compared to MSE or BCE", EMBEDDING, AWARE, STANDARD, "Section 4, Figure 4"),
    Claim("focal_embedding", "Sec. 4.3.2", "Focal loss is particularly effective, balancing local neighborhood "
          "preservation (trustworthiness) with global cluster separation (CH score)",
          ("trustworthiness", "ch_dbscan"), ("focal",), STANDARD, "Section 4, Figure 4"),
    # The group is in the order of the paper's words ("WBCE and WMSE").
    Claim("downstream_weighted", "Sec. 4.3.3", "Sparsity-aware losses, specifically WBCE and WMSE, outperform BCE and "
          "MSE across both regression (R^2) and classification (AP) tasks", DOWNSTREAM, ("wbce", "wmse"), STANDARD,
          "Section 5, Figure 5"),
    Claim("abstract_rare_events", "Abstract", "these alternatives outperform MSE and BCE on metrics sensitive to rare "
          "events", ("contingency", *EMBEDDING, *DOWNSTREAM), AWARE, STANDARD, "Sections 3-5"),
    Claim("conclusion_consistent", "Conclusion", "incorporating sparsity-awareness into the objective consistently "
          "improves both reconstruction and representation quality", ("contingency", *EMBEDDING, *DOWNSTREAM), AWARE,
          STANDARD, "Sections 3-6", consistent=True),
)

#: "all models achieve their highest contingency scores on the IMDB dataset": compares datasets
#: per loss, so it is no family claim (:func:`spae_core.claims.highest_contingency_claim`).
IMDB_CONTINGENCY_CLAIM = Claim("contingency_highest_on_imdb", "Sec. 4.3.1",
                               "all models achieve their highest contingency scores on the IMDB dataset",
                               evidence="Section 3, Figure 2b", consistent=True)

#: Figure 6 read as a claim, one unit per cell (:func:`spae_core.claims.figure6_claim`).
FIGURE6_CLAIM = Claim("figure6_winners", "Fig. 6", "Each cell marks the top-performing loss", evidence="Section 6")
