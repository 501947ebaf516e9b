"""Bulk actions: one action on many conversations, each through the same service as its own action.

Every conversation is changed in its own transaction, so one refusal never undoes the others;
the answer says, per id, what changed, what was already so, and what was refused and why.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.exceptions import ValidationError

from conversations import services
from conversations.api.filters import conversations_matching
from conversations.api.selectors import conversation_queryset
from conversations.models import Conversation, Status

MAX_BULK = 1000


def _snapshot(conversation: Conversation) -> tuple[Any, ...]:
    tags = tuple(sorted(conversation.tags.values_list("name", flat=True)))
    return (conversation.status, conversation.priority, conversation.assignee_id, tags)


def run_bulk_action(request: Any, data: dict[str, Any]) -> dict[str, Any]:
    user = request.user
    action = data["action"]
    refused: list[dict[str, Any]] = []
    if "ids" in data:
        wanted = list(dict.fromkeys(data["ids"]))
        found = {c.pk: c for c in conversation_queryset(user).filter(pk__in=wanted)}
        targets = [found[i] for i in wanted if i in found]
        refused += [
            {"id": i, "code": "not_found", "message": f"Conversation {i} not found."} for i in wanted if i not in found
        ]
    else:
        matching = conversations_matching(request, data["filter"])
        targets = list(matching[: MAX_BULK + 1])
        if len(targets) > MAX_BULK:
            raise ValidationError({"filter": [f"The filter matches more than {MAX_BULK} conversations; narrow it."]})

    assignee = None
    if action == "assign" and data.get("assignee_id") is not None:
        assignee = get_user_model().objects.filter(pk=data["assignee_id"], is_active=True).first()
        if assignee is None:
            raise ValidationError({"assignee_id": [f"No active agent has the id {data['assignee_id']}."]})

    changed: list[int] = []
    unchanged: list[int] = []
    for conversation in targets:
        before = _snapshot(conversation)
        try:
            if action == "assign":
                services.conversation_assign(conversation=conversation, assignee=assignee, actor=user)
            elif action in ("status", "archive"):
                status = Status.ARCHIVED if action == "archive" else data["status"]
                services.conversation_set_status(
                    conversation=conversation, status=status, actor=user, reason=data.get("reason") or "bulk"
                )
            elif action == "priority":
                services.conversation_set_priority(
                    conversation=conversation, priority=data["priority"], actor=user, reason=data["reason"]
                )
            elif action == "tags":
                services.conversation_set_tags(
                    conversation=conversation, actor=user, add=data["add"], remove=data["remove"]
                )
            elif action == "delete":
                services.conversation_delete(conversation=conversation, actor=user)
                changed.append(conversation.pk)
                continue
        except services.ServiceError as exc:
            refused.append({"id": conversation.pk, "code": "refused", "message": " ".join(exc.messages)})
            continue
        after = _snapshot(Conversation.objects.prefetch_related(None).get(pk=conversation.pk))
        (changed if after != before else unchanged).append(conversation.pk)
    return {"action": action, "changed": changed, "unchanged": unchanged, "refused": refused}
