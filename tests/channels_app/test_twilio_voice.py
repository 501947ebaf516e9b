"""Twilio voice: the call reaches voicemail; the recording and its transcript arrive in the conversation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from django.test import Client

from conversations.models import Attachment, Contact, Message
from tests import factories as f
from tests.fakes.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_BASE_URL,
    post_signed,
    recording_payload,
    sms_payload,
    transcription_payload,
    twilio_sid,
    voice_payload,
    whatsapp_payload,
)

# fake_twilio (tests/channels_app/conftest.py): the account configured, the SDK pointed at a local fake.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_twilio")]


@pytest.fixture
def voice_inbox(db: Any, agent: Any, team: Any) -> Any:
    return f.InboxFactory(name="Phone line", kind="voice", members=[agent], default_team=team)


def call(client: Client, inbox: Any, caller: str = "+14155550100") -> tuple[str, ElementTree.Element]:
    payload = voice_payload(caller=caller)
    response = post_signed(client, f"/channels/twilio/{inbox.webhook_token}/voice/", payload)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    return payload["CallSid"], ElementTree.fromstring(response.content)  # noqa: S314  (our own TwiML)


def post_to(client: Client, url: str, payload: dict[str, str]) -> Any:
    """POST to a callback URL from our TwiML, signed for that full public URL as Twilio does."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return post_signed(client, path, payload, signed_url=url)


def leave_voicemail(client: Client, inbox: Any, fake: Any, caller: str = "+14155550100") -> dict[str, str]:
    call_sid, twiml = call(client, inbox, caller)
    record = twiml.find("Record")
    assert record is not None
    recording_sid = twilio_sid("RE")
    recording_url = f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}"
    fake.add_media(recording_url.removeprefix(fake.base_url) + ".mp3", b"ID3 fake mp3", "audio/mpeg")
    payload = recording_payload(call_sid=call_sid, recording_url=recording_url, recording_sid=recording_sid)
    response = post_to(client, record.attrib["recordingStatusCallback"], payload)
    assert response.status_code == 204
    return {**payload, "transcribeCallback": record.attrib["transcribeCallback"]}


def test_call_is_greeted_and_recorded_with_signed_callbacks(client: Client, voice_inbox: Any) -> None:
    _, twiml = call(client, voice_inbox, caller="+14155550100")

    assert twiml.tag == "Response"
    assert [element.tag for element in twiml] == ["Say", "Record", "Say", "Hangup"]
    record = twiml.find("Record")
    assert record is not None
    base = f"{PUBLIC_BASE_URL}/channels/twilio/{voice_inbox.webhook_token}/voice"
    assert record.attrib["recordingStatusCallback"] == f"{base}/recording/?caller=%2B14155550100"
    assert record.attrib["transcribe"] == "true"
    assert record.attrib["transcribeCallback"] == f"{base}/transcription/?caller=%2B14155550100"
    assert record.attrib["action"] == f"{base}/"
    assert not Message.objects.exists()  # nothing to store until there is a voicemail


def test_after_recording_the_call_hangs_up(client: Client, voice_inbox: Any) -> None:
    payload = {**voice_payload(), "RecordingSid": twilio_sid("RE"), "RecordingUrl": "https://api.twilio.com/x"}

    response = post_signed(client, f"/channels/twilio/{voice_inbox.webhook_token}/voice/", payload)

    twiml = ElementTree.fromstring(response.content)  # noqa: S314  (our own TwiML)
    assert [element.tag for element in twiml] == ["Say", "Hangup"]


def test_recording_becomes_an_inbound_voicemail_with_its_audio(
    client: Client, voice_inbox: Any, fake_twilio: Any
) -> None:
    payload = leave_voicemail(client, voice_inbox, fake_twilio)

    message = Message.objects.get()
    assert message.channel_message_id == payload["RecordingSid"]
    assert message.body == "Voicemail (0:42)"
    assert message.conversation.contact.identities.get().value == "+14155550100"
    voice = message.metadata["voice"]
    assert voice["recording_url"] == payload["RecordingUrl"]
    assert (voice["call_sid"], voice["duration_seconds"], voice["recording_status"]) == (
        payload["CallSid"],
        42,
        "completed",
    )
    attachment = Attachment.objects.get()
    assert (attachment.content_type, attachment.file.read()) == ("audio/mpeg", b"ID3 fake mp3")
    (download,) = [r for r in fake_twilio.requests if r.method == "GET"]
    assert download.auth == (ACCOUNT_SID, AUTH_TOKEN)


def test_repeated_recording_callback_stores_one_voicemail(client: Client, voice_inbox: Any, fake_twilio: Any) -> None:
    payload = leave_voicemail(client, voice_inbox, fake_twilio)
    url = payload.pop("transcribeCallback").replace("/transcription/", "/recording/")

    response = post_to(client, url, payload)

    assert response.status_code == 204
    assert Message.objects.count() == 1


