"""The dead-letter page (administrators only) and /healthz."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.utils import OperationalError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.navigation import menu_for
from servicecharter.core.choices import DeliveryState
from servicecharter.core.models import AuditEntry, Event, EventDelivery, WorkerHeartbeat


def _sign_in(client, user) -> None:
    """Sign in as ``user``; roles that need a second factor count as enrolled."""
    if user.totp_confirmed_at is None:
        user.totp_confirmed_at = timezone.now()
        user.save(update_fields=["totp_confirmed_at"])
    client.force_login(user)


def _dead_delivery(state=DeliveryState.DEAD) -> EventDelivery:
    event = Event.objects.create(name="case.deadline_breached", payload={"case": 1})
    return EventDelivery.objects.create(
        event=event,
        subscriber="discipline.open_violation",
        state=state,
        attempts=8,
        last_error="Traceback …\nValueError: no rulebook in force",
        next_attempt_at=timezone.now(),
    )


def test_an_administrator_sees_dead_deliveries_with_their_error(client, admin_user):
    delivery = _dead_delivery()
    _dead_delivery(state=DeliveryState.DELIVERED)
    _sign_in(client, admin_user)

    response = client.get(reverse("core:events_dead"))

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [delivery]
    html = response.content.decode()
    assert "discipline.open_violation" in html
    assert "no rulebook in force" in html
    assert reverse("core:events_retry", args=[delivery.pk]) in html
    assert "core:events_dead" in {item.url_name for item in menu_for(admin_user)}


@pytest.mark.parametrize("persona", ["bj_supervisor", "compliance_officer", "stranger"])
def test_anyone_else_is_refused(client, db, request, persona):
    delivery = _dead_delivery()
    user = request.getfixturevalue(persona)
    _sign_in(client, user)

    assert client.get(reverse("core:events_dead")).status_code == 403
    assert client.post(reverse("core:events_retry", args=[delivery.pk])).status_code == 403
    assert client.post(reverse("core:events_retry_all")).status_code == 403
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DEAD
    assert "core:events_dead" not in {item.url_name for item in menu_for(user)}


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client, db):
    response = client.get(reverse("core:events_dead"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_the_list_costs_the_same_queries_for_one_or_many_rows(client, admin_user):
    _sign_in(client, admin_user)
    _dead_delivery()
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("core:events_dead"))
    for _ in range(5):
        _dead_delivery()
    with CaptureQueriesContext(connection) as six:
        response = client.get(reverse("core:events_dead"))
    assert len(response.context["page"].object_list) == 6
    assert len(six) == len(one)


def test_retry_with_htmx_replaces_the_row_and_is_audited(client, admin_user):
    delivery = _dead_delivery()
    _sign_in(client, admin_user)

    response = client.post(
        reverse("core:events_retry", args=[delivery.pk]), headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="delivery-{delivery.pk}"')
    assert "queued again" in html
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 0)
    entry = AuditEntry.objects.get(action="event_delivery.retry")
    assert entry.actor_id == admin_user.pk


def test_retrying_a_delivery_that_is_not_dead_says_why_and_changes_nothing(client, admin_user):
    delivery = _dead_delivery(state=DeliveryState.DELIVERED)
    _sign_in(client, admin_user)

    response = client.post(
        reverse("core:events_retry", args=[delivery.pk]), headers={"HX-Request": "true"}
    )
    assert "not in the dead-letter list" in response.content.decode()

    response = client.post(reverse("core:events_retry", args=[999999]), follow=True)
    assert "There is no event delivery with the id 999999." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert not AuditEntry.objects.filter(action__startswith="event_delivery.").exists()


def test_retry_all_without_htmx_comes_back_to_an_empty_list(client, admin_user):
    _dead_delivery(), _dead_delivery()
    _sign_in(client, admin_user)

    response = client.post(reverse("core:events_retry_all"), follow=True)

    assert response.status_code == 200
    assert "2 deliveries are queued again." in response.content.decode()
    assert list(response.context["page"].object_list) == []


def test_retry_refuses_get(client, admin_user):
    delivery = _dead_delivery()
    _sign_in(client, admin_user)
    assert client.get(reverse("core:events_retry", args=[delivery.pk])).status_code == 405


# /healthz


def test_healthz_without_a_worker_is_up_but_degraded(client, db):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["worker"]["status"] == "missing"
    assert body["worker"]["last_seen_seconds"] is None


def _beat(worker_id: str, seen_at) -> None:
    WorkerHeartbeat.objects.create(worker_id=worker_id, started_at=seen_at, seen_at=seen_at)


def test_healthz_reports_the_freshest_heartbeat(client, db, settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 120
    now = timezone.now()
    _beat("old", now - timedelta(minutes=30))
    _beat("fresh", now - timedelta(seconds=3))

    with time_machine.travel(now, tick=False):
        body = client.get(reverse("healthz")).json()

    assert body["status"] == "ok"
    assert body["worker"] == {
        "status": "ok",
        "last_seen_seconds": 3.0,
        "active": 1,
        "stale_after_seconds": 120,
    }


def test_healthz_calls_a_silent_worker_stale(client, db, settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 120
    now = timezone.now()
    _beat("w1", now)

    with time_machine.travel(now + timedelta(seconds=121), tick=False):
        response = client.get(reverse("healthz"))

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["worker"]["status"]) == ("degraded", "stale")
    assert body["worker"]["last_seen_seconds"] == 121.0
    assert body["worker"]["active"] == 0


def test_healthz_answers_503_when_the_database_is_down(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get(reverse("healthz"))

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("error", "error")
    assert body["worker"]["status"] == "unknown"
