"""Which routing rules match a conversation. Pure reads: applying the actions is ``routing.assign_services``.

Rules run in ``(position, id)`` order; a rule limited to an inbox only sees that inbox's
conversations. Each condition compares one fact about the conversation:

- ``channel`` (the inbox kind), ``inbox`` (its id), ``priority`` (urgent, high, normal, low):
  ``is``, ``is_not``, ``in``;
- ``keywords``: ``contains_any`` whole words or phrases in the message that triggered routing
  (the last customer message when none is given), its subject included;
- ``topic``, ``language``, ``location``, ``segment`` (the contact's, e.g. ``vip``): any operator;
  ``contains_any`` looks for the words inside the text.

Text compares without regard to case; a language ``en`` also matches ``en-GB``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from conversations.models import Conversation, Direction, Message, Priority
from routing.models import MatchMode, RoutingRule


@dataclasses.dataclass(frozen=True)
class RoutingFacts:
    """What the conditions look at, read once per evaluation."""

    channel: str
    inbox: int
    text: str
    topic: str
    language: str
    location: str
    segment: str
    priority: str

    @classmethod
    def of(cls, conversation: Conversation, *, message: Message | None = None) -> RoutingFacts:
        if message is None:
            message = conversation.messages.filter(direction=Direction.INBOUND).order_by("-created_at", "-id").first()
        text = f"{message.subject}\n{message.body}" if message is not None else conversation.subject
        contact = conversation.contact
        return cls(
            channel=conversation.inbox.kind,
            inbox=conversation.inbox_id,
            text=text,
            topic=conversation.topic,
            language=conversation.language or contact.language,
            location=contact.location,
            segment=contact.segment,
            priority=Priority(conversation.priority).label,
        )


def _norm(value: Any) -> str:
    return str(value).strip().lower()


def _equals(field: str, fact: Any, value: Any) -> bool:
    if field == "inbox":
        return bool(fact == value)
    if field == "language":
        fact_lang, wanted = _norm(fact).replace("_", "-"), _norm(value).replace("_", "-")
        return fact_lang == wanted or ("-" not in wanted and fact_lang.split("-", 1)[0] == wanted)
    return _norm(fact) == _norm(value)


def _contains_any(text: str, words: Sequence[str]) -> bool:
    haystack = text.lower()
    for word in words:
        needle = _norm(word)
        if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack):
            return True
    return False


def condition_matches(condition: dict[str, Any], facts: RoutingFacts) -> bool:
    field, operator, value = condition["field"], condition["operator"], condition["value"]
    fact = facts.text if field == "keywords" else getattr(facts, field)
    if operator == "is":
        return _equals(field, fact, value)
    if operator == "is_not":
        return not _equals(field, fact, value)
    if operator == "in":
        return any(_equals(field, fact, item) for item in value)
    if operator == "contains_any":
        return _contains_any(str(fact), value if isinstance(value, list) else [value])
    return False


def rule_matches(rule: RoutingRule, facts: RoutingFacts) -> bool:
    if rule.inbox_id is not None and rule.inbox_id != facts.inbox:
        return False
    conditions = rule.conditions or []
    if not conditions:
        return True  # a rule without conditions applies to everything (e.g. a catch-all last rule)
    results = (condition_matches(condition, facts) for condition in conditions)
    return any(results) if rule.match == MatchMode.ANY else all(results)


def active_rules() -> list[RoutingRule]:
    return list(RoutingRule.objects.filter(is_active=True).order_by("position", "id"))


def matching_rules(facts: RoutingFacts, rules: Sequence[RoutingRule] | None = None) -> list[RoutingRule]:
    """The rules that apply, in order, up to and including the first matching rule that stops processing."""
    matched = []
    for rule in active_rules() if rules is None else rules:
        if rule_matches(rule, facts):
            matched.append(rule)
            if rule.stop_processing:
                break
    return matched
