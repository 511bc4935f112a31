"""The verdict rules of spae_core.verdicts, each case's expected value read off the rule's statement."""

import numpy as np
import pytest

from spae_core import claims, paper
from spae_core.paper import PAPER_LOSSES
from spae_core.verdicts import (FIGURE6_COMPARED, UNDEFINED, UNTESTABLE, claim_verdict, figure6_as_claim,
                                figure6_cell_verdict, figure6_change_key, is_untestable, unit_outcome)

SIX = set(PAPER_LOSSES)


@pytest.mark.parametrize("paper_cell, best, tied, separated, defined, verdict", [
    (None, "mse", [], True, SIX, "not in paper"),                                  # no paper cell, whatever ours
    ({"mse"}, None, [], False, set(), "undefined here"),                          # undefined for every run
    ({"all"}, "mse", sorted(SIX - {"mse"}), False, SIX, "agrees"),                 # every loss tied
    ({"all"}, "mse", ["bce"], False, SIX, "differs"),                             # some loss separated
    ({"all"}, "mse", [], True, SIX, "differs"),
    ({"multinomial"}, "mse", [], True, SIX, "paper's winner not run"),
    ({"dice"}, "mse", [], True, SIX - {"dice"}, "paper's winner undefined here"),
    ({"mse"}, "mse", [], True, SIX, "agrees"),                                    # the separated best
    ({"mse"}, "mse", ["bce"], False, SIX, "tied"),                                # the best, not separated
    ({"bce"}, "mse", ["bce"], False, SIX, "tied"),                                # tied with the best
    ({"wbce", "wmse"}, "wmse", [], True, SIX, "agrees"),                          # one of two winners
    ({"bce"}, "mse", ["focal"], False, SIX, "differs"),                           # neither best nor tied
    ({"bce"}, "mse", [], True, SIX, "differs"),
])
def test_figure6_cell_verdict(paper_cell, best, tied, separated, defined, verdict):
    assert figure6_cell_verdict(paper_cell, best, tied, SIX, separated, defined) == verdict


def test_figure6_cell_verdict_precedence():
    # "not in paper" before "undefined here"; "not run" before "undefined here" of the winner.
    assert figure6_cell_verdict(None, None, [], SIX, False, set()) == "not in paper"
    assert figure6_cell_verdict({"dice"}, "mse", [], SIX - {"dice"}, True, SIX - {"dice"}) == "paper's winner not run"


# The rule: a unit with fewer than 2 seed pairs (no pair at all included), or a NaN difference or
# p-value, cannot be tested. Each case below is one clause of it; the last two are testable.
UNTESTABLE_CASES = [
    (0, np.nan, np.nan, True),    # no pairs: nothing at all
    (1, np.nan, 0.0, True),       # one pair: "0.0000 [0, 0]" is no evidence
    (1, 0.0, 0.5, True),          # one pair, even with a p-value claiming separation
    (3, 0.01, np.nan, True),      # NaN difference
    (3, np.nan, 0.1, True),       # NaN p
    (3, 0.01, 0.1, False),
    (2, 1.0, 0.0, False),         # two identical pairs: tested, and not separated
]


@pytest.mark.parametrize("n_pairs, p, difference, expected", UNTESTABLE_CASES)
def test_is_untestable(n_pairs, p, difference, expected):
    assert is_untestable(n_pairs, p, difference).tolist() == expected
    if not np.isnan(difference):
        # Without a difference (a Figure 6 cell), the pairs and the p-value decide alone.
        assert is_untestable(n_pairs, p).tolist() == expected
    many = list(zip(*[case[:3] for case in UNTESTABLE_CASES]))
    assert is_untestable(*many).tolist() == [case[3] for case in UNTESTABLE_CASES]


def test_unit_outcome():
    difference = [0.1, -0.1, 0.1, -0.1, 0.0, 0.1, 0.5, np.nan, 0.1]
    p_holm = [0.01, 0.01, 0.05, 0.2, 0.01, np.nan, 0.0, 0.01, 0.01]
    n_pairs = [3, 3, 3, 3, 3, 3, 1, 3, 0]
    assert unit_outcome(difference, p_holm, 0.05, n_pairs).tolist() == [
        "ahead", "behind", "no difference", "no difference", "no difference", UNTESTABLE, UNTESTABLE, UNTESTABLE,
        UNTESTABLE]
    assert unit_outcome([], [], 0.05, []).tolist() == []


