"""Satisfaction surveys: one per resolution, asked on the customer's channel, answered once, attributed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from analytics import csat, recorder, selectors
from analytics.models import CSATResponse
from conversations import services
from conversations.models import ConversationEvent, EventKind, Message, SenderKind, Status
from tests import factories as f
from tests.analytics.helpers import customer, reply, resolve
from tests.fakes.twilio_server import AUTH_TOKEN, PUBLIC_BASE_URL, post_signed, sms_payload

pytestmark = pytest.mark.django_db


def _resolution(conversation: Any) -> ConversationEvent:
    return ConversationEvent.objects.filter(
        conversation=conversation, kind=EventKind.STATUS, data__to="resolved"
    ).latest("id")


@pytest.fixture
def resolved_sms(human_inbox: Any, agent: Any) -> Any:
    conversation = customer(human_inbox, "My reader is offline", phone="+14155550100").conversation
    reply(conversation, agent)
    resolve(conversation, agent)
    return conversation


# --- Asking -----------------------------------------------------------------------------------


def test_resolving_asks_once_through_the_outbound_path(committed: Any, inbox: Any, agent: Any) -> None:
    conversation = f.ConversationFactory(inbox=inbox)
    with committed():
        resolve(conversation, agent)
    survey = CSATResponse.objects.get(conversation=conversation)
    assert survey.agent == agent
    assert survey.resolution_event == _resolution(conversation)
    question = Message.objects.get(conversation=conversation, sender_kind=SenderKind.SYSTEM)
    assert question.metadata == {"csat_survey": survey.pk}
    assert question.direction == "out" and not question.is_private_note
    assert "1 (poor) to 5 (excellent)" in question.body
    # Asking again for the same resolution (a retried task) sends nothing more.
    assert csat.survey_send(resolution_event_id=survey.resolution_event_id) is None
    assert CSATResponse.objects.filter(conversation=conversation).count() == 1
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED


def test_each_resolution_gets_its_own_survey(resolved_sms: Any, agent: Any, teammate: Any) -> None:
    first = csat.survey_send(resolution_event_id=_resolution(resolved_sms).pk)
    customer(resolved_sms.inbox, "It is offline again", phone="+14155550100")
    resolve(resolved_sms, teammate)
    second = csat.survey_send(resolution_event_id=_resolution(resolved_sms).pk)
    assert first is not None and second is not None and first.pk != second.pk
    assert (first.agent, second.agent) == (agent, teammate)


def test_no_survey_after_a_reopening_or_when_csat_is_off(resolved_sms: Any, agent: Any) -> None:
    stale = _resolution(resolved_sms)
    customer(resolved_sms.inbox, "One more thing", phone="+14155550100")  # reopened before the task ran
    assert csat.survey_send(resolution_event_id=stale.pk) is None
    off = f.InboxFactory(kind="sms", members=[agent], assistant_enabled=False, csat_enabled=False)
    conversation = customer(off, "Hello", phone="+14155550111").conversation
    resolve(conversation, agent)
    assert csat.survey_send(resolution_event_id=_resolution(conversation).pk) is None
    assert not CSATResponse.objects.exists()


# --- SMS and WhatsApp: a digit ------------------------------------------------------------------


@pytest.fixture
def twilio(settings: Any) -> None:
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_API_BASE_URL = ""
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL


def test_sms_digit_reply_is_the_rating_and_does_not_reopen(
    client: Client, twilio: None, resolved_sms: Any, agent: Any
) -> None:
    survey = csat.survey_send(resolution_event_id=_resolution(resolved_sms).pk)
    assert survey is not None
    assert "Reply with a number from 1" in Message.objects.filter(sender_kind=SenderKind.SYSTEM).get().body
    messages_before = Message.objects.count()
    payload = sms_payload(body=" 4 ")
    path = f"/channels/twilio/{resolved_sms.inbox.webhook_token}/messages/"
    assert post_signed(client, path, payload).status_code == 200
    assert post_signed(client, path, payload).status_code == 200  # Twilio retries
    survey.refresh_from_db()
    assert survey.rating == 4 and survey.answered_at is not None
    assert ConversationEvent.objects.filter(kind=EventKind.CSAT).count() == 1
    assert Message.objects.count() == messages_before
    resolved_sms.refresh_from_db()
    assert resolved_sms.status == Status.RESOLVED
    # Another message afterwards is a message: it reopens the conversation.
    assert post_signed(client, path, sms_payload(body="5")).status_code == 200
    resolved_sms.refresh_from_db()
    assert resolved_sms.status == Status.ACTIVE
    assert Message.objects.filter(body="5").exists()


def test_sms_words_are_not_a_rating(client: Client, twilio: None, resolved_sms: Any) -> None:
    csat.survey_send(resolution_event_id=_resolution(resolved_sms).pk)
    path = f"/channels/twilio/{resolved_sms.inbox.webhook_token}/messages/"
    post_signed(client, path, sms_payload(body="5 stars but my reader still fails"))
    assert CSATResponse.objects.get().rating is None
    resolved_sms.refresh_from_db()
    assert resolved_sms.status == Status.ACTIVE


# --- Email: a signed link -----------------------------------------------------------------------


@pytest.fixture
def email_survey(agent: Any, team: Any) -> CSATResponse:
    inbox = f.InboxFactory(kind="email", members=[agent], default_team=team, assistant_enabled=False)
    conversation = services.message_receive_inbound(
        inbox=inbox, identity_kind="email", identity_value="carol@example.com", body="Invoice?", subject="Invoice"
    ).message.conversation
    reply(conversation, agent)
    resolve(conversation, agent)
    survey = csat.survey_send(resolution_event_id=_resolution(conversation).pk)
    assert survey is not None
    return survey


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_email_survey_link_records_rating_and_comment(client: Client, email_survey: CSATResponse, agent: Any) -> None:
    question = Message.objects.get(sender_kind=SenderKind.SYSTEM)
    link = next(word for word in question.body.split() if word.startswith("http"))
    page = client.get(_path(link))
    assert page.status_code == 200
    assert 'name="rating"' in page.content.decode()
    response = client.post(_path(link), {"rating": "5", "comment": "Quick and <b>kind</b>"})
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    email_survey.refresh_from_db()
    assert (email_survey.rating, email_survey.comment) == (5, "Quick and <b>kind</b>")
    # Answered once: a second post changes nothing.
    client.post(_path(link), {"rating": "1"})
    email_survey.refresh_from_db()
    assert email_survey.rating == 5
    recorder.refresh()
    today = timezone.localdate()
    rows = selectors.breakdown(selectors.Filters(start=today, end=today), "agent")
    assert [(row["id"], row["csat_average"]) for row in rows] == [(agent.pk, 5)]


def test_email_survey_link_refuses_bad_ratings_forgeries_and_old_links(
    client: Client, email_survey: CSATResponse
) -> None:
    link = _path(csat.survey_link(email_survey))
    response = client.post(link, {"rating": "9"})
    assert response.status_code == 400
    assert "from 1 to 5" in response.content.decode()
    assert client.get(link[:-3] + "xx/").status_code == 404
    assert client.get("/analytics/csat/not-a-token/").status_code == 404
    with time_machine.travel(timezone.now() + timedelta(days=15)):
        assert client.get(link).status_code == 404
    email_survey.refresh_from_db()
    assert email_survey.rating is None


# --- Web chat: inline in the widget -------------------------------------------------------------

ORIGIN = "https://www.example.com"


def _widget(client: Client, inbox: Any, what: str, data: dict[str, Any]) -> Any:
    return client.post(
        f"/channels/webchat/{inbox.webhook_token}/{what}/",
        json.dumps(data),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )


def test_widget_asks_and_records_the_rating(client: Client, inbox: Any, agent: Any) -> None:
    cache.clear()
    token = _widget(client, inbox, "session", {}).json()["token"]
    assert _widget(client, inbox, "messages", {"token": token, "body": "Hello"}).status_code == 201
    conversation = Message.objects.get(body="Hello").conversation
    assert _widget(client, inbox, "survey", {"token": token}).json() == {"survey": None}
    reply(conversation, agent)
    resolve(conversation, agent)
    survey = csat.survey_send(resolution_event_id=_resolution(conversation).pk)
    assert survey is not None
    asked = _widget(client, inbox, "survey", {"token": token}).json()["survey"]
    assert asked["id"] == survey.pk
    bad = _widget(client, inbox, "survey", {"token": token, "survey": survey.pk, "rating": 0})
    assert bad.status_code == 400
    answered = _widget(client, inbox, "survey", {"token": token, "survey": survey.pk, "rating": 3, "comment": "ok"})
    assert answered.status_code == 200
    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == (3, "ok")
    again = _widget(client, inbox, "survey", {"token": token, "survey": survey.pk, "rating": 5})
    assert again.status_code == 404
    # Another visitor cannot see or answer it.
    stranger = _widget(client, inbox, "session", {}).json()["token"]
    assert _widget(client, inbox, "survey", {"token": stranger}).json() == {"survey": None}


def test_rating_counts_on_its_day_for_the_resolver(resolved_sms: Any, agent: Any) -> None:
    survey = csat.survey_send(resolution_event_id=_resolution(resolved_sms).pk)
    assert survey is not None
    csat.survey_answer(survey=survey, rating=2, comment="slow")
    recorder.refresh()
    today = timezone.localdate()
    metrics = selectors.metric_values(selectors.totals(selectors.Filters(start=today, end=today)))
    assert (metrics["csat_average"], metrics["csat_score"], metrics["csat_responses"]) == (2, 0.0, 1)


def test_old_resolutions_are_not_surveyed_late(resolved_sms: Any) -> None:
    resolution = _resolution(resolved_sms)
    with time_machine.travel(resolution.created_at + csat.ASK_WITHIN + timedelta(seconds=1)):
        assert csat.survey_send(resolution_event_id=resolution.pk) is None
    with time_machine.travel(resolution.created_at + csat.ASK_WITHIN - timedelta(seconds=1)):
        assert csat.survey_send(resolution_event_id=resolution.pk) is not None
