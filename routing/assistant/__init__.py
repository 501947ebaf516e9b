"""The AI assistant: knowledge retrieval, backends (Claude or the local responder), triggers and triage.

Nothing here changes state: ``routing.services`` does, through the conversation services.
"""

from __future__ import annotations

from django.conf import settings

from routing.assistant.types import Backend


def get_backend() -> Backend:
    """Claude when ``ANTHROPIC_API_KEY`` is set, otherwise the built-in local responder."""
    if settings.ANTHROPIC_API_KEY:
        from routing.assistant.claude import ClaudeBackend

        return ClaudeBackend.from_settings()
    from routing.assistant.local import LocalResponder

    return LocalResponder()
