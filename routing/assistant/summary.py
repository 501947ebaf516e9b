"""A short extractive summary of what the customer said, for the agent who takes over."""

from __future__ import annotations

from collections.abc import Sequence

from routing.assistant import text

MAX_SUMMARY_CHARS = 500


def summarize(
    customer_messages: Sequence[str],
    *,
    topic: str = "",
    reason: str = "",
    intake: Sequence[tuple[str, str]] = (),
) -> str:
    """Topic and reason, the intake answers, then the first sentence or two of each customer message."""
    lines = []
    parts = (f"Topic: {topic}" if topic else "", f"handoff: {reason}" if reason else "")
    heading = ", ".join(part for part in parts if part)
    if heading:
        lines.append(heading + ".")
    for question, answer in intake:
        lines.append(f"{question.strip()} {answer.strip()}")
    seen: set[str] = set()
    for message in customer_messages:
        for sentence in text.sentences(message)[:2]:
            key = " ".join(text.tokens(sentence))
            if key and key not in seen:
                seen.add(key)
                lines.append(sentence if len(sentence) <= 200 else sentence[:199] + "…")
    summary = "\n".join(lines)
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[: MAX_SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return summary
