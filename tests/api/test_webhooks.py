"""Outbound webhooks: signed, sent after commit, retried with backoff, logged, redeliverable.

Every send goes to a real HTTP server started by the test on 127.0.0.1, which records what it
received and answers with scripted status codes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.db import transaction
from rest_framework.test import APIClient

from conversations import services, webhook_delivery, webhooks
from conversations.models import DeliveryOutcome, WebhookDelivery
from conversations.tasks import deliver_webhook, sweep_webhook_deliveries
from tests import factories as f

# --- A real receiver ----------------------------------------------------------------------------


class Receiver:
    """An HTTP server on a free loopback port that records each POST and answers as scripted."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self.delay_seconds = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"scripted {status}".encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/inbox"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = True  # the receiver is on loopback
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def subscription(db: Any, receiver: Receiver, supervisor: Any) -> Any:
    return f.WebhookSubscriptionFactory(url=receiver.url, event_types=["message.created"], created_by=supervisor)


def _customer_writes(inbox: Any, body: str = "Where is my order?") -> Any:
    return services.message_receive_inbound(
        inbox=inbox, identity_kind="web_visitor", identity_value="visitor-1", body=body, contact_name="Carol"
    ).message


def _verifies(request: dict[str, Any], secret: str) -> bool:
    return webhook_delivery.verify_signature(
        secret=secret, header=request["headers"]["X-Inbox-Signature"], body=request["body"]
    )


# --- Signing ------------------------------------------------------------------------------------


def test_signature_verifies_only_the_exact_body_with_the_right_secret_while_fresh() -> None:
    body = b'{"id":"evt1"}'
    now = int(time.time())
    header = webhook_delivery.signature_header("s3cret", now, body)
    assert header.startswith(f"t={now},v1=")
    assert webhook_delivery.verify_signature(secret="s3cret", header=header, body=body)
    assert not webhook_delivery.verify_signature(secret="other", header=header, body=body)
    assert not webhook_delivery.verify_signature(secret="s3cret", header=header, body=body + b" ")
    assert not webhook_delivery.verify_signature(secret="s3cret", header=header, body=body, now=now + 301)
    assert not webhook_delivery.verify_signature(secret="s3cret", header="v1=abc", body=body)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert webhook_delivery.sign("key", 1700000000, b"{}") == expected


# --- Sending after commit -----------------------------------------------------------------------