@pytest.mark.parametrize("ahead, behind, total, consistent, verdict", [
    (0, 0, 0, False, "untestable"),        # no testable unit: no test of the claim at all
    (0, 0, 0, True, "untestable"),
    (3, 0, 3, False, "supported"),
    (2, 0, 4, False, "supported"),         # ahead in exactly half, behind in none
    (1, 0, 3, False, "inconclusive"),      # ahead in less than half
    (0, 0, 3, False, "inconclusive"),      # nothing separated
    (1, 1, 3, False, "not supported"),     # behind as often as ahead
    (0, 1, 3, False, "not supported"),
    (2, 1, 3, False, "inconclusive"),      # behind somewhere, but less than ahead
    (3, 0, 3, True, "supported"),          # consistent: ahead in every unit
    (2, 0, 3, True, "inconclusive"),       # consistent: half is not enough
    (1, 1, 2, True, "not supported"),
])
def test_claim_verdict(ahead, behind, total, consistent, verdict):
    assert claim_verdict(ahead, behind, total, consistent) == verdict


def test_figure6_cell_verdict_untestable():
    # A cell whose best cannot be tested against the rest is untestable, whatever the paper's
    # winner: it would read "tied" (or "agrees" for the paper's "All") for lack of a test.
    for paper_cell, best, tied, separated, defined, _ in [
            ({"all"}, "mse", sorted(SIX - {"mse"}), False, SIX, "agrees"), ({"mse"}, "mse", [], True, SIX, "agrees"),
            ({"bce"}, "mse", ["bce"], False, SIX, "tied"), ({"bce"}, "mse", [], True, SIX, "differs")]:
        assert figure6_cell_verdict(paper_cell, best, tied, SIX, separated, defined, testable=False) == UNTESTABLE
    # The reasons that say more keep precedence: no paper cell, nothing defined, winner not run or undefined.
    assert figure6_cell_verdict(None, "mse", [], SIX, False, SIX, testable=False) == "not in paper"
    assert figure6_cell_verdict({"mse"}, None, [], SIX, False, set(), testable=False) == "undefined here"
    assert figure6_cell_verdict({"multinomial"}, "mse", [], SIX, False, SIX, testable=False) == "paper's winner not run"
    assert figure6_cell_verdict({"dice"}, "mse", [], SIX, False, SIX - {"dice"},
                                testable=False) == "paper's winner undefined here"


def test_figure6_as_claim_counts_only_compared_cells():
    verdicts = ["agrees", "tied", "differs", "not in paper", "paper's winner not run", "undefined here", np.nan]
    assert figure6_as_claim(verdicts) == {"verdict": "not supported", "agrees": 1, "tied": 1, "differs": 1, "units": 3,
                                          "untestable": 0}
    # Untestable cells are counted apart, never as units: 2 agree of 3 testable cells, none differs.
    assert figure6_as_claim(["agrees", "agrees", "tied", UNTESTABLE, UNTESTABLE, UNTESTABLE]) == {
        "verdict": "supported", "agrees": 2, "tied": 1, "differs": 0, "units": 3, "untestable": 3}
    assert figure6_as_claim([UNTESTABLE, "not in paper"])["verdict"] == UNTESTABLE
    assert figure6_as_claim(["agrees", "agrees", "tied"])["verdict"] == "supported"
    assert figure6_as_claim(["agrees", "tied", "tied"])["verdict"] == "inconclusive"      # less than half agree
    assert figure6_as_claim(["agrees", "agrees", "differs"])["verdict"] == "inconclusive"  # fewer differ than agree
    assert figure6_as_claim(["not in paper"])["verdict"] == UNTESTABLE  # no unit: no test of Figure 6 at all
    assert set(FIGURE6_COMPARED) == {"agrees", "tied", "differs"}


def test_figure6_change_key():
    # A separated best that changes is a change; a highest mean among tied losses is not.
    assert figure6_change_key("differs", "mse", True) != figure6_change_key("differs", "bce", True)
    assert figure6_change_key("tied", "mse", False) == figure6_change_key("tied", "bce", False)
    assert figure6_change_key("tied", "mse", False) != figure6_change_key("differs", "mse", False)
    assert figure6_change_key("agrees", "mse", True) != figure6_change_key("agrees", "mse", False)
    assert figure6_change_key(np.nan, None, False) == figure6_change_key(None, "mse", True) == UNDEFINED


def test_the_papers_names_are_one_set_and_stay_importable_from_claims():
    assert paper.PAPER_LOSSES == ("mse", "bce", "wmse", "wbce", "focal", "dice")
    assert set(paper.STANDARD + paper.AWARE) == set(paper.PAPER_LOSSES) and not set(paper.STANDARD) & set(paper.AWARE)
    assert set(paper.WEIGHTED) < set(paper.AWARE)
    assert (claims.AWARE, claims.STANDARD, claims.CLAIMS, claims.Claim) == (
        paper.AWARE, paper.STANDARD, paper.CLAIMS, paper.Claim)
    keys = [c.key for c in (*paper.CLAIMS, paper.IMDB_CONTINGENCY_CLAIM, paper.FIGURE6_CLAIM)]
    assert len(keys) == len(set(keys))
    for claim in paper.CLAIMS:
        assert claim.metrics and set(claim.group_a) <= set(paper.PAPER_LOSSES) and set(claim.group_b) <= set(
            paper.PAPER_LOSSES)
