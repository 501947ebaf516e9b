"""The Claude backend, through the anthropic SDK.

Failures never crash the assistant and never leave the customer without an answer: each one
becomes a handoff with a reason. Overloaded and server errors are retried by the SDK
(``ANTHROPIC_MAX_RETRIES``); a 429 (rate or spend limit) is not retried, since waiting
seconds will not lift a spend limit and the customer should not wait for it. Claude's
answer is validated strictly (see :func:`parse_result`): anything but one well-formed JSON
object asking to reply or hand off is refused.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import anthropic
from django.conf import settings

from routing.assistant import prompts
from routing.assistant.knowledge import strip_disallowed_links
from routing.assistant.types import URGENCIES, AssistantContext, AssistantResult

logger = logging.getLogger(__name__)

MAX_TOKENS = 1024
MAX_REPLY_CHARS = 4000
ALLOWED_KEYS = frozenset({"action", "reply", "confidence", "handoff_reason", "topic", "urgency"})
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class _Client(anthropic.Anthropic):
    def _should_retry(self, response: Any) -> bool:
        # Rate and spend limits: hand off at once rather than keep the customer waiting on retries.
        if response.status_code == 429:
            return False
        return bool(super()._should_retry(response))


def invalid(reason: str) -> AssistantResult:
    return AssistantResult(action="handoff", handoff_reason=reason, confidence=0.0)


def parse_result(raw: str, context: AssistantContext) -> AssistantResult:
    """Claude's text as a result, or a handoff when it is anything but what was asked for."""
    candidate = raw.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1)
    try:
        data = json.loads(candidate)
    except ValueError:
        return invalid("assistant_invalid_output")
    if not isinstance(data, dict) or not {"action", "reply", "confidence"} <= set(data) or set(data) - ALLOWED_KEYS:
        return invalid("assistant_invalid_output")
    action, reply, confidence = data["action"], data["reply"], data["confidence"]
    if action not in ("reply", "handoff") or not isinstance(reply, str):
        return invalid("assistant_invalid_output")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
        return invalid("assistant_invalid_output")
    reason = data.get("handoff_reason", "")
    topic = data.get("topic", "")
    urgency = data.get("urgency", "normal")
    if not all(isinstance(v, str) for v in (reason, topic, urgency)):
        return invalid("assistant_invalid_output")
    reply = reply.strip()
    if action == "reply" and not reply:
        return invalid("assistant_invalid_output")
    if len(reply) > MAX_REPLY_CHARS or prompts.leaks_prompt(reply):
        return invalid("assistant_refused_output")
    reply = strip_disallowed_links(reply, set(context.allowed_link_hosts))
    return AssistantResult(
        action=action,
        reply=reply,
        confidence=float(confidence),
        handoff_reason=(reason.strip()[:100] or "assistant_decided") if action == "handoff" else "",
        topic=topic if topic in context.topics else "",
        urgency=urgency if urgency in URGENCIES else "normal",
        article_ids=tuple(s.article.id for s in context.articles),
    )


class ClaudeBackend:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str = "",
        timeout: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self.model = model
        self.client = _Client(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=max_retries)

    @classmethod
    def from_settings(cls) -> ClaudeBackend:
        return cls(
            api_key=settings.ANTHROPIC_API_KEY,
            model=settings.ANTHROPIC_MODEL,
            base_url=settings.ANTHROPIC_BASE_URL,
            timeout=settings.ANTHROPIC_TIMEOUT_SECONDS,
            max_retries=settings.ANTHROPIC_MAX_RETRIES,
        )

    def answer(self, context: AssistantContext) -> AssistantResult:
        try:
            response = self.client.messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                system=prompts.system_prompt(context),
                messages=[{"role": "user", "content": prompts.user_turn(context)}],
            )
        except anthropic.RateLimitError as exc:
            logger.warning("assistant rate limited: %s", exc)
            return invalid("assistant_rate_limited")
        except anthropic.APITimeoutError:
            logger.warning("assistant timed out")
            return invalid("assistant_timeout")
        except anthropic.APIStatusError as exc:
            logger.warning("assistant failed with HTTP %s: %s", exc.status_code, exc)
            return invalid("assistant_unavailable" if exc.status_code >= 500 else "assistant_error")
        except anthropic.APIError as exc:
            logger.warning("assistant unreachable: %s", exc)
            return invalid("assistant_unavailable")
        if response.stop_reason == "max_tokens":
            return invalid("assistant_invalid_output")
        raw = "".join(block.text for block in response.content if block.type == "text")
        return parse_result(raw, context)