def test_new_message_is_posted_signed_after_commit(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    with committed():
        message = _customer_writes(inbox)
        assert receiver.requests == []  # nothing leaves before the commit

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/hooks/inbox"
    assert _verifies(request, subscription.secret)
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Inbox-Event"] == "message.created"
    timestamp = int(headers["X-Inbox-Timestamp"])
    assert headers["X-Inbox-Signature"].startswith(f"t={timestamp},v1=")
    assert abs(timestamp - time.time()) < 60

    payload = json.loads(request["body"])
    assert set(payload) == {"id", "type", "created_at", "data"}
    assert payload["type"] == "message.created"
    assert headers["X-Inbox-Delivery"] == payload["id"]
    assert payload["data"]["message"]["id"] == message.pk
    assert payload["data"]["message"]["body"] == "Where is my order?"
    assert payload["data"]["message"]["direction"] == "in"

    delivery = WebhookDelivery.objects.get()
    assert delivery.event_id == payload["id"]
    assert delivery.outcome == DeliveryOutcome.DELIVERED
    assert delivery.attempts == 1
    assert delivery.status_code == 200
    assert delivery.duration_ms is not None
    assert delivery.next_attempt_at is None
    assert delivery.last_error == ""


def test_only_subscribed_event_types_are_sent(inbox: Any, receiver: Receiver, committed: Any) -> None:
    f.WebhookSubscriptionFactory(url=receiver.url, event_types=["conversation.created", "contact.created"])
    with committed():
        _customer_writes(inbox)
    assert sorted(p["type"] for p in receiver.payloads()) == ["contact.created", "conversation.created"]


def test_inactive_subscription_gets_nothing(inbox: Any, receiver: Receiver, committed: Any) -> None:
    f.WebhookSubscriptionFactory(url=receiver.url, event_types=["message.created"], is_active=False)
    with committed():
        _customer_writes(inbox)
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


def test_rolled_back_change_creates_and_sends_nothing(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        _customer_writes(inbox)
        assert WebhookDelivery.objects.count() == 1  # written in the same transaction...
        raise RuntimeError("something later in the request fails")
    assert not WebhookDelivery.objects.exists()  # ...and gone with it
    assert receiver.requests == []


# --- Retries ------------------------------------------------------------------------------------


def test_server_error_is_retried_after_backoff_then_delivered(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    receiver.statuses = [500, 200]
    with committed():
        _customer_writes(inbox)

    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 1
    assert delivery.outcome == DeliveryOutcome.RETRYING
    assert delivery.attempts == 1
    assert delivery.status_code == 500
    assert "HTTP 500" in delivery.last_error
    assert delivery.last_attempt_at is not None and delivery.next_attempt_at is not None
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=10)

    assert sweep_webhook_deliveries() == 0  # not due yet
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        assert sweep_webhook_deliveries() == 1

    delivery.refresh_from_db()
    assert delivery.outcome == DeliveryOutcome.DELIVERED
    assert delivery.attempts == 2
    assert delivery.status_code == 200
    assert delivery.last_error == ""
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["X-Inbox-Delivery"] == second["headers"]["X-Inbox-Delivery"]
    assert _verifies(second, subscription.secret)


def test_backoff_grows_and_the_sixth_failure_fails_the_delivery(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    receiver.default_status = 503
    with committed():
        _customer_writes(inbox)

    waits = []
    delivery = WebhookDelivery.objects.get()
    while delivery.outcome == DeliveryOutcome.RETRYING:
        assert delivery.next_attempt_at is not None and delivery.last_attempt_at is not None
        waits.append(delivery.next_attempt_at - delivery.last_attempt_at)
        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
            sweep_webhook_deliveries()
        delivery.refresh_from_db()

    assert waits == [
        timedelta(seconds=10),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
    ]
    assert delivery.outcome == DeliveryOutcome.FAILED
    assert delivery.attempts == webhooks.MAX_ATTEMPTS == 6
    assert delivery.next_attempt_at is None
    assert len(receiver.requests) == 6


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, DeliveryOutcome.FAILED),
        (404, DeliveryOutcome.FAILED),
        (410, DeliveryOutcome.FAILED),
        (408, DeliveryOutcome.RETRYING),
        (429, DeliveryOutcome.RETRYING),
        (502, DeliveryOutcome.RETRYING),
    ],
)
def test_client_errors_are_permanent_except_timeout_and_rate_limit(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any, status: int, outcome: str
) -> None:
    receiver.statuses = [status]
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.attempts, delivery.status_code) == (outcome, 1, status)
    assert len(receiver.requests) == 1


def test_redirect_is_not_followed(inbox: Any, subscription: Any, receiver: Receiver, committed: Any) -> None:
    receiver.statuses = [301]
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.FAILED
    assert "redirects are not followed" in delivery.last_error
    assert [r["path"] for r in receiver.requests] == ["/hooks/inbox"]


