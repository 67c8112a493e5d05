"""Cases over JSON: idempotent intake from channel systems, scoped lists walked by cursor, the
case with its clocks and timeline, every workflow action, and what each refuses."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from servicecharter.accounts.choices import Role
from servicecharter.accounts.tokens import token_create
from servicecharter.cases import services
from servicecharter.cases.choices import CaseKind, CaseState, MessageDirection, Severity
from servicecharter.cases.models import Case, Message
from servicecharter.cases.selectors import case_for_tracking
from servicecharter.cases.workflow import TransitionRefused, target_of
from servicecharter.org.choices import Channel
from servicecharter.org.models import Staff
from servicecharter.org.services import business_type_create, customer_create, product_create
from tests.conftest import make_user

CASE_SCOPES = ["cases:read", "cases:write"]
JSON = "application/json"


def bearer(user, scopes=CASE_SCOPES) -> dict:
    issued = token_create(actor=user, owner=user, name="t", scopes=scopes, lifetime_days=30)
    return {"Authorization": f"Bearer {issued.secret}"}


def post(client, path, body, headers):
    return client.post(path, body, content_type=JSON, headers=headers)


def chat_case(**overrides) -> dict:
    body = {
        "external_system": "webchat",
        "external_id": "chat-1001",
        "kind": "complaint",
        "channel": "chat",
        "subject": "App transfer failed",
        "description": "The transfer failed but the money left my account.",
        "contact_name": "Han Meimei",
        "contact_email": "han.meimei@example.com",
        "contact_phone": "13812345678",
    }
    return {**body, **overrides}


@pytest.fixture
def bj_headers(bj_supervisor):
    return bearer(bj_supervisor)


@pytest.fixture
def agent_headers(bj_agent):
    return bearer(bj_agent)


@pytest.fixture
def bj_customer(tree):
    return customer_create(
        customer_number="C-BJ-1",
        name="Li Lei",
        home_department=tree["bj_team"],
        segment="retail",
        phone="13900001111",
    )


@pytest.fixture
def card(db):
    cards = business_type_create(code="CARD", name_en="Cards", name_zh="信用卡")
    return product_create(
        code="CARD-GOLD", name_en="Gold card", name_zh="金卡", business_type=cards
    )


# Intake -------------------------------------------------------------------------------------


def test_the_same_chat_case_posted_twice_is_one_case(client, bj_headers):
    first = post(client, "/api/cases/", chat_case(), bj_headers)
    again = post(client, "/api/cases/", chat_case(), bj_headers)
    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert Case.objects.filter(external_system="webchat", external_id="chat-1001").count() == 1
    # The tracking code is shown once, and it opens the case on the public pages.
    code = first.headers["Tracking-Code"]
    assert "Tracking-Code" not in again.headers
    assert (
        case_for_tracking(reference=first.json()["reference"], code=code).pk == first.json()["id"]
    )


def test_the_same_external_id_from_another_system_is_another_case(client, bj_headers):
    first = post(client, "/api/cases/", chat_case(), bj_headers)
    other = post(client, "/api/cases/", chat_case(external_system="weibo"), bj_headers)
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]


def test_posts_without_an_external_id_are_separate_cases(client, bj_headers):
    body = chat_case(external_system="", external_id="")
    ids = {post(client, "/api/cases/", body, bj_headers).json()["id"] for _ in range(2)}
    assert len(ids) == 2


def test_a_new_case_lands_in_the_callers_queue_with_masked_contacts(client, bj_headers, tree):
    body = post(client, "/api/cases/", chat_case(), bj_headers).json()
    assert body["department_code"] == "BJ"
    assert body["state"] == "received"
    assert body["contact_phone"] == "138****5678"
    assert body["contact_email"].startswith("h") and "meimei" not in body["contact_email"]
    assert body["contact_email"].endswith("@example.com")
    assert [clock["state"] for clock in body["clocks"]] and body["due_at"] is not None
    assert [entry["kind"] for entry in body["timeline"]] == ["created"]


def test_a_customer_is_found_by_number_within_the_scope(client, bj_headers, bj_customer, card):
    body = chat_case(customer_number="C-BJ-1", contact_name="", product=card.pk)
    response = post(client, "/api/cases/", body, bj_headers)
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.customer == bj_customer and case.product == card
    assert case.department.code == "BJ-T1"  # the customer's home branch
    assert response.json()["customer_number"] == "C-BJ-1"


def test_a_customer_outside_the_scope_is_unknown(client, sh_supervisor, bj_customer):
    response = post(
        client, "/api/cases/", chat_case(customer_number="C-BJ-1"), bearer(sh_supervisor)
    )
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["customer_number"]
    assert not Case.objects.exists()


def test_a_case_needs_a_customer_or_a_name(client, bj_headers):
    response = post(client, "/api/cases/", chat_case(contact_name=""), bj_headers)
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["contact_name"]


def test_bad_values_are_field_errors_and_nothing_is_saved(client, bj_headers):
    body = chat_case(kind="rant", subject="x" * 201, money_at_stake="-5")
    response = post(client, "/api/cases/", body, bj_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["fields"]) == {"kind", "subject", "money_at_stake"}
    assert not Case.objects.exists()


def test_a_queue_outside_the_scope_is_refused(client, bj_headers, tree):
    response = post(client, "/api/cases/", chat_case(department=tree["sh"].pk), bj_headers)
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["department"]
    assert not Case.objects.exists()


def test_an_external_id_taken_in_another_branch_says_no_more_than_conflict(
    client, bj_headers, sh_supervisor
):
    post(client, "/api/cases/", chat_case(), bj_headers)
    response = post(client, "/api/cases/", chat_case(), bearer(sh_supervisor))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "reference" not in response.json()
    assert Case.objects.count() == 1


# Scope and token scopes -----------------------------------------------------------------------


def test_a_shanghai_supervisor_never_sees_a_beijing_case(client, new_case, sh_supervisor):
    case = new_case()
    headers = bearer(sh_supervisor)
    for path in (f"/api/cases/{case.pk}", f"/api/cases/{case.reference}", "/api/cases/999999"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    refused = post(client, f"/api/cases/{case.pk}/acknowledge", {}, headers)
    assert refused.status_code == 404
    assert client.get("/api/cases/", headers=headers).json()["items"] == []
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED


def test_a_viewer_who_may_not_handle_is_forbidden_to_act(client, new_case, compliance_officer):
    case = new_case()
    headers = bearer(compliance_officer)
    assert client.get(f"/api/cases/{case.pk}", headers=headers).status_code == 200
    response = post(client, f"/api/cases/{case.pk}/acknowledge", {}, headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_token_needs_the_case_scopes(client, new_case, bj_supervisor):
    case = new_case()
    org_only = bearer(bj_supervisor, scopes=["org:read"])
    response = client.get("/api/cases/", headers=org_only)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    read_only = bearer(bj_supervisor, scopes=["cases:read"])
    assert client.get(f"/api/cases/{case.pk}", headers=read_only).status_code == 200
    for path, body in (
        (f"/api/cases/{case.pk}/acknowledge", {}),
        ("/api/cases/", chat_case()),
    ):
        response = post(client, path, body, read_only)
        assert response.status_code == 403, path
        assert response.json()["code"] == "insufficient_scope"
    assert Case.objects.count() == 1


def test_a_user_without_case_roles_is_refused(client, tree):
    hr = make_user("hr", Role.HR, tree["head"])
    assert client.get("/api/cases/", headers=bearer(hr)).status_code == 403
    assert post(client, "/api/cases/", chat_case(), bearer(hr)).status_code == 403


def test_the_browser_session_works_with_csrf(client, new_case, bj_supervisor):
    case = new_case()
    client.force_login(bj_supervisor)
    assert client.get(f"/api/cases/{case.reference}").status_code == 200


# Lists --------------------------------------------------------------------------------------


def _refs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["reference"] for row in response.json()["items"]]


def test_filters(client, new_case, bj_supervisor, bj_agent, card, tree):
    now = timezone.now()
    old = new_case(subject="Old", received_at=now - timedelta(days=40))
    chat = new_case(channel=Channel.CHAT, product=card, handler=None)
    praise = new_case(kind=CaseKind.PRAISE, subject="Thank you")
    social = new_case(channel=Channel.SOCIAL, money_at_stake=200_000)
    closed = services.case_withdraw(actor=bj_agent, case=new_case(subject="Withdrawn"))
    services.sweep_deadlines()
    headers = bearer(bj_supervisor)

    def refs(query: str) -> set[str]:
        return set(_refs(client.get(f"/api/cases/?{query}", headers=headers)))

    assert refs("state=open") == {old.reference, chat.reference, praise.reference, social.reference}
    assert refs("state=closed") == {closed.reference}
    assert refs("channel=chat") == {chat.reference}
    assert refs("kind=praise") == {praise.reference}
    assert refs(f"product={card.pk}") == {chat.reference}
    assert Case.objects.get(pk=social.pk).severity != Severity.LOW
    assert refs(f"severity={Case.objects.get(pk=social.pk).severity}") == {social.reference}
    handled = {old.reference, praise.reference, social.reference, closed.reference}
    assert refs(f"handler={bj_agent.pk}") == handled  # the chat case has no handler yet
    assert refs("due=overdue") == {old.reference}
    assert refs("due=breached") == {old.reference}
    assert refs(f"department={tree['sh'].pk}") == set()
    assert refs(f"department={tree['bj_team'].pk}") == refs("")
    assert refs("q=Thank") == {praise.reference}
    Case.objects.filter(pk=praise.pk).update(updated_at=now + timedelta(minutes=5))
    since = (now + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert refs(f"updated_since={since}") == {praise.reference}


def test_unknown_filter_values_are_field_errors(client, bj_headers):
    response = client.get("/api/cases/?state=lost&due=someday", headers=bj_headers)
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"state", "due"}
    response = client.get("/api/cases/?cursor=bm9wZQ", headers=bj_headers)
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["cursor"]


def test_walking_the_cursor_returns_every_case_once(client, new_case, bj_headers, tree):
    made = [new_case(subject=f"Case {i}").reference for i in range(7)]
    new_case(department=tree["sh_team"])  # not in scope: never listed
    seen, url = [], "/api/cases/?limit=3&state=open"
    pages = 0
    while url:
        response = client.get(url, headers=bj_headers)
        seen += _refs(response)
        url = response.json()["next"]
        pages += 1
        assert "state=open" in (url or "state=open")  # the filters ride along
    assert pages == 3
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert seen == list(reversed(made))  # newest first


def _queries(client, path, headers) -> int:
    client.get(path, headers=headers)  # warm: marks the token used, loads calendars
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, response.content
    return len(captured)


def test_the_list_costs_the_same_queries_whatever_its_length(client, new_case, bj_headers, card):
    new_case()
    few = _queries(client, "/api/cases/?state=open", bj_headers)
    for i in range(12):
        new_case(subject=f"More {i}", product=card, channel=Channel.SOCIAL)
    assert _queries(client, "/api/cases/?state=open", bj_headers) == few
    # token, the caller's grants, one page: no count, no query per row
    assert few == 3


def test_the_case_costs_the_same_queries_whatever_its_history(client, new_case, bj_headers):
    case = new_case()
    path = f"/api/cases/{case.pk}"
    few = _queries(client, path, bj_headers)
    for i in range(5):
        services.case_add_message(
            actor=case.handler, case=case, body=f"Note {i}", direction=MessageDirection.INTERNAL
        )
    services.case_extend(actor=case.handler, case=case, level="complex", note="Many accounts")
    assert _queries(client, path, bj_headers) == few


# The case -----------------------------------------------------------------------------------


def test_the_case_by_id_or_reference_with_clocks_timeline_and_messages(
    client, new_case, bj_agent, bj_headers
):
    case = new_case(contact_phone="13512345678")
    services.case_add_message(
        actor=bj_agent, case=case, body="Called the branch", direction=MessageDirection.INTERNAL
    )
    by_id = client.get(f"/api/cases/{case.pk}", headers=bj_headers).json()
    by_reference = client.get(f"/api/cases/{case.reference.lower()}", headers=bj_headers).json()
    assert by_id == by_reference
    assert by_id["contact_phone"] == "135****5678"
    clock = by_id["clocks"][0]
    assert clock["state"] == "running" and clock["due_at"]
    assert [m["body"] for m in by_id["messages"]] == ["Called the branch"]
    assert by_id["messages"][0]["internal"] is True
    assert [entry["kind"] for entry in by_id["timeline"]] == ["created", "note"]
    assert by_id["actions"] == ["acknowledge", "start", "withdraw", "merge"]


# Actions ------------------------------------------------------------------------------------


def act(client, case, action, headers, body=None):
    return post(client, f"/api/cases/{case.pk}/{action}", body or {}, headers)


def test_a_complaint_through_its_workflow(client, new_case, agent_headers, tree):
    staff = Staff.objects.create(
        employee_number="E1",
        name="Wang",
        department=tree["bj_team"],
        base_wage=8000,
        hire_date="2020-01-01",
    )
    case = new_case()
    steps = [
        ("acknowledge", {"note": "Received by phone"}, "acknowledged"),
        ("start", None, "in_progress"),
        ("await-customer", {"note": "Asked for the statement"}, "awaiting_customer"),
        ("customer-replied", None, "in_progress"),
        ("escalate", {"target": "internal", "note": "Needs the card centre"}, "escalated"),
        (
            "respond",
            {
                "outcome": "upheld",
                "response_text": "We refunded the second fee.",
                "redress_amount": "120.00",
                "staff_involved": [staff.pk],
                "concerns_attitude": True,
            },
            "responded",
        ),
        ("reopen", {"reason": "The refund did not arrive"}, "reopened"),
        ("respond", {"outcome": "upheld", "response_text": "Refund sent again."}, "responded"),
        ("close", {"note": "Customer satisfied"}, "closed"),
    ]
    for action, body, state in steps:
        response = act(client, case, action, agent_headers, body)
        assert response.status_code == 200, (action, response.content)
        assert response.json()["state"] == state, action
    final = response.json()
    assert final["outcome"] == "upheld" and final["closed_at"]
    transitions = [e for e in final["timeline"] if e["kind"] == "transition"]
    assert len(transitions) == len(steps)
    assert [m["direction"] for m in final["messages"]] == ["to_customer", "to_customer"]


def test_withdraw_and_merge_close_the_case(client, new_case, agent_headers):
    withdrawn = act(client, new_case(), "withdraw", agent_headers, {"note": "By phone"}).json()
    assert (withdrawn["state"], withdrawn["outcome"]) == ("closed", "withdrawn")
    earlier, repeat = new_case(), new_case()
    merged = act(client, repeat, "merge", agent_headers, {"into": earlier.reference}).json()
    assert (merged["state"], merged["outcome"]) == ("closed", "merged")
    assert merged["merged_into_id"] == earlier.pk


def test_merging_into_a_case_out_of_reach_is_a_field_error(client, new_case, agent_headers, tree):
    shanghai = new_case(department=tree["sh_team"])
    case = new_case()
    response = act(client, case, "merge", agent_headers, {"into": shanghai.reference})
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["into"]


def test_clock_actions(client, new_case, agent_headers):
    case = new_case()
    due = Case.objects.get(pk=case.pk).due_at
    extended = act(
        client, case, "extend", agent_headers, {"level": "complex", "note": "Many accounts"}
    )
    assert extended.status_code == 200, extended.content
    assert extended.json()["extension_level"] == "complex"
    assert extended.json()["due_at"] > due.isoformat().replace("+00:00", "Z")
    paused = act(
        client,
        case,
        "pause",
        agent_headers,
        {"reason": "external_appraisal", "note": "Sent to the card network"},
    )
    assert paused.status_code == 200, paused.content
    assert paused.json()["clocks"][0]["state"] == "paused"
    resumed = act(client, case, "resume", agent_headers)
    assert resumed.json()["clocks"][0]["state"] == "running"
    restarted = act(client, case, "new-facts", agent_headers, {"note": "A second charge"})
    assert restarted.status_code == 200
    kinds = [entry["kind"] for entry in restarted.json()["timeline"]]
    assert kinds[-4:] == ["extended", "paused", "resumed", "new_facts"]


def test_assign_a_handler_in_the_queue(client, new_case, bj_supervisor, agent_headers, tree):
    case = new_case(handler=None)
    other = make_user("bj.agent2", Role.AGENT, tree["bj_team"])
    shanghai = make_user("sh.agent", Role.AGENT, tree["sh_team"])
    headers = bearer(bj_supervisor)
    assigned = act(client, case, "assign", headers, {"handler": other.pk})
    assert assigned.status_code == 200
    assert assigned.json()["handler_id"] == other.pk
    refused = act(client, case, "assign", headers, {"handler": shanghai.pk})
    assert refused.status_code == 422
    assert list(refused.json()["fields"]) == ["handler"]
    # An agent handles cases but does not assign them.
    assert act(client, case, "assign", agent_headers, {"handler": None}).status_code == 403
    assert act(client, case, "assign", headers, {"handler": None}).json()["handler_id"] is None


def test_messages_notes_and_what_the_customer_sent(client, new_case, agent_headers, bj_agent):
    case = new_case()
    for direction in ("to_customer", "internal", "from_customer"):
        body = {"body": f"A {direction} message", "direction": direction}
        response = act(client, case, "messages", agent_headers, body)
        assert response.status_code == 201, response.content
        assert response.json()["direction"] == direction
    messages = list(Message.objects.filter(case=case).order_by("pk"))
    assert [m.author for m in messages] == [bj_agent, bj_agent, None]
    empty = act(client, case, "messages", agent_headers, {"body": " ", "direction": "internal"})
    assert empty.status_code == 422
    assert list(empty.json()["fields"]) == ["body"]


def test_a_refused_transition_is_a_conflict_in_the_callers_language(
    client, new_case, agent_headers
):
    case = new_case()
    with translation.override("zh-hans"), pytest.raises(TransitionRefused) as refusal:
        target_of("close", CaseState.RECEIVED)
    response = act(client, case, "close", {**agent_headers, "Accept-Language": "zh-hans"})
    assert response.status_code == 409
    assert response.json() == {
        "code": "transition_refused",
        "message": str(refusal.value),
        "fields": {},
    }
    case.refresh_from_db()
    assert case.state == CaseState.RECEIVED
    assert case.timeline.count() == 1


def test_an_extension_without_its_approval_is_a_deadline_conflict(client, new_case, agent_headers):
    case = new_case()
    act(client, case, "extend", agent_headers, {"level": "complex", "note": "Many accounts"})
    response = act(
        client,
        case,
        "extend",
        agent_headers,
        {"level": "especially_complex", "note": "Forensic audit"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "deadline_rule"
    assert response.json()["message"]
    assert Case.objects.get(pk=case.pk).extension_level == "complex"


def test_a_response_without_text_is_a_field_error(client, new_case, agent_headers):
    case = new_case()
    act(client, case, "start", agent_headers)
    response = act(
        client, case, "respond", agent_headers, {"outcome": "answered", "response_text": ""}
    )
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"outcome", "response_text"}
    assert Case.objects.get(pk=case.pk).state == CaseState.IN_PROGRESS


# The schema ---------------------------------------------------------------------------------


def test_every_operation_is_in_the_openapi_schema(client):
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/cases/"])
    assert "get" in paths["/api/cases/{key}"]
    for action in (
        "acknowledge", "start", "await-customer", "customer-replied", "escalate", "respond",
        "close", "reopen", "withdraw", "merge", "extend", "pause", "resume", "new-facts",
        "assign", "messages",
    ):  # fmt: skip
        operation = paths[f"/api/cases/{{key}}/{action}"]["post"]
        assert "409" in operation["responses"] or action == "messages", action
    schemas = spec["components"]["schemas"]
    assert {"CaseIn", "CaseDetail", "CasePage", "RespondIn", "ErrorOut"} <= set(schemas)
