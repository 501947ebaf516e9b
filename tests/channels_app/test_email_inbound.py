"""Inbound email from the recorded corpus (tests/fixtures/eml): decoding, sanitizing, flags, threading."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from channels_app.email import is_automated
from channels_app.email.inbound import receive_email
from channels_app.email.parsing import parse_email
from channels_app.email.threads import outbound_message_id
from conversations.models import ChannelIdentity, Conversation, Direction, Message, SenderKind
from tests import factories as f
from tests.fakes.mail_servers import fixture_eml


@pytest.fixture
def email_inbox(db: Any, agent: Any, teammate: Any, team: Any) -> Any:
    return f.InboxFactory(
        name="Support mail",
        kind="email",
        members=[agent, teammate],
        default_team=team,
        config={"address": "support@example.com"},
    )


def receive(inbox: Any, name: str, **replacements: str) -> Any:
    return receive_email(inbox=inbox, raw=fixture_eml(name, **replacements))


def _our_sent_message(conversation: Conversation) -> Any:
    message = f.MessageFactory(
        conversation=conversation, direction=Direction.OUTBOUND, sender_kind=SenderKind.AGENT, body="Refund sent."
    )
    message.channel_message_id = outbound_message_id(
        conversation_id=conversation.pk, message_id=message.pk, domain="example.com"
    )
    message.save(update_fields=["channel_message_id"])
    return message


# --- Decoding -------------------------------------------------------------------------------------


def test_iso_8859_1_mail_decodes_body_subject_and_sender_name(email_inbox: Any) -> None:
    outcome = receive(email_inbox, "iso_8859_1_quoted_printable.eml")

    message = outcome.message
    assert outcome.status == "stored"
    assert message.subject == "Facture erronée pour décembre"
    assert "J'ai reçu une facture erronée" in message.body
    assert message.sender_contact.name == "Françoise Müller"
    assert ChannelIdentity.objects.get(contact=message.sender_contact).value == "francoise@example.fr"
    assert message.channel_message_id == "<20261116091240.4711@mail.example.fr>"


def test_windows_1252_mail_keeps_plain_part_as_body_and_sanitized_html(email_inbox: Any) -> None:
    message = receive(email_inbox, "windows_1252_alternative.eml").message

    assert "The invoice says €49 but the “Pro” plan is €39 \u2013 can you fix it?" in message.body
    assert "<p>The invoice says €49" in message.html
    assert "\r" not in message.body


def test_shift_jis_body_and_encoded_headers_are_decoded(email_inbox: Any) -> None:
    message = receive(email_inbox, "shift_jis.eml").message

    assert message.subject == "注文した商品が届きません"
    assert "注文番号 12345 の商品がまだ届いていません。" in message.body
    assert message.sender_contact.name == "山田 太郎"


def test_nested_multipart_keeps_text_html_inline_image_and_attachment(email_inbox: Any) -> None:
    message = receive(email_inbox, "nested_multipart_inline_image.eml").message

    assert message.body == "Hello, the app shows this error (screenshot below). Invoice attached."
    assert '<img src="cid:screenshot.1@example.com.br" alt="screenshot">' in message.html
    files = {a.filename: a for a in message.attachments.all()}
    assert set(files) == {"screenshot.png", "etc.pdf", "original.eml"}
    assert files["screenshot.png"].content_type == "image/png"
    assert files["screenshot.png"].file.read().startswith(b"\x89PNG")
    assert message.metadata["inline_images"] == {"screenshot.1@example.com.br": "screenshot.png"}


def test_attachment_names_from_the_sender_cannot_name_paths(email_inbox: Any) -> None:
    message = receive(email_inbox, "nested_multipart_inline_image.eml").message

    for attachment in message.attachments.all():
        assert "/" not in attachment.filename and ".." not in attachment.filename
        assert not attachment.filename.startswith(".")


def test_original_mail_is_kept_as_a_downloadable_rfc822_attachment(email_inbox: Any) -> None:
    raw = fixture_eml("windows_1252_alternative.eml")
    message = receive_email(inbox=email_inbox, raw=raw).message

    original = message.attachments.get(filename="original.eml")
    assert original.content_type == "message/rfc822"
    assert original.file.read() == raw
    assert original.size == len(raw)


# --- HTML -----------------------------------------------------------------------------------------


def test_html_only_mail_is_sanitized_and_gets_a_text_body(email_inbox: Any) -> None:
    message = receive(email_inbox, "html_only_xss.eml").message

    html = message.html.lower()
    for payload in ("<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<style", "position:fixed"):
        assert payload not in html, payload
    assert "tracker.example.org" not in html  # remote images (tracking pixels) are not loaded
    assert '<a href="https://shop.example.org/orders/991" target="_blank" rel="noopener noreferrer">' in message.html
    assert message.body.startswith("My order #991 never arrived.")
    assert "document.cookie" not in message.body


# --- Size limits ----------------------------------------------------------------------------------


def test_oversized_attachment_is_dropped_and_noted_while_the_mail_is_stored(email_inbox: Any, settings: Any) -> None:
    settings.MAX_ATTACHMENT_BYTES = 20_000
    message = receive(email_inbox, "oversized_attachment.eml").message

    assert message.body == "The log file and the order list are attached."
    assert [a.filename for a in message.attachments.all()] == ["orders.csv"]
    dropped = {item["filename"]: item for item in message.metadata["dropped_attachments"]}
    assert dropped["server.log.gz"]["size"] == 30_000
    assert "original.eml" in dropped  # the raw mail holds the big part too


# --- Robustness -----------------------------------------------------------------------------------


def test_malformed_mail_is_stored_with_what_could_be_read(email_inbox: Any) -> None:
    outcome = receive(email_inbox, "malformed.eml")

    message = outcome.message
    assert outcome.status == "stored"
    assert message.body == "Café still readable and the rest."
    assert "<b>html</b>" in message.html
    assert message.metadata["email"]["message_id_synthetic"] is True
    assert any("x-unknown-charset" in error for error in message.metadata["parse_errors"])
    assert message.attachments.filter(filename="broken.pdf").exists()


def test_mail_without_message_id_read_twice_is_stored_once(email_inbox: Any) -> None:
    first = receive(email_inbox, "malformed.eml")
    second = receive(email_inbox, "malformed.eml")

    assert (first.status, second.status) == ("stored", "duplicate")
    assert Message.objects.filter(inbox=email_inbox).count() == 1


def test_same_message_id_twice_creates_one_message(email_inbox: Any) -> None:
    outcomes = [receive(email_inbox, "shift_jis.eml").status for _ in range(2)]

    assert outcomes == ["stored", "duplicate"]
    assert Message.objects.filter(inbox=email_inbox, channel_message_id="<sjis-0001@example.jp>").count() == 1


def test_mail_without_sender_address_is_refused_with_a_log_line(email_inbox: Any, caplog: Any) -> None:
    raw = b"From: undisclosed\r\nTo: support@example.com\r\nSubject: hi\r\nMessage-ID: <a@b.example>\r\n\r\nhello\r\n"
    with caplog.at_level(logging.WARNING, logger="channels_app.email.inbound"):
        outcome = receive_email(inbox=email_inbox, raw=raw)

    assert outcome.status == "rejected"
    assert "no usable sender address" in outcome.reason
    assert "<a@b.example>" in caplog.text
    assert not Message.objects.filter(inbox=email_inbox).exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--",
        b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-7777\r\n\r\n\xff\xfe",
    ],
)
def test_garbage_never_raises_from_the_parser(raw: bytes) -> None:
    parsed = parse_email(raw)

    assert parsed.message_id.startswith("<sha256.")


# --- Automated mail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto_reply_out_of_office.eml", "auto-submitted:auto-replied"),
        ("bounce_delivery_status.eml", "bounce"),
        ("mailing_list.eml", "precedence:list"),
    ],
)
def test_automated_mail_is_stored_but_flagged(email_inbox: Any, name: str, reason: str) -> None:
    message = receive(email_inbox, name).message

    assert message.metadata["automated"] == reason
    assert is_automated(message)


def test_mail_written_by_a_person_is_not_flagged(email_inbox: Any) -> None:
    message = receive(email_inbox, "windows_1252_alternative.eml").message

    assert "automated" not in message.metadata
    assert not is_automated(message)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("X-Autorespond: yes", "auto-reply"),
        ("Precedence: bulk", "precedence:bulk"),
        ("List-Unsubscribe: <https://news.example.com/u>", "mailing-list"),
        ("Auto-Submitted: auto-generated", "auto-submitted:auto-generated"),
    ],
)
def test_each_automation_header_flags_the_mail(email_inbox: Any, header: str, reason: str) -> None:
    raw = (
        f"From: shop@example.net\r\nTo: support@example.com\r\nSubject: Your order\r\n"
        f"Message-ID: <h-{abs(hash(header))}@example.net>\r\n{header}\r\n\r\nShipped.\r\n"
    ).encode()

    assert receive_email(inbox=email_inbox, raw=raw).message.metadata["automated"] == reason


def test_auto_submitted_no_is_a_person(email_inbox: Any) -> None:
    raw = b"From: a@example.net\r\nSubject: Hi\r\nMessage-ID: <no@example.net>\r\nAuto-Submitted: no\r\n\r\nHi\r\n"

    assert not is_automated(receive_email(inbox=email_inbox, raw=raw).message)


def test_mail_from_our_own_address_is_not_stored(email_inbox: Any) -> None:
    outcome = receive(email_inbox, "from_our_own_address.eml")

    assert outcome.status == "own-mail"
    assert not Message.objects.filter(inbox=email_inbox).exists()
    assert not ChannelIdentity.objects.filter(value="support@example.com").exists()


def test_mail_from_another_of_our_inboxes_is_not_stored(email_inbox: Any) -> None:
    f.InboxFactory(kind="email", config={"address": "sales@example.com"})
    raw = b"From: sales@example.com\r\nSubject: Re: hi\r\nMessage-ID: <x@example.com>\r\n\r\nAuto answer\r\n"

    assert receive_email(inbox=email_inbox, raw=raw).status == "own-mail"


# --- Threading ------------------------------------------------------------------------------------


def test_reply_naming_our_message_id_joins_its_conversation(email_inbox: Any) -> None:
    first = receive(email_inbox, "windows_1252_alternative.eml").message
    ours = _our_sent_message(first.conversation)
    raw = fixture_eml("reply_to_our_message.eml", OUR_MESSAGE_ID=ours.channel_message_id).replace(
        b"carol@example.com>", b"john.oneil@example.net>"
    )

    reply = receive_email(inbox=email_inbox, raw=raw).message

    assert reply.conversation_id == first.conversation_id
    assert reply.metadata["email"]["in_reply_to"] == [ours.channel_message_id]


def test_reply_threads_by_our_signed_message_id_even_if_its_record_was_lost(email_inbox: Any) -> None:
    first = receive(email_inbox, "windows_1252_alternative.eml").message
    # The send succeeded but recording its Message-ID did not: the signed id still names the conversation.
    lost_id = outbound_message_id(conversation_id=first.conversation_id, message_id=99999, domain="example.com")
    raw = fixture_eml("reply_to_our_message.eml", OUR_MESSAGE_ID=lost_id).replace(
        b"carol@example.com>", b"john.oneil@example.net>"
    )

    assert receive_email(inbox=email_inbox, raw=raw).message.conversation_id == first.conversation_id


def test_made_up_message_id_in_our_format_does_not_thread(email_inbox: Any) -> None:
    first = receive(email_inbox, "windows_1252_alternative.eml").message
    forged = f"<conv-{first.conversation_id}.msg-1.AAAAAAAAAAAAAAAAAAAAAAAA@example.com>"
    raw = fixture_eml("reply_to_our_message.eml", OUR_MESSAGE_ID=forged).replace(
        b"carol@example.com>", b"john.oneil@example.net>"
    )

    assert receive_email(inbox=email_inbox, raw=raw).message.conversation_id != first.conversation_id


def test_forged_reply_from_a_stranger_starts_a_new_conversation(email_inbox: Any) -> None:
    carols = receive(email_inbox, "reply_to_our_message.eml", OUR_MESSAGE_ID="<none@example.com>").message
    ours = _our_sent_message(carols.conversation)

    forged = receive(email_inbox, "forged_reply_from_stranger.eml", OUR_MESSAGE_ID=ours.channel_message_id).message

    assert forged.conversation_id != carols.conversation_id
    assert forged.conversation.contact.identities.get().value == "mallory@example.net"
    assert carols.conversation.messages.count() == 2  # Carol's mail and our answer, nothing of Mallory's


def test_new_mail_without_references_starts_a_new_conversation(email_inbox: Any) -> None:
    first = receive(email_inbox, "windows_1252_alternative.eml").message
    raw = (
        b"From: john.oneil@example.net\r\nTo: support@example.com\r\nSubject: Another question\r\n"
        b"Message-ID: <new-topic@example.net>\r\n\r\nHow do I export my data?\r\n"
    )

    second = receive_email(inbox=email_inbox, raw=raw).message

    assert second.conversation_id != first.conversation_id
    assert second.conversation.subject == "Another question"
    assert Conversation.objects.filter(contact=first.conversation.contact).count() == 2


def test_mail_without_subject_starts_a_new_conversation(email_inbox: Any) -> None:
    receive(email_inbox, "no_subject.eml", OUR_MESSAGE_ID="")
    raw = b"From: dave@example.com\r\nMessage-ID: <nosubject-2@example.com>\r\n\r\nStill nothing?\r\n"

    second = receive_email(inbox=email_inbox, raw=raw).message

    assert Conversation.objects.filter(contact=second.conversation.contact).count() == 2
    assert second.subject == ""
