"""What every assistant backend receives and returns."""

from __future__ import annotations

import dataclasses
from typing import Literal, Protocol

from routing.assistant.knowledge import ScoredArticle

Action = Literal["reply", "handoff"]
URGENCIES = ("low", "normal", "high", "urgent")


@dataclasses.dataclass(frozen=True)
class Turn:
    """One earlier message of the same conversation, as the backend may see it."""

    role: Literal["customer", "assistant", "agent"]
    text: str


@dataclasses.dataclass(frozen=True)
class AssistantContext:
    """Everything a backend may see: this conversation and the knowledge base, nothing else."""

    message: str
    history: tuple[Turn, ...] = ()
    articles: tuple[ScoredArticle, ...] = ()
    channel: str = "webchat"
    company_name: str = "our company"
    topics: tuple[str, ...] = ("billing", "technical", "sales", "general")
    allowed_link_hosts: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class AssistantResult:
    """A backend's answer. Only two actions exist: reply to the customer, or hand off to a person."""

    action: Action
    reply: str = ""
    confidence: float = 0.0
    handoff_reason: str = ""
    topic: str = ""
    urgency: str = "normal"
    article_ids: tuple[int, ...] = ()

    @property
    def is_handoff(self) -> bool:
        return self.action == "handoff"


class Backend(Protocol):
    name: str

    def answer(self, context: AssistantContext) -> AssistantResult: ...
