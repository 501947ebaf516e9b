"""Threading: the Message-IDs we give our mail, and the conversation an inbound mail answers.

Our outbound Message-IDs look like ``<conv-12.msg-345.k3J9x...@support.example.com>``. The
last part is an HMAC of the ids under SECRET_KEY: it is unguessable (so the ids cannot be
made up), and deterministic (a retried send carries the same Message-ID, so a recipient's
server deduplicates it). The id is stored as the outbound message's channel_message_id.

Rules for an inbound mail, in order:
1. It names (In-Reply-To first, then References newest first) a Message-ID stored in this
   inbox, ours or the customer's own earlier mail: it belongs to that message's conversation.
   If the stored id was lost, one of our own ids whose HMAC checks out names its conversation.
2. Otherwise it starts a new conversation, whatever its subject; a mail without a subject
   too. Subjects are not matched: "Question" or "Help" would tie unrelated requests together.
The conversation found is passed to the service, which refuses it unless the sender is that
conversation's contact: a stranger quoting our headers starts a new conversation of their own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings

from conversations.models import Conversation, Inbox, Message

_OURS = re.compile(r"^<conv-(\d+)\.msg-(\d+)\.([A-Za-z0-9_-]{16,64})@[^<>\s]+>$")


def _token(conversation_id: int, message_id: int) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"email-thread:{conversation_id}:{message_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def outbound_message_id(*, conversation_id: int, message_id: int, domain: str) -> str:
    return f"<conv-{conversation_id}.msg-{message_id}.{_token(conversation_id, message_id)}@{domain}>"


def conversation_id_from_our_id(reference: str) -> int | None:
    """The conversation one of our own Message-IDs names, or None if it is not genuinely ours."""
    match = _OURS.match(reference)
    if match is None:
        return None
    conversation_id, message_id, token = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(token, _token(conversation_id, message_id)):
        return None
    return conversation_id


def conversation_for_references(inbox: Inbox, references: list[str]) -> Conversation | None:
    """The conversation of the first reference we know in this inbox (see the module's rules)."""
    if not references:
        return None
    known = dict(
        Message.objects.filter(inbox=inbox, channel_message_id__in=references[:100]).values_list(
            "channel_message_id", "conversation_id"
        )
    )
    for reference in references:
        conversation_id = known.get(reference) or conversation_id_from_our_id(reference)
        if conversation_id is not None:
            conversation = Conversation.objects.filter(pk=conversation_id, inbox=inbox).first()
            if conversation is not None:
                return conversation
    return None
