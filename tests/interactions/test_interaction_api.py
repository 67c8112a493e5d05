"""Interactions over JSON: bulk ingest (idempotent, per-row errors by index, all or nothing
unless skip_invalid), the scoped list walked by cursor, one interaction with its deviations."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.accounts.tokens import token_create
from servicecharter.interactions.models import Interaction
from servicecharter.interactions.services import interaction_ingest_many
from tests.conftest import make_user
from tests.interactions.conftest import row

SCOPES = ["interactions:read", "interactions:write"]
JSON = "application/json"
BULK = "/api/interactions/bulk"


def bearer(user, scopes=SCOPES) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=scopes, lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


def call(number: int, employee="E10001", **overrides) -> dict:
    body = {
        "external_system": "ivr",
        "external_id": f"call-{number}",
        "channel": "phone",
        "employee_number": employee,
        "business_type": "B03",
        "started_at": "2025-06-02T09:30:00+08:00",
        "wait_seconds": 12,
        "handle_seconds": 240,
        "outcome": "served",
        "steps": [
            {"step": "greeting", "at": 3},
            {"step": "identify", "at": 30},
            {"step": "fee_disclosure", "at": 90},
        ],
    }
    return {**body, **overrides}


@pytest.fixture
def ingest_headers(ingester):
    return bearer(ingester)


@pytest.fixture
def ready(bj_staff, sh_staff, card_version):
    return card_version


def test_a_bulk_post_stores_every_row_and_says_which_it_created(client, ingest_headers, ready):
    body = [call(1), call(2, steps=[{"step": "greeting", "at": 15}])]

    response = client.post(BULK, body, content_type=JSON, headers=ingest_headers)

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["created"], data["existing"], data["rejected"]) == (2, 0, 0)
    assert data["deviations"] == 3
    assert [item["index"] for item in data["items"]] == [0, 1]
    stored = Interaction.objects.get(pk=data["items"][0]["id"])
    assert stored.standard_version == ready and stored.staff.employee_number == "E10001"
    assert stored.started_at == timezone.datetime.fromisoformat("2025-06-02T09:30:00+08:00")


def test_sending_the_same_batch_again_changes_nothing(client, ingest_headers, ready):
    first = client.post(BULK, [call(1), call(2)], content_type=JSON, headers=ingest_headers)
    again = client.post(
        BULK, [call(1, wait_seconds=999), call(2)], content_type=JSON, headers=ingest_headers
    )

    assert again.status_code == 200
    data = again.json()
    assert (data["created"], data["existing"]) == (0, 2)
    assert [i["id"] for i in data["items"]] == [i["id"] for i in first.json()["items"]]
    assert not any(item["created"] for item in data["items"])
    assert Interaction.objects.get(external_id="call-1").wait_seconds == 12


def test_a_bad_row_refuses_the_whole_batch_with_its_index(client, ingest_headers, ready):
    body = [
        call(1),
        call(2, employee="NOBODY"),
        call(3, channel="pigeon"),
        call(4, steps=[{"step": "greeting", "at": 300}]),
    ]

    response = client.post(BULK, body, content_type=JSON, headers=ingest_headers)

    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "validation_error"
    assert [row["index"] for row in data["rows"]] == [1, 2, 3]
    assert "NOBODY" in data["fields"]["1.employee_number"][0]
    assert "2.channel" in data["fields"]
    assert "300" in data["fields"]["3.steps"][0]
    assert not Interaction.objects.exists()


def test_skip_invalid_stores_the_good_rows_and_lists_the_bad(client, ingest_headers, ready):
    body = [call(1), call(2, employee="NOBODY"), {"external_id": ""}]

    response = client.post(
        f"{BULK}?skip_invalid=true", body, content_type=JSON, headers=ingest_headers
    )

    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["rejected"]) == (1, 2)
    assert [error["index"] for error in data["errors"]] == [1, 2]
    assert "channel" in data["errors"][1]["fields"]
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["call-1"]


def test_it_refuses_rows_outside_the_ingester_scope(client, tree, ready):
    beijing_feed = make_user("bj.feed", Role.ADMIN, tree["bj"])

    response = client.post(
        BULK, [call(1), call(2, employee="E20001")], content_type=JSON, headers=bearer(beijing_feed)
    )

    assert response.status_code == 422
    assert [row["index"] for row in response.json()["rows"]] == [1]
    assert not Interaction.objects.exists()


def test_it_refuses_a_caller_who_may_not_ingest(client, bj_supervisor, ready):
    response = client.post(BULK, [call(1)], content_type=JSON, headers=bearer(bj_supervisor))

    assert response.status_code == 403
    assert not Interaction.objects.exists()


def test_it_refuses_a_token_without_the_write_scope(client, ingester, ready):
    headers = bearer(ingester, ["interactions:read"])

    response = client.post(BULK, [call(1)], content_type=JSON, headers=headers)

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_it_refuses_more_rows_than_the_limit(client, ingest_headers, ready):
    response = client.post(
        BULK, [call(n) for n in range(1001)], content_type=JSON, headers=ingest_headers
    )

    assert response.status_code == 422
    assert not Interaction.objects.exists()


# Reading ------------------------------------------------------------------------------------


@pytest.fixture
def stored(ingester, bj_staff, sh_staff, ready, business_types):
    cards = business_types["cards"].pk
    result = interaction_ingest_many(
        [
            row(bj_staff, 1, business_type_id=cards),
            row(bj_staff, 2, business_type_id=cards, steps=[]),
            row(sh_staff, 3, business_type_id=cards),
        ],
        actor=ingester,
    )
    return result.ids


def test_one_interaction_comes_with_its_deviations_and_the_version(
    client, bj_supervisor, stored, ready
):
    response = client.get(f"/api/interactions/{stored[1]}", headers=bearer(bj_supervisor))

    assert response.status_code == 200
    data = response.json()
    assert data["standard"] == "CARD-PHONE v1" and data["standard_version_id"] == ready.pk
    assert data["deviation_count"] == 3
    assert {(d["kind"], d["step_code"]) for d in data["deviations"]} == {
        ("missed_step", "greeting"),
        ("missed_step", "identify"),
        ("missed_disclosure", "fee_disclosure"),
    }
    assert {d["step_name"] for d in data["deviations"]} == {
        "Greeting",
        "Identify",
        "Fee Disclosure",
    }


def test_a_shanghai_supervisor_cannot_read_a_beijing_interaction(client, sh_supervisor, stored):
    response = client.get(f"/api/interactions/{stored[0]}", headers=bearer(sh_supervisor))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_list_holds_only_the_scope_and_walks_by_cursor(client, bj_supervisor, stored):
    headers = bearer(bj_supervisor)

    first = client.get("/api/interactions/", {"limit": 1}, headers=headers).json()
    second = client.get(first["next"], headers=headers).json()

    assert [item["id"] for item in first["items"] + second["items"]] == [stored[1], stored[0]]
    assert second["next"] is None


def test_the_list_filters_by_deviations_and_staff(client, bj_supervisor, stored):
    headers = bearer(bj_supervisor)

    with_deviations = client.get(
        "/api/interactions/", {"with_deviations": "true"}, headers=headers
    ).json()
    by_staff = client.get("/api/interactions/", {"employee_number": "E10001"}, headers=headers)

    assert [item["id"] for item in with_deviations["items"]] == [stored[1]]
    assert len(by_staff.json()["items"]) == 2


def test_the_list_costs_the_same_queries_for_more_rows(
    client, bj_supervisor, ingester, bj_staff, stored
):
    headers = bearer(bj_supervisor)
    client.get("/api/interactions/", headers=headers)  # the token's first use is recorded
    with CaptureQueriesContext(connection) as few:
        client.get("/api/interactions/", headers=headers)
    interaction_ingest_many([row(bj_staff, n) for n in range(10, 40)], actor=ingester)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/api/interactions/", headers=headers)
    assert len(response.json()["items"]) == 32
    assert len(many.captured_queries) == len(few.captured_queries)


def test_reading_needs_the_read_scope(client, bj_supervisor, stored):
    headers = bearer(bj_supervisor, ["interactions:write"])

    assert client.get("/api/interactions/", headers=headers).status_code == 403
