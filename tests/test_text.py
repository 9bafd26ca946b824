"""Cleaning a post before matching: what the matcher must not see, and what it must keep."""

from __future__ import annotations

from kb.text import clean_post


def test_a_chain_letter_footer_clause_goes_and_the_claim_stays() -> None:
    post = clean_post(
        "Kazakhstan is sending tanks to Russia by train tonight, forward to everyone!!!"
    )
    assert post.text == "Kazakhstan is sending tanks to Russia by train tonight"


def test_a_sentence_that_is_all_footer_goes() -> None:
    post = clean_post("The tenge will crash on Monday. Перешлите всем, пока не удалили!")
    assert post.text == "The tenge will crash on Monday."


def test_an_emoji_between_claim_and_footer_parts_them_like_a_comma() -> None:
    post = clean_post("ab Januar kommt KEINER mehr aus Kasachstan rein 😡 teilt das!!")
    assert post.text == "ab Januar kommt keiner mehr aus Kasachstan rein"


def test_a_long_clause_that_mentions_sharing_is_kept() -> None:
    text = "They say the ministry will punish everyone who shares the convoy videos from the border"
    assert clean_post(text + ", please share").text == text


def test_shouted_words_are_lowered_but_short_acronyms_stay() -> None:
    post = clean_post("NATO confirms: ЕНПФ savings will be CONFISCATED from January")
    assert post.text == "NATO confirms: ЕНПФ savings will be confiscated from January"


def test_a_shouted_sentence_becomes_an_ordinary_one() -> None:
    assert clean_post("THE DOLLAR WILL COST 1000 TENGE").text == "The dollar will cost 1000 tenge"


def test_emoji_leave_no_joiners_or_selectors_behind() -> None:
    post = clean_post("‼️Срочно‼️ 👨‍👩‍👧 вклады заморозят 🤷‍♀️")
    assert post.words == ("срочно", "вклады", "заморозят")
    assert all(ch not in post.text for ch in "\u200d\ufe0f")