def test_slow_receiver_times_out_and_is_retried(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any, settings: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.delay_seconds = 1.0
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.RETRYING
    assert delivery.status_code is None
    assert "no answer within 0.3 s" in delivery.last_error


def test_refused_connection_is_retried(inbox: Any, receiver: Receiver, committed: Any) -> None:
    url = receiver.url
    receiver.stop()  # nobody listens on that port any more
    f.WebhookSubscriptionFactory(url=url, event_types=["message.created"])
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.RETRYING
    assert "Connection" in delivery.last_error or "refused" in delivery.last_error


def test_private_destinations_are_refused_when_not_allowed(
    inbox: Any, subscription: Any, receiver: Receiver, committed: Any, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.FAILED
    assert "non-public address" in delivery.last_error
    assert receiver.requests == []


def test_delivery_whose_task_was_lost_is_sent_by_the_sweep(
    inbox: Any, subscription: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    # The commit happens but its enqueue never reaches a worker (e.g. the broker restarted).
    with django_capture_on_commit_callbacks(execute=False):
        _customer_writes(inbox)
    assert receiver.requests == []

    assert sweep_webhook_deliveries() == 1
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().outcome == DeliveryOutcome.DELIVERED


def test_a_delivery_in_flight_is_not_taken_twice(
    inbox: Any, subscription: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    claimed = webhooks.delivery_claim(delivery_id=delivery.pk)
    assert claimed is not None and claimed.attempt == 1
    assert webhooks.delivery_claim(delivery_id=delivery.pk) is None
    assert sweep_webhook_deliveries() == 0  # leased while in flight
    deliver_webhook(delivery.pk)  # a duplicate task changes nothing
    assert WebhookDelivery.objects.get().attempts == 0


def test_disabling_a_subscription_stops_its_pending_deliveries(
    inbox: Any, subscription: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        _customer_writes(inbox)
    webhooks.subscription_update(subscription=subscription, actor=None, is_active=False)
    sweep_webhook_deliveries()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.FAILED
    assert delivery.last_error == "The subscription is disabled."
    assert receiver.requests == []


# --- The API: subscriptions -------------------------------------------------------------------


def _client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def test_supervisor_creates_a_subscription_and_sees_its_secret(supervisor: Any, receiver: Receiver) -> None:
    response = _client(supervisor).post(
        "/api/v1/webhooks/",
        {"url": receiver.url, "event_types": ["message.created", "conversation.status_changed"], "description": "CRM"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"] == receiver.url
    assert body["event_types"] == ["message.created", "conversation.status_changed"]
    assert len(body["secret"]) >= 32
    assert body["created_by"] == supervisor.pk

    listed = _client(supervisor).get("/api/v1/webhooks/").json()
    assert [s["id"] for s in listed["results"]] == [body["id"]]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"url": "https://hooks.example.com/x", "event_types": ["message.exploded"]}, "event_types"),
        ({"url": "https://hooks.example.com/x", "event_types": []}, "event_types"),
        ({"url": "ftp://hooks.example.com/x", "event_types": ["message.created"]}, "url"),
        ({"url": "not a url", "event_types": ["message.created"]}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x", "event_types": ["message.created"]}, "url"),
    ],
)
def test_bad_subscription_is_a_400_naming_the_field(supervisor: Any, data: dict[str, Any], field: str) -> None:
    response = _client(supervisor).post("/api/v1/webhooks/", data, format="json")
    assert response.status_code == 400
    assert field in json.dumps(response.json())


def test_private_address_subscription_refused_when_not_allowed(supervisor: Any, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_DESTINATIONS = False
    response = _client(supervisor).post(
        "/api/v1/webhooks/", {"url": "http://10.0.0.8/hook", "event_types": ["message.created"]}, format="json"
    )
    assert response.status_code == 400
    assert "public" in json.dumps(response.json())


def test_supervisor_updates_and_deletes_a_subscription(supervisor: Any, subscription: Any) -> None:
    client = _client(supervisor)
    response = client.patch(f"/api/v1/webhooks/{subscription.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.is_active is False
    assert client.delete(f"/api/v1/webhooks/{subscription.pk}/").status_code == 204
    assert client.get(f"/api/v1/webhooks/{subscription.pk}/").status_code == 404


def test_secret_cannot_be_set_through_the_api(supervisor: Any, subscription: Any) -> None:
    old = subscription.secret
    _client(supervisor).patch(f"/api/v1/webhooks/{subscription.pk}/", {"secret": "mine"}, format="json")
    subscription.refresh_from_db()
    assert subscription.secret == old


@pytest.mark.parametrize("who", ["agent", "outsider"])
def test_agents_cannot_list_create_or_see_subscriptions(request: Any, who: str, subscription: Any) -> None:
    client = _client(request.getfixturevalue(who))
    assert client.get("/api/v1/webhooks/").status_code == 403
    created = client.post("/api/v1/webhooks/", {"url": "https://x.example.com/", "event_types": ["message.created"]})
    assert created.status_code == 403
    assert client.get(f"/api/v1/webhooks/{subscription.pk}/").status_code == 404
    assert client.patch(f"/api/v1/webhooks/{subscription.pk}/", {"is_active": False}).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{subscription.pk}/").status_code == 404
    subscription.refresh_from_db()
    assert subscription.is_active


def test_anonymous_is_refused(subscription: Any) -> None:
    assert _client(None).get("/api/v1/webhooks/").status_code in (401, 403)
    assert _client(None).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/").status_code in (401, 403)


# --- The API: delivery log and redelivery -------------------------------------------------------


def test_delivery_log_shows_attempts_status_error_and_duration(
    supervisor: Any, inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    receiver.statuses = [500]
    with committed():
        _customer_writes(inbox)
    response = _client(supervisor).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["outcome"] == "retrying"
    assert row["attempts"] == 1
    assert row["status_code"] == 500
    assert "HTTP 500" in row["last_error"]
    assert row["duration_ms"] is not None
    assert row["next_attempt_at"] is not None
    assert "payload" not in row

    detail = _client(supervisor).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/{row['id']}/").json()
    assert detail["payload"]["type"] == "message.created"

    filtered = _client(supervisor).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/?outcome=delivered")
    assert filtered.json()["results"] == []
    bad = _client(supervisor).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/?outcome=exploded")
    assert bad.status_code == 400


def test_delivery_of_another_subscription_is_404(supervisor: Any, subscription: Any) -> None:
    other = f.WebhookDeliveryFactory()
    response = _client(supervisor).get(f"/api/v1/webhooks/{subscription.pk}/deliveries/{other.pk}/")
    assert response.status_code == 404


def test_redeliver_sends_a_failed_delivery_again_with_a_fresh_schedule(
    supervisor: Any, inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    receiver.statuses = [400]
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == DeliveryOutcome.FAILED

    with committed():
        response = _client(supervisor).post(f"/api/v1/webhooks/{subscription.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.outcome == DeliveryOutcome.DELIVERED
    assert delivery.attempts == 1
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    assert _verifies(receiver.requests[1], subscription.secret)


def test_redeliver_makes_a_waiting_retry_due_now(
    supervisor: Any, inbox: Any, subscription: Any, receiver: Receiver, committed: Any
) -> None:
    receiver.statuses = [503]
    with committed():
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    with committed():
        webhooks.delivery_redeliver(delivery=delivery, actor=supervisor)
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.attempts) == (DeliveryOutcome.DELIVERED, 2)


def test_redeliver_on_a_disabled_subscription_is_a_400(supervisor: Any, subscription: Any) -> None:
    delivery = f.WebhookDeliveryFactory(subscription=subscription, outcome=DeliveryOutcome.FAILED)
    subscription.is_active = False
    subscription.save()
    response = _client(supervisor).post(f"/api/v1/webhooks/{subscription.pk}/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 400
    assert "disabled" in json.dumps(response.json())


@pytest.mark.parametrize("who", ["agent", "outsider"])
def test_agents_cannot_see_or_redeliver_deliveries(
    request: Any, who: str, subscription: Any, receiver: Receiver
) -> None:
    delivery = f.WebhookDeliveryFactory(subscription=subscription, outcome=DeliveryOutcome.FAILED)
    client = _client(request.getfixturevalue(who))
    base = f"/api/v1/webhooks/{subscription.pk}/deliveries/"
    assert client.get(base).status_code == 403
    assert client.get(f"{base}{delivery.pk}/").status_code == 404
    assert client.post(f"{base}{delivery.pk}/redeliver/").status_code == 404
    delivery.refresh_from_db()
    assert delivery.outcome == DeliveryOutcome.FAILED
    assert receiver.requests == []


def test_redelivery_before_the_first_attempt_is_not_sent_twice(
    supervisor: Any, inbox: Any, subscription: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        _customer_writes(inbox)
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.delivery_redeliver(delivery=delivery, actor=supervisor)
    deliver_webhook(delivery.pk)  # the original task arrives late
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.attempts) == (DeliveryOutcome.DELIVERED, 1)
