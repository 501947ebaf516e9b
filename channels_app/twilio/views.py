"""Twilio's inbound webhooks: messages (SMS, WhatsApp), delivery statuses, and voicemail.

Each is signed (see ``signatures``), answers fast, and changes state only through
``conversations.services``. A message is accepted here and stored by the inbound worker
(``inbound``); voicemail media is downloaded before the service's transaction opens.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from channels_app.twilio import inbound, media, tasks
from channels_app.twilio.client import public_url
from channels_app.twilio.signatures import twilio_webhook
from conversations import services
from conversations.models import DeliveryStatus, Direction, Inbox, Message

logger = logging.getLogger(__name__)


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


def _twiml(response: Any) -> HttpResponse:
    return HttpResponse(str(response), content_type="text/xml")


@twilio_webhook("sms", "whatsapp")
def inbound_message(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """An SMS, MMS or WhatsApp message: checked, accepted in one INSERT, stored by the inbound worker."""
    tasks.enqueue_message(inbox, inbound.accepted_fields(inbox, request.POST))
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
    message_sid = inbound.sid(data, "MessageSid")
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
    return inbound.number(raw, field="From", kind="phone")


def _duration(raw: str) -> int:
    return int(raw) if raw.strip().isascii() and raw.strip().isdigit() else 0


@twilio_webhook("voice")
def voice_recording(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    """A voicemail is recorded (or the caller left none): it becomes the caller's inbound message."""
    data = request.POST
    recording_sid = inbound.sid(data, "RecordingSid")
    call_sid = inbound.sid(data, "CallSid")
    caller = _caller(request)
    if inbound.already_stored(inbox, recording_sid):
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
    inbound.join_same_number(kind="phone", value=caller)
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
    transcription_sid = inbound.sid(data, "TranscriptionSid")
    caller = _caller(request)
    text = (data.get("TranscriptionText") or "").strip()
    transcription_status = (data.get("TranscriptionStatus") or "").strip().lower()
    if transcription_status == "completed" and text:
        body = f"Voicemail transcript: {text}"
    else:
        body = "The voicemail could not be transcribed."
    inbound.join_same_number(kind="phone", value=caller)
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
