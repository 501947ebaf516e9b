"""Satisfaction surveys: one per resolution, asked on the customer's own channel, answered once.

* ``request_survey_on_commit(event)``: the status service calls it when it records a resolution;
  after commit a task runs ``survey_send``.
* ``survey_send``: creates the survey for that resolution (the one-to-one on the resolution event
  makes a second one impossible) and sends the question through the normal outbound path, as a
  system message: a digit to reply on SMS and WhatsApp, a signed link by email, an inline rating
  in the web chat widget (which asks ``pending_survey_for`` whether a survey waits).
* ``survey_answer``: records the rating and comment, and a CSAT event on the conversation (the
  metric fact comes from that event), attributed to the agent who resolved.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from analytics.models import CSATResponse
from conversations import services
from conversations.models import (
    ChannelIdentity,
    ChannelKind,
    Conversation,
    ConversationEvent,
    EventKind,
    SenderKind,
    Status,
)

logger = logging.getLogger(__name__)

LINK_SALT = "analytics.csat.link"
LINK_MAX_AGE = timedelta(days=14)
REPLY_WINDOW = timedelta(days=7)
# The task runs seconds after the resolution commits. A resolution older than this by then is
# history (an import, the demo seed, a worker that was down for long): its customer is not asked.
ASK_WITHIN = timedelta(minutes=15)
MAX_COMMENT_CHARS = 2000
# Channels that can carry a question; a voicemail line cannot.
SURVEY_CHANNELS = {ChannelKind.WEBCHAT, ChannelKind.SMS, ChannelKind.WHATSAPP, ChannelKind.EMAIL, ChannelKind.API}
_DIGIT_REPLY = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")


def request_survey_on_commit(resolution: ConversationEvent) -> None:
    event_id = resolution.pk

    def enqueue() -> None:
        from analytics.tasks import send_csat_survey

        send_csat_survey.delay(event_id)

    transaction.on_commit(enqueue)


def survey_link(survey: CSATResponse) -> str:
    token = signing.dumps(survey.pk, salt=LINK_SALT, compress=True)
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("analytics:csat", args=[token])


def survey_from_link(token: str) -> CSATResponse | None:
    """The survey a signed link points at; None when the link is forged, mangled or expired."""
    try:
        survey_id = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(survey_id, int):
        return None
    return CSATResponse.objects.select_related("conversation__inbox").filter(pk=survey_id).first()


def _question(survey: CSATResponse, kind: str) -> str:
    company = settings.COMPANY_NAME
    if kind in (ChannelKind.SMS, ChannelKind.WHATSAPP):
        return (
            f"How did we do? Reply with a number from 1 (poor) to 5 (excellent) to rate your "
            f"conversation with {company}."
        )
    if kind == ChannelKind.EMAIL:
        return (
            f"How did we do? Please rate your conversation with {company} from 1 to 5, and tell us more "
            f"if you like: {survey_link(survey)}"
        )
    return f"How did we do? Please rate your conversation with {company} from 1 (poor) to 5 (excellent)."


def survey_send(*, resolution_event_id: int) -> CSATResponse | None:
    """Create the survey for this resolution and send the question; None when there is nothing to ask.

    Nothing is asked when CSAT is off for the inbox, the channel cannot carry it, the conversation
    was reopened since (its next resolution asks instead), this resolution already has one, or
    the resolution is older than ASK_WITHIN.
    """
    now = timezone.now()
    with transaction.atomic():
        resolution = ConversationEvent.objects.filter(pk=resolution_event_id, kind=EventKind.STATUS).first()
        if resolution is None or resolution.data.get("to") != Status.RESOLVED:
            return None
        if resolution.created_at < now - ASK_WITHIN:
            return None
        conversation = services._lock(resolution.conversation)
        inbox = conversation.inbox
        if not inbox.csat_enabled or inbox.kind not in SURVEY_CHANNELS:
            return None
        if conversation.status != Status.RESOLVED or conversation.resolved_at != resolution.created_at:
            return None
        if CSATResponse.objects.filter(resolution_event=resolution).exists():
            return None
        survey = CSATResponse.objects.create(
            conversation=conversation, resolution_event=resolution, agent_id=resolution.actor_id, requested_at=now
        )
        message = services._new_outbound(
            conversation,
            body=_question(survey, inbox.kind),
            sender_kind=SenderKind.SYSTEM,
            author=None,
            private=False,
            now=now,
            metadata={"csat_survey": survey.pk},
        )
        # The question is not conversation content: the list keeps the last real message as preview,
        # and a resolved conversation does not jump to the top because a survey went out.
        services._record(conversation, EventKind.MESSAGE_OUT, actor_kind=SenderKind.SYSTEM, message=message, at=now)
        services._broadcast_message(message, conversation)
        services._enqueue_send(message)
    return survey


def survey_answer(
    *, survey: CSATResponse, rating: Any, comment: str = "", via: str = "", reference: str = ""
) -> CSATResponse:
    """Record the customer's rating (1 to 5) and comment. A survey is answered once.

    ``reference`` is the channel's id of the answering message (an SMS reply), kept on the event
    so that a retried delivery of the same reply is recognized.
    """
    if isinstance(rating, str) and rating.strip().isascii() and rating.strip().isdigit():
        rating = int(rating.strip())
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise services.ServiceError("The rating must be a whole number from 1 to 5.")
    if not isinstance(comment, str):
        raise services.ServiceError("The comment must be text.")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise services.ServiceError(f"The comment is at most {MAX_COMMENT_CHARS} characters.")
    now = timezone.now()
    with transaction.atomic():
        conversation = services._lock(survey.conversation)
        survey = CSATResponse.objects.select_for_update().get(pk=survey.pk)
        if survey.answered_at is not None:
            raise services.ServiceError("This survey has already been answered. Thank you!")
        survey.rating, survey.comment, survey.answered_at = rating, comment, now
        survey.save(update_fields=["rating", "comment", "answered_at"])
        services._record(
            conversation,
            EventKind.CSAT,
            actor_kind=SenderKind.CONTACT,
            data={
                "rating": rating,
                "comment": comment[:500],
                "agent": survey.agent_id,
                "survey": survey.pk,
                "via": via,
                **({"channel_message_id": reference} if reference else {}),
            },
            at=now,
        )
    return survey


def pending_survey_for(conversation: Conversation) -> CSATResponse | None:
    """The unanswered survey of the conversation's latest resolution, while the conversation stays resolved."""
    if conversation.status != Status.RESOLVED or conversation.resolved_at is None:
        return None
    return (
        CSATResponse.objects.filter(
            conversation=conversation,
            answered_at__isnull=True,
            requested_at__gte=timezone.now() - REPLY_WINDOW,
            resolution_event__created_at=conversation.resolved_at,
        )
        .order_by("-requested_at")
        .first()
    )


def answer_by_reply(*, inbox: Any, identity_kind: str, identity_value: str, body: str, channel_message_id: str) -> bool:
    """An SMS or WhatsApp reply that is a lone digit 1-5 while a survey waits: record it as the rating.

    Returns True when the reply was the survey's answer (or a retried delivery of it), so the
    caller does not store it as a message that would reopen the conversation.
    """
    match = _DIGIT_REPLY.match(body or "")
    if match is None:
        return False
    if ConversationEvent.objects.filter(
        kind=EventKind.CSAT, conversation__inbox=inbox, data__channel_message_id=channel_message_id
    ).exists():
        return True  # Twilio retried a delivery we already counted
    identity = ChannelIdentity.objects.filter(kind=identity_kind, value=identity_value).first()
    if identity is None:
        return False
    conversation = (
        Conversation.objects.filter(contact_id=identity.contact_id, inbox=inbox).order_by("-last_message_at").first()
    )
    survey = pending_survey_for(conversation) if conversation is not None else None
    if survey is None:
        return False
    try:
        survey_answer(survey=survey, rating=int(match.group(1)), via=inbox.kind, reference=channel_message_id)
    except services.ServiceError:
        return False
    return True
