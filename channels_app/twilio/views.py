"""Twilio's inbound webhooks: messages (SMS, WhatsApp), delivery statuses, and voicemail.

Each is signed (see ``signatures``), answers fast, and changes state only through
``conversations.services``. Media is downloaded before the service's transaction opens.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from analytics import csat
from channels_app.twilio import media
from channels_app.twilio.client import public_url
from channels_app.twilio.signatures import twilio_webhook
from conversations import identities, services
from conversations.models import ChannelIdentity, DeliveryStatus, Direction, Inbox, Message

logger = logging.getLogger(__name__)

MAX_MEDIA = 10  # Twilio sends at most 10 media per message
_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")

# Twilio's message statuses, as ours. Statuses not listed (receiving, received: inbound) are ignored.
DELIVERY_STATUSES: dict[str, str] = {
    "accepted": DeliveryStatus.SENT,
    "scheduled": DeliveryStatus.SENT,
    "queued": DeliveryStatus.SENT,
    "sending": DeliveryStatus.SENT,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}

# What the agent sees for the failures that happen most; others show Twilio's own message or code.
KNOWN_ERRORS: dict[str, str] = {
    "21211": "The phone number is not valid.",
    "21610": "The customer has unsubscribed (replied STOP).",
    "30003": "The phone is unreachable or switched off.",
    "30004": "The message was blocked by the customer or their carrier.",
    "30005": "The number is unknown or no longer in service.",
    "30006": "The number is a landline or cannot receive messages.",
    "30007": "The carrier filtered the message as spam.",
    "30008": "Delivery failed for an unknown reason.",
    "63016": "Outside WhatsApp's 24-hour window: send an approved template instead.",
}

# The same number reached on another channel is the same person.
_SAME_NUMBER_KINDS: dict[str, tuple[str, ...]] = {"phone": ("whatsapp",), "whatsapp": ("phone",)}


def _twiml(response: Any) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


def _required(data: Any, *names: str) -> dict[str, str]:
    values = {name: (data.get(name) or "").strip() for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise services.ServiceError(f"Missing {', '.join(missing)}: this does not look like a Twilio request.")
    return values


def _sid(data: Any, name: str) -> str:
    value = _required(data, name)[name]
    if not _SID.match(value):
        raise services.ServiceError(f"{name} {value[:80]!r} is not a Twilio id.")
    return value


def _number(raw: str, *, field: str, kind: str) -> str:
    if kind == "whatsapp" and not raw.lower().startswith("whatsapp:"):
        raise services.ServiceError(f"{field} {raw!r} is not a WhatsApp address (whatsapp:+E164).")
    if kind == "phone" and raw.lower().startswith("whatsapp:"):
        raise services.ServiceError(f"{field} {raw!r} is a WhatsApp address but this inbox is not a WhatsApp inbox.")
    try:
        return identities.normalize(kind, raw)
    except identities.InvalidIdentity as exc:
        raise services.ServiceError(f"{field}: {exc}.") from None


def join_same_number(*, kind: str, value: str) -> None:
    """Attach a new identity to the contact who already has the same number on another channel.

    Done before ``message_receive_inbound``, which would otherwise create a second contact.
    """
    if ChannelIdentity.objects.filter(kind=kind, value=value).exists():
        return
    other = (
        ChannelIdentity.objects.select_related("contact")
        .filter(kind__in=_SAME_NUMBER_KINDS.get(kind, ()), value=value)
        .order_by("created_at", "pk")
        .first()
    )
    if other is None:
        return
    contact = other.contact
    if contact.merged_into_id is not None:
        contact = contact.merged_into  # type: ignore[assignment]
    # A retry of the same delivery, at the same moment, may attach it first.
    with contextlib.suppress(services.ServiceError, IntegrityError):
        services.contact_add_identity(contact=contact, kind=kind, value=value)


def _already_stored(inbox: Inbox, channel_message_id: str) -> bool:
    return Message.objects.filter(inbox=inbox, channel_message_id=channel_message_id).exists()


def _media(data: Any) -> tuple[list[services.InboundAttachment], list[dict[str, Any]]]:
    raw = (data.get("NumMedia") or "0").strip()
    if not (raw.isascii() and raw.isdigit()):
        raise services.ServiceError(f"NumMedia {raw[:20]!r} is not a whole number.")
    attachments: list[services.InboundAttachment] = []
    described: list[dict[str, Any]] = []
    for index in range(min(int(raw), MAX_MEDIA)):
        url = (data.get(f"MediaUrl{index}") or "").strip()
        content_type = (data.get(f"MediaContentType{index}") or "").strip()
        if not url:
            continue
        result = media.download_or_log(url, content_type=content_type, default_stem=f"media{index}")
        entry: dict[str, Any] = {"url": url[:500], "content_type": content_type[:150]}
        if isinstance(result, str):
            entry["error"] = result
        else:
            attachments.append(result)
        described.append(entry)
    return attachments, described


def _location(data: Any) -> str:
    latitude, longitude = data.get("Latitude"), data.get("Longitude")
    if not (latitude and longitude):
        return ""
    label = " ".join(part for part in (data.get("Label"), data.get("Address")) if part)
    return f"Location: {latitude}, {longitude}" + (f" ({label})" if label else "")


@twilio_webhook("sms", "whatsapp")
def inbound_message(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """An SMS, MMS or WhatsApp message: stored once per MessageSid, answered with empty TwiML."""
    data = request.POST
    message_sid = _sid(data, "MessageSid")
    kind = "whatsapp" if inbox.kind == "whatsapp" else "phone"
    sender = _number(_required(data, "From")["From"], field="From", kind=kind)
    if _already_stored(inbox, message_sid):
        return _twiml(MessagingResponse())  # a retry: do not download the media again
    body = data.get("Body") or ""
    if (data.get("NumMedia") or "0") == "0" and csat.answer_by_reply(
        inbox=inbox, identity_kind=kind, identity_value=sender, body=body, channel_message_id=message_sid
    ):
        return _twiml(MessagingResponse())  # a digit answering the satisfaction survey, not a new question

    attachments, described = _media(data)  # network: before any transaction
    location = _location(data)
    if location and not body.strip():
        body = location
    if not body.strip() and not attachments and described:
        body = f"[{len(described)} attachment(s) could not be downloaded from Twilio]"
    metadata: dict[str, Any] = {
        "twilio": {
            key: value
            for key, value in {
                "from": data.get("From", ""),
                "to": data.get("To", ""),
                "messaging_service_sid": data.get("MessagingServiceSid", ""),
                "num_segments": data.get("NumSegments", ""),
                "wa_id": data.get("WaId", ""),
                "profile_name": data.get("ProfileName", ""),
                "media": described,
                "location": location,
            }.items()
            if value
        }
    }
    join_same_number(kind=kind, value=sender)
    services.message_receive_inbound(
        inbox=inbox,
        identity_kind=kind,
        identity_value=sender,
        body=body,
        channel_message_id=message_sid,
        contact_name=(data.get("ProfileName") or "").strip(),
        attachments=attachments,
        metadata=metadata,
    )
    return _twiml(MessagingResponse())


def failure_reason(code: str, message: str) -> str:
    explained = message.strip() or KNOWN_ERRORS.get(code, "")
    if code:
        return f"{explained or 'Twilio could not deliver the message.'} (Twilio error {code})"
    return explained or "Twilio could not deliver the message."


@twilio_webhook("sms", "whatsapp")
def message_status(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """A delivery-status callback for one of our outbound messages. Status only moves forward."""
    data = request.POST
    message_sid = _sid(data, "MessageSid")
    twilio_status = (data.get("MessageStatus") or data.get("SmsStatus") or "").strip().lower()
    if not twilio_status:
        raise services.ServiceError("Missing MessageStatus: this does not look like a Twilio status callback.")
    status = DELIVERY_STATUSES.get(twilio_status)
    if status is None:
        logger.info("Ignored Twilio status %r for %s", twilio_status, message_sid)
        return HttpResponse(status=204)
    outbound = Message.objects.filter(inbox=inbox, direction=Direction.OUTBOUND)
    # Our status callback URL names the message, in case this arrives before the send recorded the sid.
    message_id = request.GET.get("message", "")
    message = (
        outbound.filter(pk=int(message_id)) if message_id.isascii() and message_id.isdigit() else outbound.none()
    ).first()
    if message is None:
        message = outbound.filter(channel_message_id=message_sid).first()
    if message is None:
        logger.info("Twilio status %r for %s, which is not one of ours", twilio_status, message_sid)
        return HttpResponse(status=204)
    error = ""
    if status == DeliveryStatus.FAILED:
        error = failure_reason((data.get("ErrorCode") or "").strip(), data.get("ErrorMessage") or "")
    services.message_update_delivery_status(message=message, status=status, error=error, channel_message_id=message_sid)
    return HttpResponse(status=204)


# --- Voice ------------------------------------------------------------------------------------


def _callback(view_name: str, inbox: Inbox, caller: str) -> str:
    # The caller rides along in the query: Twilio's recording callback does not say who called,
    # and Twilio signs the whole URL, so it cannot be forged.
    url = public_url(view_name, inbox.webhook_token)
    return f"{url}?{urlencode({'caller': caller})}" if caller else url


@twilio_webhook("voice")
def voice_call(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """An incoming call: greet, record a voicemail (transcribed), hang up."""
    data = request.POST
    response = VoiceResponse()
    if data.get("RecordingSid") or data.get("RecordingUrl"):
        # Twilio comes back here (<Record>'s action) once the caller has finished.
        response.say("Thank you. Goodbye.")
        response.hangup()
        return _twiml(response)
    caller = (data.get("From") or "").strip()
    response.say(
        f"Thank you for calling {settings.COMPANY_NAME}. "
        "Please leave a message after the tone and we will get back to you."
    )
    response.record(
        action=public_url("twilio:voice", inbox.webhook_token),
        method="POST",
        max_length=180,
        timeout=5,
        finish_on_key="#",
        play_beep=True,
        trim="trim-silence",
        recording_status_callback=_callback("twilio:voice-recording", inbox, caller),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
        transcribe=True,
        transcribe_callback=_callback("twilio:voice-transcription", inbox, caller),
    )
    response.say("We did not receive a message. Goodbye.")
    response.hangup()
    return _twiml(response)


def _caller(request: HttpRequest) -> str:
    raw = (request.POST.get("From") or request.GET.get("caller") or "").strip()
    if not raw:
        raise services.ServiceError("Missing the caller's number (From, or caller in the callback URL).")
    return _number(raw, field="From", kind="phone")


def _duration(raw: str) -> int:
    return int(raw) if raw.strip().isascii() and raw.strip().isdigit() else 0


@twilio_webhook("voice")
def voice_recording(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """A voicemail is recorded (or the caller left none): it becomes the caller's inbound message."""
    data = request.POST
    recording_sid = _sid(data, "RecordingSid")
    call_sid = _sid(data, "CallSid")
    caller = _caller(request)
    if _already_stored(inbox, recording_sid):
        return HttpResponse(status=204)
    recording_status = (data.get("RecordingStatus") or "completed").strip().lower()
    recording_url = (data.get("RecordingUrl") or "").strip()
    duration = _duration(data.get("RecordingDuration") or "")
    attachments: list[services.InboundAttachment] = []
    download_error = ""
    if recording_status == "completed" and recording_url:
        result = media.download_or_log(f"{recording_url}.mp3", content_type="audio/mpeg", default_stem=recording_sid)
        if isinstance(result, str):
            download_error = result
        else:
            attachments.append(result)
    if recording_status == "completed":
        body = f"Voicemail ({duration // 60}:{duration % 60:02d})"
    else:
        body = "Missed call: no voicemail was left."
    voice: dict[str, Any] = {
        "call_sid": call_sid,
        "recording_sid": recording_sid,
        "recording_url": recording_url,
        "recording_status": recording_status,
        "duration_seconds": duration,
        "from": caller,
    }
    if data.get("CallStatus"):
        voice["call_status"] = data["CallStatus"].strip()
    if download_error:
        voice["download_error"] = download_error
    join_same_number(kind="phone", value=caller)
    services.message_receive_inbound(
        inbox=inbox,
        identity_kind="phone",
        identity_value=caller,
        body=body,
        channel_message_id=recording_sid,
        attachments=attachments,
        metadata={"voice": voice},
    )
    return HttpResponse(status=204)


@twilio_webhook("voice")
def voice_transcription(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """A voicemail's transcript: a follow-up message in the same conversation, once per TranscriptionSid."""
    data = request.POST
    transcription_sid = _sid(data, "TranscriptionSid")
    caller = _caller(request)
    text = (data.get("TranscriptionText") or "").strip()
    transcription_status = (data.get("TranscriptionStatus") or "").strip().lower()
    if transcription_status == "completed" and text:
        body = f"Voicemail transcript: {text}"
    else:
        body = "The voicemail could not be transcribed."
    join_same_number(kind="phone", value=caller)
    services.message_receive_inbound(
        inbox=inbox,
        identity_kind="phone",
        identity_value=caller,
        body=body,
        channel_message_id=transcription_sid,
        metadata={
            "voice": {
                "transcription_sid": transcription_sid,
                "transcription_status": transcription_status,
                "recording_sid": (data.get("RecordingSid") or "").strip(),
                "call_sid": (data.get("CallSid") or "").strip(),
            }
        },
    )
    return HttpResponse(status=204)
