"""The schema of every live event. Each event sent through the gateway must match its schema.

Tests check every event a service sends against these (Zulip's ``verify_action`` pattern), so
the web UI and integrators can rely on the shapes.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_nullable_int: dict[str, Any] = {"type": ["integer", "null"]}
_nullable_str: dict[str, Any] = {"type": ["string", "null"]}
_time: dict[str, Any] = {"type": "string", "format": "date-time"}
_nullable_time: dict[str, Any] = {"type": ["string", "null"]}

_sla_state: dict[str, Any] = {"enum": ["on_track", "warning", "breached", "met"]}
SLA: dict[str, Any] = {
    "type": "object",
    "required": ["state", "due_at", "targets"],
    "properties": {
        "state": {"enum": ["on_track", "warning", "breached", "met", None]},
        "due_at": _nullable_time,
        "targets": {
            "type": "object",
            "propertyNames": {"enum": ["first_response", "next_response", "resolution"]},
            "additionalProperties": {
                "type": "object",
                "required": ["state", "due_at", "outcome"],
                "properties": {"state": _sla_state, "due_at": _time, "outcome": {"enum": ["met", "missed", None]}},
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

CONVERSATION: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "inbox_id",
        "channel",
        "contact_id",
        "contact_name",
        "status",
        "handler",
        "priority",
        "assignee_id",
        "team_id",
        "tags",
        "topic",
        "snoozed_until",
        "last_message_at",
        "last_message_preview",
        "message_count",
        "updated_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "inbox_id": {"type": "integer"},
        "channel": {"enum": ["webchat", "sms", "whatsapp", "email", "voice", "api"]},
        "contact_id": {"type": "integer"},
        "contact_name": {"type": "string"},
        "status": {"enum": ["active", "pending", "resolved", "archived"]},
        "handler": {"enum": ["bot", "human"]},
        "priority": {"enum": ["urgent", "high", "normal", "low"]},
        "assignee_id": _nullable_int,
        "team_id": _nullable_int,
        "tags": {"type": "array", "items": {"type": "string"}},
        "topic": {"type": "string"},
        "snoozed_until": _nullable_time,
        "last_message_at": _time,
        "last_message_preview": {"type": "string"},
        "message_count": {"type": "integer"},
        "sla": SLA,  # always sent; not required, so that events recorded before it still validate
        "updated_at": _time,
    },
    "additionalProperties": False,
}

MESSAGE: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "conversation_id",
        "direction",
        "sender_kind",
        "sender_name",
        "is_private_note",
        "body",
        "delivery_status",
        "confidence",
        "created_at",
        "attachments",
    ],
    "properties": {
        "id": {"type": "integer"},
        "conversation_id": {"type": "integer"},
        "direction": {"enum": ["in", "out"]},
        "sender_kind": {"enum": ["contact", "agent", "assistant", "system"]},
        "sender_name": {"type": "string"},
        "is_private_note": {"type": "boolean"},
        "body": {"type": "string"},
        "delivery_status": {"enum": ["", "queued", "sent", "delivered", "read", "failed"]},
        "confidence": {"type": ["number", "null"]},
        "created_at": _time,
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "filename", "content_type", "size"],
                "properties": {
                    "id": {"type": "integer"},
                    "filename": {"type": "string"},
                    "content_type": {"type": "string"},
                    "size": {"type": "integer"},
                },
            },
        },
    },
    "additionalProperties": False,
}

CHANGES: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "minItems": 1}


def _event(type_: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", *properties],
        "properties": {"type": {"const": type_}, **properties},
        "additionalProperties": False,
    }


EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "conversation.created": _event("conversation.created", {"conversation": CONVERSATION}),
    "conversation.updated": _event("conversation.updated", {"conversation": CONVERSATION, "changes": CHANGES}),
    "message.created": _event("message.created", {"message": MESSAGE}),
    "message.updated": _event(
        "message.updated",
        {
            "message": {
                "type": "object",
                "required": ["id", "conversation_id", "delivery_status", "delivery_error"],
                "properties": {
                    "id": {"type": "integer"},
                    "conversation_id": {"type": "integer"},
                    "delivery_status": {"enum": ["queued", "sent", "delivered", "read", "failed"]},
                    "delivery_error": {"type": "string"},
                },
                "additionalProperties": False,
            }
        },
    ),
    # The assistant's draft in email draft mode: written (pending), then sent or discarded by an agent.
    "draft.updated": _event(
        "draft.updated",
        {
            "draft": {
                "type": "object",
                "required": [
                    "id",
                    "conversation_id",
                    "status",
                    "body",
                    "confidence",
                    "for_message_id",
                    "sent_message_id",
                    "reviewed_by_id",
                    "edited",
                ],
                "properties": {
                    "id": {"type": "integer"},
                    "conversation_id": {"type": "integer"},
                    "status": {"enum": ["pending", "sent", "discarded"]},
                    "body": {"type": "string"},
                    "confidence": {"type": ["number", "null"]},
                    "for_message_id": _nullable_int,
                    "sent_message_id": _nullable_int,
                    "reviewed_by_id": _nullable_int,
                    "edited": {"type": "boolean"},
                },
                "additionalProperties": False,
            }
        },
    ),
    "contact.updated": _event(
        "contact.updated",
        {"contact": {"type": "object", "required": ["id", "name"]}, "merged_from": _nullable_int},
    ),
    "notification.created": _event(
        "notification.created",
        {
            "notification": {
                "type": "object",
                "required": ["id", "kind", "title", "body", "conversation_id", "created_at"],
                "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string"},
                    "title": {"type": "string"},
                    "body": {"type": "string"},
                    "conversation_id": _nullable_int,
                    "created_at": _time,
                },
                "additionalProperties": False,
            }
        },
    ),
    # Agents' typing carries the agent's id (so her own page ignores it); the widget's visitor has none.
    "typing": {
        **_event(
            "typing",
            {
                "conversation_id": {"type": "integer"},
                "sender_kind": {"enum": ["contact", "agent"]},
                "sender_name": {"type": "string"},
                "is_typing": {"type": "boolean"},
            },
        ),
        "properties": {
            "type": {"const": "typing"},
            "conversation_id": {"type": "integer"},
            "sender_kind": {"enum": ["contact", "agent"]},
            "sender_name": {"type": "string"},
            "user_id": {"type": "integer"},
            "is_typing": {"type": "boolean"},
        },
    },
    # From the availability service, and (with ``connected``) from the agents' socket when an agent's
    # first inbox page opens or her last one closes.
    "presence": {
        **_event(
            "presence",
            {
                "user_id": {"type": "integer"},
                "name": {"type": "string"},
                "availability": {"enum": ["online", "busy", "offline"]},
            },
        ),
        "properties": {
            "type": {"const": "presence"},
            "user_id": {"type": "integer"},
            "name": {"type": "string"},
            "availability": {"enum": ["online", "busy", "offline"]},
            "connected": {"type": "boolean"},
        },
    },
    "worker.pong": _event("worker.pong", {"name": {"type": "string"}, "hostname": {"type": "string"}}),
    "conversation.viewers": _event(
        "conversation.viewers",
        {
            "conversation_id": {"type": "integer"},
            "viewers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["user_id", "name"],
                    "properties": {"user_id": {"type": "integer"}, "name": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
    ),
}


class EventSchemaError(ValueError):
    pass


_VALIDATORS = {name: jsonschema.validators.validator_for(schema)(schema) for name, schema in EVENT_SCHEMAS.items()}


def validate_event(event: dict[str, Any]) -> None:
    validator = _VALIDATORS.get(str(event.get("type")))
    if validator is None:
        raise EventSchemaError(f"event type {event.get('type')!r} has no schema")
    try:
        validator.validate(event)
    except jsonschema.ValidationError as exc:
        raise EventSchemaError(f"{event['type']}: {exc.message} at {list(exc.absolute_path)}") from None