def test_transcript_follows_the_voicemail_in_the_same_conversation_once(
    client: Client, voice_inbox: Any, fake_twilio: Any
) -> None:
    voicemail = leave_voicemail(client, voice_inbox, fake_twilio)
    payload = transcription_payload(
        call_sid=voicemail["CallSid"], recording_sid=voicemail["RecordingSid"], text="Please call me back."
    )

    first = post_to(client, voicemail["transcribeCallback"], payload)
    second = post_to(client, voicemail["transcribeCallback"], payload)

    assert (first.status_code, second.status_code) == (204, 204)
    recording, transcript = Message.objects.order_by("id")
    assert transcript.conversation_id == recording.conversation_id
    assert transcript.body == "Voicemail transcript: Please call me back."
    assert transcript.channel_message_id == payload["TranscriptionSid"]
    assert transcript.metadata["voice"]["recording_sid"] == voicemail["RecordingSid"]


def test_a_call_without_a_message_is_recorded_as_a_missed_call(client: Client, voice_inbox: Any) -> None:
    call_sid, twiml = call(client, voice_inbox)
    record = twiml.find("Record")
    assert record is not None
    payload = recording_payload(call_sid=call_sid, recording_url="", status="absent", duration=0)

    post_to(client, record.attrib["recordingStatusCallback"], payload)

    assert Message.objects.get().body == "Missed call: no voicemail was left."


def test_recording_outside_twilio_is_not_downloaded_but_the_voicemail_is_kept(client: Client, voice_inbox: Any) -> None:
    call_sid, twiml = call(client, voice_inbox)
    record = twiml.find("Record")
    assert record is not None
    payload = recording_payload(call_sid=call_sid, recording_url="https://169.254.169.254/latest/meta-data")

    post_to(client, record.attrib["recordingStatusCallback"], payload)

    message = Message.objects.get()
    assert not Attachment.objects.exists()
    assert "not one of Twilio's media hosts" in message.metadata["voice"]["download_error"]


def test_recording_callback_must_be_signed_for_its_full_url_with_the_caller(client: Client, voice_inbox: Any) -> None:
    call_sid, twiml = call(client, voice_inbox, caller="+14155550100")
    record = twiml.find("Record")
    assert record is not None
    payload = recording_payload(call_sid=call_sid, recording_url="")
    signed_for = record.attrib["recordingStatusCallback"]
    forged_path = urlsplit(signed_for).path + "?caller=%2B14155550999"

    response = post_signed(client, forged_path, payload, signed_url=signed_for)

    assert response.status_code == 403
    assert not Message.objects.exists()


def test_recording_callback_without_a_caller_is_a_400(client: Client, voice_inbox: Any) -> None:
    path = f"/channels/twilio/{voice_inbox.webhook_token}/voice/recording/"

    response = post_signed(client, path, recording_payload(call_sid=twilio_sid("CA"), recording_url=""))

    assert response.status_code == 400
    assert "caller" in response.json()["error"]["message"]


# --- One contact across channels ------------------------------------------------------------


def test_voicemail_from_a_number_known_by_sms_joins_that_contact(
    client: Client, voice_inbox: Any, sms_inbox: Any, fake_twilio: Any
) -> None:
    post_signed(client, f"/channels/twilio/{sms_inbox.webhook_token}/messages/", sms_payload(sender="+14155550100"))

    leave_voicemail(client, voice_inbox, fake_twilio, caller="+14155550100")

    contact = Contact.objects.get()
    assert list(contact.identities.values_list("kind", "value")) == [("phone", "+14155550100")]
    assert Message.objects.filter(conversation__contact=contact).count() == 2


def test_sms_from_a_number_known_by_voicemail_joins_that_contact(
    client: Client, voice_inbox: Any, sms_inbox: Any, fake_twilio: Any
) -> None:
    leave_voicemail(client, voice_inbox, fake_twilio, caller="+14155550100")

    post_signed(client, f"/channels/twilio/{sms_inbox.webhook_token}/messages/", sms_payload(sender="+14155550100"))

    assert Contact.objects.count() == 1
    assert Contact.objects.get().conversations.count() == 2


def test_voicemail_from_a_number_known_by_whatsapp_joins_that_contact(
    client: Client, voice_inbox: Any, agent: Any, fake_twilio: Any
) -> None:
    whatsapp = f.InboxFactory(kind="whatsapp", members=[agent])
    post_signed(client, f"/channels/twilio/{whatsapp.webhook_token}/messages/", whatsapp_payload(sender="+14155550100"))

    leave_voicemail(client, voice_inbox, fake_twilio, caller="+14155550100")

    contact = Contact.objects.get()
    assert sorted(contact.identities.values_list("kind", flat=True)) == ["phone", "whatsapp"]
