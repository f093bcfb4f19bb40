"""Query analysis: words, stop words, typo tolerance, compounds and synonyms, as the plan the index matches."""

from __future__ import annotations

import pytest

from mce.services.search.analysis import (
    MAX_QUERY_TERMS,
    NOTHING_TO_SEARCH_HINT,
    STOP_WORDS,
    Clause,
    QueryPlan,
    QueryTerm,
    hint_for,
    joined_pairs,
    parse_synonyms,
    plan_query,
    typo_distance,
    words_of,
)

SYNONYMS = parse_synonyms(
    """
    # a comment line
    earbuds, ear buds, in-ear headphones   # a trailing comment
    sofa, couch
    tee, t-shirt
    """
)


def typed_words(plan: QueryPlan) -> list[str]:
    """The first alternative's words of each clause: what the shopper typed, as kept."""
    return [" ".join(term.text for term in clause.alternatives[0]) for clause in plan.clauses]


def alternatives(plan: QueryPlan, clause: int) -> list[str]:
    return [" ".join(term.text for term in alternative) for alternative in plan.clauses[clause].alternatives]


def test_words_are_lower_cased_and_split_on_anything_but_letters_and_digits():
    assert words_of("Noise-Cancelling HEADPHONES, 2nd_gen!") == ("noise", "cancelling", "headphones", "2nd", "gen")


def test_words_in_any_script_are_kept():
    assert words_of("Café Straße 東京") == ("café", "straße", "東京")


def test_words_too_long_for_the_index_are_dropped():
    assert words_of("x" * 40 + " lamp") == ("lamp",)


def test_adjacent_words_are_joined_in_pairs():
    assert joined_pairs(("organic", "cotton", "t", "shirt")) == ("organiccotton", "cottont", "tshirt")
    assert joined_pairs(("lamp",)) == ()


@pytest.mark.parametrize(
    ("word", "distance"),
    [("mat", 0), ("lamp", 1), ("speaker", 1), ("headphnes", 2), ("wirelesss", 2), ("1080", 0), ("rtx4090", 0)],
)
def test_longer_words_tolerate_more_typos_but_short_words_and_numbers_none(word, distance):
    assert typo_distance(word) == distance


def test_typed_words_carry_their_typo_tolerance_and_match_as_prefixes_from_two_letters():
    assert plan_query("usb headphnes x").clauses[1].alternatives[0] == (QueryTerm("headphnes", 2, prefix=True),)
    assert plan_query("usb").clauses[0].alternatives[0] == (QueryTerm("usb", 0, prefix=True),)
    assert plan_query("x").clauses[0].alternatives[0] == (QueryTerm("x", 0, prefix=False),)


def test_an_empty_query_has_no_clauses_and_no_hint():
    assert plan_query("") == QueryPlan(())
    assert hint_for("") is None
    assert hint_for("   ") is None


@pytest.mark.parametrize("text", ["the", "!!!", "\N{GRINNING FACE}", "a the of", "?! -- ...", "THE Of"])
def test_only_stop_words_or_symbols_plan_nothing_and_get_a_hint(text):
    assert plan_query(text).clauses == ()
    assert hint_for(text) == NOTHING_TO_SEARCH_HINT


def test_a_real_word_needs_no_hint():
    assert hint_for("the lamp") is None
    assert hint_for("x") is None


def test_stop_words_among_real_words_are_dropped():
    assert plan_query("the headphones") == plan_query("headphones")
    assert typed_words(plan_query("a mat for the yoga")) == ["mat", "yoga"]


def test_no_stop_word_is_a_word_products_are_named_by():
    assert not STOP_WORDS & {"t", "s", "x", "no", "pro", "up", "usb", "case", "set", "top"}


def test_a_repeated_word_is_matched_once():
    assert typed_words(plan_query("red shoes Red")) == ["red", "shoes"]


def test_a_query_uses_at_most_its_first_ten_words():
    words = [f"word{chr(97 + i)}" for i in range(15)]
    assert typed_words(plan_query(" ".join(words))) == words[:MAX_QUERY_TERMS]


def test_words_typed_side_by_side_may_also_be_one_compound():
    plan = plan_query("head phones")
    assert alternatives(plan, 0) == ["head", "headphones"]
    assert alternatives(plan, 1) == ["phones", "headphones"]
    assert plan.clauses[0].alternatives[1] == (QueryTerm("headphones", 0, prefix=True),)


def test_a_middle_word_may_join_either_neighbour():
    assert alternatives(plan_query("blue tooth speaker"), 1) == ["tooth", "bluetooth", "toothspeaker"]


def test_words_with_a_stop_word_between_them_are_not_joined():
    assert alternatives(plan_query("head of phones"), 0) == ["head"]


def test_a_single_word_has_no_compound():
    assert plan_query("lamp") == QueryPlan((Clause(((QueryTerm("lamp", 1, prefix=True),),)),))


def test_the_synonym_format_is_one_group_of_phrases_a_line_with_comments():
    assert SYNONYMS.alternatives(("ear", "buds")) == (("earbuds",), ("in", "ear", "headphones"))
    assert SYNONYMS.alternatives(("couch",)) == (("sofa",),)
    assert SYNONYMS.alternatives(("lamp",)) == ()
    assert SYNONYMS.longest == 3


def test_a_phrase_in_two_groups_has_the_synonyms_of_both():
    synonyms = parse_synonyms("notebook, notepad\nnotebook, laptop")
    assert synonyms.alternatives(("notebook",)) == (("notepad",), ("laptop",))
    assert synonyms.alternatives(("laptop",)) == (("notebook",),)


def test_a_synonym_phrase_is_one_clause_with_its_synonyms_as_exact_alternatives():
    plan = plan_query("wireless ear buds", SYNONYMS)
    assert typed_words(plan) == ["wireless", "ear buds"]
    assert alternatives(plan, 1) == ["ear buds", "earbuds", "in ear headphones"]
    assert plan.clauses[1].alternatives[1] == (QueryTerm("earbuds"),)


def test_the_longest_synonym_phrase_wins_and_may_hold_a_stop_word():
    assert alternatives(plan_query("in-ear headphones", SYNONYMS), 0) == ["in ear headphones", "earbuds", "ear buds"]


def test_a_single_word_synonym_expands_both_ways():
    assert alternatives(plan_query("sofa", SYNONYMS), 0) == ["sofa", "couch"]
    assert alternatives(plan_query("tee", SYNONYMS), 0) == ["tee", "t shirt"]
    assert alternatives(plan_query("t-shirt", SYNONYMS), 0) == ["t shirt", "tee"]
