from __future__ import annotations

import pytest

from conversations.api.search import ParsedSearch, SearchSyntaxError, Term, parse


def test_plain_words_and_phrases_become_terms() -> None:
    parsed = parse('refund "order number 42" late')
    assert parsed.terms == (Term("refund"), Term("order number 42", phrase=True), Term("late"))
    assert parsed.filters == {}


def test_keys_combine_with_words() -> None:
    parsed = parse("assigned:me status:active,pending tag:billing invoice channel:sms priority:URGENT id:#42")
    assert parsed.terms == (Term("invoice"),)
    assert parsed.filters == {
        "assigned": ("me",),
        "status": ("active", "pending"),
        "tag": ("billing",),
        "channel": ("sms",),
        "priority": ("urgent",),
        "id": ("42",),
    }


def test_quoted_values_keep_spaces() -> None:
    assert parse('tag:"needs review" team:"Tier 2"').filters == {"tag": ("needs review",), "team": ("Tier 2",)}


def test_phone_and_email_are_normalized() -> None:
    parsed = parse("phone:+1-415-555-0100 email:Ana@Example.COM")
    assert parsed.filters == {"phone": ("+14155550100",), "email": ("ana@example.com",)}


def test_times_and_urls_are_words_not_keys() -> None:
    assert parse("10:30 https://example.com/x").terms == (Term("10:30"), Term("https://example.com/x"))


def test_empty_search_is_empty() -> None:
    assert parse("   ") == ParsedSearch()
    assert parse("").is_empty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "Unknown search key 'colour'"),
        ('"refund request', "Unterminated quote"),
        ('tag:"open', "Unterminated quote"),
        ("id:abc", "id:abc is not a conversation id"),
        ("id:0", "is not a conversation id"),
        ("status:open", "status:open is not a status"),
        ("channel:fax", "channel:fax is not a channel"),
        ("priority:meh", "priority:meh is not a priority"),
        ("phone:hello", "phone:"),
        ("email:nope", "email:"),
        ("status:", "status: needs a value"),
        ("status:active,", "has an empty value"),
    ],
)
def test_bad_syntax_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SearchSyntaxError, match=message.replace("(", r"\(")):
        parse(text)


def test_overlong_search_is_refused() -> None:
    with pytest.raises(SearchSyntaxError, match="longer than"):
        parse("a" * 501)
