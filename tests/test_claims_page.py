"""The claims page and the headline as HTML: every claim, the right badge, untestable units apart, readable colours."""

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spae_core.claims_page import CLAIM_TITLES, VERDICTS, claim_anchor, claims_page, headline, verdict_class
from spae_core.paper import CLAIMS, FIGURE6_CLAIM, IMDB_CONTINGENCY_CLAIM

CSS = Path(__file__).resolve().parents[1] / "_static" / "claims.css"


def _verdicts():
    keys = ["ap_standard", "embedding_aware", "contingency_highest_on_imdb", "figure6_winners"]
    return pd.DataFrame({
        "claim": keys, "source": ["Sec. 1", "Sec. 2", "Sec. 3", "Fig. 6"],
        "paper's words": ["MSE & BCE win", "aware < embed", "IMDB highest", "each cell"],
        "verdict": ["not supported", "inconclusive", "supported", "untestable"],
        "ahead": [0, 1, 4, 0], "behind": [1, 0, 0, 0], "units": [1, 2, 6, 0], "untestable": [0, 1, 0, 2],
        "evidence": ["Section 3", "Section 4", "Section 3", "Section 6"],
        "reason": ["r1", "r2", "highest on the IMDB stand-in for 4 of 6 losses", "no testable cell"],
        "under other kernels": ["same (1 check)", "FRAGILE: supported under torch avx2", "same (1 check)",
                                "same (1 check)"]})


def _units():
    row = dict(best_a="mse", best_b="dice", ci_low=-0.2, ci_high=-0.1, p=0.01, p_holm=0.01)
    return pd.DataFrame([
        {"claim": "ap_standard", "dataset": "d1", "metric": "ap_macro", **row, "difference": -0.15, "n_pairs": 3,
         "outcome": "behind"},
        {"claim": "embedding_aware", "dataset": "d1", "metric": "trustworthiness", **row, "difference": 0.3,
         "ci_low": 0.2, "ci_high": 0.4, "n_pairs": 3, "outcome": "ahead"},
        {"claim": "embedding_aware", "dataset": "d2", "metric": "trustworthiness", **row, "difference": 0.01,
         "ci_low": -0.1, "p_holm": 0.5, "n_pairs": 3, "outcome": "no difference"},
        {"claim": "embedding_aware", "dataset": "d3_lonely", "metric": "ch_dbscan", **row, "difference": 0.0,
         "ci_low": 0.0, "ci_high": 0.0, "p": np.nan, "p_holm": np.nan, "n_pairs": 1, "outcome": "untestable"},
    ])


class _Blocks(HTMLParser):
    """Collects each claim's article: its id, classes, badge classes and text, and the tables' and lists' text."""

    def __init__(self):
        super().__init__()
        self.articles, self.stack, self.open_tags = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.open_tags.append(tag)
        if tag == "article":
            self.articles.append({"id": attrs["id"], "class": attrs["class"], "badges": [], "text": "", "table": "",
                                  "untestable": ""})
        if self.articles and tag == "span" and "spae-badge" in attrs.get("class", ""):
            self.articles[-1]["badges"].append(attrs["class"])
        self.stack.append(attrs.get("class", ""))

    def handle_endtag(self, tag):
        assert self.open_tags.pop() == tag, f"unbalanced </{tag}>"
        self.stack.pop()

    def handle_data(self, data):
        if not self.articles:
            return
        article = self.articles[-1]
        article["text"] += data
        if "spae-units" in self.stack or "spae-scroll" in self.stack:
            article["table"] += data
        if "spae-untestable" in self.stack:
            article["untestable"] += data


def _parse(html):
    parser = _Blocks()
    parser.feed(html)
    assert parser.open_tags == [], "unclosed tags"
    return {a["id"]: a for a in parser.articles}


