"""The inbox's search syntax, parsed (pure: no database).

``"refund request" phone:+1234567890 email:a@b.com assigned:me status:active channel:sms tag:billing
priority:urgent team:Support id:42 plain words``

- Plain words and double-quoted phrases match contact names, identity values (phone, email),
  message content and conversation ids; every one of them must match (AND).
- ``key:value`` filters; a value may be quoted (``tag:"needs review"``). Different keys combine
  with AND; the same key given twice, or a comma-separated value (``status:active,pending``),
  means any of them (OR).
- Anything malformed (an unknown key, an unterminated quote, a bad id, status, channel, priority,
  phone number or email address) is a SearchSyntaxError whose message says what is wrong.
"""

from __future__ import annotations

import dataclasses
import re

from conversations import identities
from conversations.models import ChannelKind, Priority, Status

KEYS = ("phone", "email", "assigned", "status", "channel", "tag", "priority", "team", "id")
# Keys whose value may list several alternatives separated by commas.
LIST_KEYS = ("status", "channel", "priority", "id")
MAX_PARTS = 30
MAX_LENGTH = 500
_KEY = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)


class SearchSyntaxError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False


@dataclasses.dataclass(frozen=True)
class ParsedSearch:
    terms: tuple[Term, ...] = ()
    filters: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.terms and not self.filters


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split on whitespace outside double quotes; each token says whether its value part was quoted."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        quoted = False
        buffer = []
        while i < n and not text[i].isspace():
            if text[i] == '"':
                end = text.find('"', i + 1)
                if end == -1:
                    raise SearchSyntaxError(f"Unterminated quote starting at character {i + 1}: {text[start:]!r}.")
                buffer.append(text[i + 1 : end])
                quoted = True
                i = end + 1
            else:
                buffer.append(text[i])
                i += 1
        tokens.append(("".join(buffer), quoted))
    return tokens


def _validate(key: str, value: str) -> str:
    if key == "status":
        if value not in Status.values:
            raise SearchSyntaxError(f"status:{value} is not a status; use one of {', '.join(Status.values)}.")
    elif key == "channel":
        if value not in ChannelKind.values:
            raise SearchSyntaxError(f"channel:{value} is not a channel; use one of {', '.join(ChannelKind.values)}.")
    elif key == "priority":
        try:
            return Priority.from_name(value).label
        except ValueError:
            raise SearchSyntaxError(f"priority:{value} is not a priority; use urgent, high, normal or low.") from None
    elif key == "id":
        digits = value.lstrip("#")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 18 or int(digits) == 0:
            raise SearchSyntaxError(f"id:{value} is not a conversation id (a positive number).")
        return str(int(digits))
    elif key == "phone":
        try:
            return identities.normalize_phone(value)
        except identities.InvalidIdentity as exc:
            raise SearchSyntaxError(f"phone: {exc}.") from None
    elif key == "email":
        try:
            return identities.normalize_email(value)
        except identities.InvalidIdentity as exc:
            raise SearchSyntaxError(f"email: {exc}.") from None
    elif key == "assigned":
        lowered = value.lower()
        return lowered if lowered in ("me", "none") else value
    return value


def parse(text: str) -> ParsedSearch:
    if len(text) > MAX_LENGTH:
        raise SearchSyntaxError(f"The search is longer than {MAX_LENGTH} characters.")
    terms: list[Term] = []
    filters: dict[str, list[str]] = {}
    tokens = _tokens(text)
    if len(tokens) > MAX_PARTS:
        raise SearchSyntaxError(f"The search has more than {MAX_PARTS} parts.")
    for token, quoted in tokens:
        match = _KEY.fullmatch(token)
        # "10:30" and URLs ("https://...") are words, not keys.
        if match and not match.group(2).startswith("//"):
            key, value = match.group(1).lower(), match.group(2).strip()
            if key not in KEYS:
                raise SearchSyntaxError(f"Unknown search key {match.group(1)!r}; use one of {', '.join(KEYS)}.")
            if not value:
                raise SearchSyntaxError(f"{key}: needs a value, e.g. {key}:{_EXAMPLES[key]}.")
            values = [v.strip() for v in value.split(",")] if key in LIST_KEYS and not quoted else [value]
            for item in values:
                if not item:
                    raise SearchSyntaxError(f"{key}:{value} has an empty value.")
                filters.setdefault(key, []).append(_validate(key, item))
            continue
        text_value = token.strip()
        if text_value:
            terms.append(Term(text_value, phrase=quoted and " " in text_value))
    return ParsedSearch(terms=tuple(terms), filters={key: tuple(values) for key, values in filters.items()})


_EXAMPLES = {
    "phone": "+14155550100",
    "email": "ana@example.com",
    "assigned": "me",
    "status": "active",
    "channel": "sms",
    "tag": "billing",
    "priority": "urgent",
    "team": "Support",
    "id": "42",
}