def test_every_claim_appears_once_with_its_title_anchor_and_the_badge_of_its_verdict():
    verdicts = _verdicts()
    blocks = _parse(claims_page(verdicts, _units()).data)
    assert list(blocks) == [f"claim-{key}" for key in verdicts["claim"]]
    for _, row in verdicts.iterrows():
        block = blocks[claim_anchor(row["claim"])]
        expected = "spae-verdict--" + row["verdict"].replace(" ", "-")
        assert block["badges"] == [f"spae-badge {expected}"] and expected in block["class"].split()
        # The word is in the badge (not colour alone); the title, not the key, is what a reader sees.
        assert row["verdict"] in block["text"] and CLAIM_TITLES[row["claim"]] in block["text"]
        assert row["claim"] not in block["text"] and row["paper's words"] in block["text"]
    assert "Fragile under other kernels" in blocks["claim-embedding_aware"]["text"]
    assert "Fragile" not in blocks["claim-ap_standard"]["text"]


def test_untestable_units_are_listed_apart_and_not_in_the_counts_or_the_table():
    block = _parse(claims_page(_verdicts(), _units()).data)["claim-embedding_aware"]
    assert "d3_lonely" in block["untestable"] and "1 seed pair" in block["untestable"]
    assert "d3_lonely" not in block["table"] and "d1" in block["table"] and "d2" in block["table"]
    # One line of evidence: counts over the 2 testable units, the untestable one counted apart,
    # and the clearest separated unit (d1, ahead) with its interval.
    assert "Ahead in 1, behind in 0 of 2 testable units; 1 untestable" in block["text"]
    assert "(ahead): d1 Trustworthiness, MSE − Dice = 0.3 [0.2, 0.4]" in block["text"]  # names as the tables write them
    assert "Detail: 2 testable units, 1 untestable" in block["text"]


def test_claims_without_units_show_their_reason():
    block = _parse(claims_page(_verdicts(), _units()).data)["claim-contingency_highest_on_imdb"]
    assert "highest on the IMDB stand-in for 4 of 6 losses" in block["text"] and block["table"] == ""


def test_the_page_is_deterministic_and_refuses_unknown_verdicts_and_frames():
    assert claims_page(_verdicts(), _units()).data == claims_page(_verdicts(), _units()).data
    with pytest.raises(ValueError, match="unknown verdict"):
        claims_page(_verdicts().assign(verdict="maybe"), _units())
    with pytest.raises(ValueError, match="lacks column"):
        claims_page(_verdicts().drop(columns="reason"), _units())


def test_every_claim_of_the_paper_has_a_title():
    assert set(CLAIM_TITLES) == {c.key for c in (*CLAIMS, IMDB_CONTINGENCY_CLAIM, FIGURE6_CLAIM)}


def test_headline_counts_each_verdict_and_links_each_claim_to_its_block():
    verdicts = _verdicts()
    html = headline(verdicts, "ci", [0, 1, 2]).data
    counts = {v: int((verdicts["verdict"] == v).sum()) for v in VERDICTS}
    tally = ", ".join(f"{counts[v]} {v}" for v in VERDICTS)
    assert tally in html and "preset <code>ci</code>, 3 seeds" in html
    links = re.findall(r'href="([^"]+)"', html)
    assert links == [f"10_claims.html#claim-{key}" for key in verdicts["claim"]]
    # Untestable is named only when some claim is.
    assert "untestable" not in headline(verdicts.iloc[:3], "ci", [0]).data.split("</strong>")[0]


def _luminance(hex_colour):
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_badge_colours_have_enough_contrast_with_their_white_text():
    css = CSS.read_text()
    assert re.search(r"\.spae-badge \{[^}]*color: #ffffff", css)
    for verdict in VERDICTS:
        background = re.search(rf"\.spae-badge\.{verdict_class(verdict)} \{{ background: (#[0-9a-f]{{6}}); \}}", css)
        assert background, f"no badge colour for {verdict}"
        ratio = (1.0 + 0.05) / (_luminance(background.group(1)) + 0.05)
        assert ratio >= 4.5, f"{verdict}: contrast {ratio:.2f} < 4.5 (WCAG AA)"


def test_untestable_units_counts_units_and_the_claims_that_have_them():
    import pandas as pd
    from spae_core.claims_page import untestable_units
    verdicts = pd.DataFrame({"untestable": [0, 2, 3, 0]})
    assert untestable_units(verdicts) == "untestable units, not counted: 5 in 2 claims"
