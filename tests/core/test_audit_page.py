"""The compliance audit page, its export, and the recording of refused access."""

import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection, transaction
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from servicecharter.accounts import permissions as perms
from servicecharter.accounts.scoping import get_in_scope_or_404
from servicecharter.core.audit import REFUSED, AuditAccessMiddleware, audit_record
from servicecharter.core.models import AuditEntry
from servicecharter.org.models import Department

AUDIT = reverse("core:audit")
VERIFY = reverse("core:audit_verify")
EXPORT = reverse("core:audit_export")


@pytest.fixture
def officer_client(client, compliance_officer):
    client.force_login(compliance_officer)
    return client


def _refusals():
    return AuditEntry.objects.filter(action=REFUSED).order_by("seq")


# --- who may see it ---


@pytest.mark.parametrize("persona", ["bj_supervisor", "admin_user", "stranger"])
def test_only_compliance_may_see_the_trail(db, client, persona, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    for response in (client.get(AUDIT), client.get(EXPORT), client.post(VERIFY)):
        assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="audit.export").exists()


def test_a_visitor_is_sent_to_sign_in(client, tree):
    response = client.get(AUDIT)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_a_403_is_recorded_with_who_and_from_where(client, bj_supervisor):
    client.force_login(bj_supervisor)
    client.get(AUDIT, REMOTE_ADDR="10.1.2.3", HTTP_X_REQUEST_ID="probe-1")
    refusal = _refusals().last()
    assert refusal.actor_id == bj_supervisor.pk and refusal.actor_label == "bj.supervisor"
    assert (refusal.ip, refusal.request_id) == ("10.1.2.3", "probe-1")
    assert refusal.changes == {"reason": "forbidden", "method": "GET", "path": AUDIT}


def test_the_menu_shows_the_trail_to_compliance_only(client, compliance_officer, bj_supervisor):
    client.force_login(compliance_officer)
    assert AUDIT in client.get(reverse("home")).content.decode()
    client.force_login(bj_supervisor)
    assert AUDIT not in client.get(reverse("home")).content.decode()


# --- the list ---


def test_changes_show_as_before_and_after(officer_client):
    audit_record(
        action="staff.update",
        object_type="org.staff",
        object_id="42",
        object_repr="Li Lei",
        changes={"grade": ["P3", "P4"], "status": [None, "active"]},
    )
    page = officer_client.get(AUDIT).content.decode()
    assert "Li Lei" in page and "org.staff:42" in page
    assert '<span class="before">P3</span> → <span class="after">P4</span>' in page
    assert '<span class="before">—</span> → <span class="after">active</span>' in page


def test_filters_narrow_the_rows(officer_client, compliance_officer):
    with time_machine.travel(datetime(2026, 3, 1, 2, tzinfo=UTC), tick=False):
        audit_record(action="staff.update", object_type="org.staff", object_id="1")
    with time_machine.travel(datetime(2026, 3, 5, 2, tzinfo=UTC), tick=False):
        audit_record(action="staff.create", object_type="org.staff", object_id="2")
        audit_record(action="product.update", object_type="org.product", object_id="2")

    def shown(**params):
        entries = officer_client.get(AUDIT, params).context["entries"]
        return [(e.action, e.object_id) for e in entries]

    assert shown(action="staff.") == [("staff.create", "2"), ("staff.update", "1")]
    assert shown(action="staff.update") == [("staff.update", "1")]
    assert shown(object_type="org.product") == [("product.update", "2")]
    assert shown(object_type="org.staff", object_id="2") == [("staff.create", "2")]
    # Days in the institution's zone (Asia/Shanghai): 2026-03-05 10:00 local.
    assert shown(date_from="2026-03-02", date_to="2026-03-05", action="staff.") == [
        ("staff.create", "2")
    ]
    assert shown(date_to="2026-03-01", action="staff.") == [("staff.update", "1")]
    assert shown(actor="system", object_type="org.product") == [("product.update", "2")]
    assert shown(actor="nobody") == []
    assert shown(actor=str(compliance_officer.pk), action="staff.") == []


def test_a_bad_filter_is_explained_and_shows_nothing_filtered(officer_client):
    response = officer_client.get(AUDIT, {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert response.status_code == 200
    assert "The end date is before the start date." in response.content.decode()
    response = officer_client.get(AUDIT, {"date_from": "yesterday"})
    assert response.context["form"].errors["date_from"]


def test_the_list_costs_the_same_queries_for_few_or_many_rows(officer_client):
    officer_client.get(AUDIT)  # warm the session

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert officer_client.get(AUDIT).status_code == 200
        return len(captured)

    few = queries_for_page()
    for i in range(120):
        audit_record(action="staff.update", object_id=str(i), changes={"grade": [i, i + 1]})
    assert queries_for_page() == few


def test_pages_follow_the_chain_backwards_and_forwards(officer_client):
    for i in range(120):
        audit_record(action="bulk.test", object_id=str(i))
    first = officer_client.get(AUDIT, {"action": "bulk.test"})
    seqs = [e.seq for e in first.context["entries"]]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    assert first.context["has_older"] and not first.context["has_newer"]
    second = officer_client.get(AUDIT, {"action": "bulk.test", "before": seqs[-1]})
    second_seqs = [e.seq for e in second.context["entries"]]
    assert second_seqs[0] == seqs[-1] - 1 and second.context["has_newer"]
    third = officer_client.get(AUDIT, {"action": "bulk.test", "before": second_seqs[-1]})
    assert len(third.context["entries"]) == 20 and not third.context["has_older"]
    back = officer_client.get(AUDIT, {"action": "bulk.test", "after": second_seqs[0]})
    assert [e.seq for e in back.context["entries"]] == seqs
    assert f"before={seqs[-1]}" in first.content.decode()


# --- verify and export ---


def test_verify_shows_an_intact_chain_and_is_recorded(officer_client):
    audit_record(action="staff.update", object_id="1")
    response = officer_client.post(VERIFY, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "is intact" in body
    recorded = AuditEntry.objects.filter(action="audit.verify").get()
    assert recorded.changes["intact"] is True
    assert officer_client.get(VERIFY).status_code == 405


def test_verify_names_the_first_broken_link(officer_client):
    entries = [audit_record(action="staff.update", object_id=str(i)) for i in range(3)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM core_auditentry WHERE seq = %s", [entries[1].seq])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditentry ENABLE TRIGGER USER")
    body = officer_client.post(VERIFY).content.decode()
    assert "Broken" in body and f"#{entries[1].seq} is missing" in body


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_export_gives_the_filtered_rows_and_is_recorded(officer_client, compliance_officer):
    audit_record(action="staff.update", object_id="7", changes={"name": ["=1+1", "王芳"]})
    audit_record(action="product.update", object_id="8", object_repr="@SUM(A1)")
    response = officer_client.get(EXPORT, {"action": "product.update"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header[:5] == ["Sequence", "Time (UTC)", "Actor id", "Actor", "Action"]
    assert [row[4] for row in rows] == ["product.update"]
    assert rows[0][7] == "'@SUM(A1)"  # a formula is neutralised
    export = AuditEntry.objects.filter(action="audit.export").get()
    assert export.actor_id == compliance_officer.pk
    assert export.changes == {"filters": {"action": "product.update"}}
    everything = _csv(officer_client.get(EXPORT))[1:]
    staff_row = next(row for row in everything if row[4] == "staff.update")
    assert '"王芳"' in staff_row[8]


def test_export_refuses_bad_filters(officer_client):
    response = officer_client.get(EXPORT, {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action="audit.export").exists()


# --- guessing ids outside one's scope ---


def test_guessing_an_id_outside_the_scope_is_recorded(tree, bj_supervisor):
    shanghai = tree["sh"]
    with pytest.raises(Http404):
        get_in_scope_or_404(
            Department.objects.all(), bj_supervisor, perms.VIEW_ORG, "", pk=shanghai.pk
        )
    refusal = _refusals().get()
    assert (refusal.object_type, refusal.object_id) == ("org.department", str(shanghai.pk))
    assert refusal.changes == {"reason": "out_of_scope", "capability": perms.VIEW_ORG}


def test_a_missing_row_or_an_allowed_one_records_nothing(tree, bj_supervisor):
    with pytest.raises(Http404):
        get_in_scope_or_404(Department.objects.all(), bj_supervisor, perms.VIEW_ORG, "", pk=999999)
    assert (
        get_in_scope_or_404(
            Department.objects.all(), bj_supervisor, perms.VIEW_ORG, "", pk=tree["bj_team"].pk
        )
        == tree["bj_team"]
    )
    assert not _refusals().exists()


def test_a_guessed_id_on_a_page_answers_404_and_is_recorded(client, tree, bj_supervisor):
    client.force_login(bj_supervisor)
    response = client.get(reverse("org:department_detail", args=[tree["sh"].pk]))
    assert response.status_code == 404
    refusal = _refusals().get()
    assert refusal.actor_id == bj_supervisor.pk and refusal.object_id == str(tree["sh"].pk)


def test_a_refusal_inside_a_failed_transaction_survives_it(tree, bj_supervisor):
    """A service that looks the row up inside its transaction fails with 404: the transaction
    rolls back, yet the refusal is written once the response is on its way."""

    def view(request):
        try:
            with transaction.atomic():
                audit_record(action="staff.update", object_id="never")
                get_in_scope_or_404(
                    Department.objects.all(), bj_supervisor, perms.VIEW_ORG, "", pk=tree["sh"].pk
                )
        except Http404:
            assert not _refusals().exists()  # not yet: it would have been rolled back
            return HttpResponse(status=404)

    response = AuditAccessMiddleware(view)(RequestFactory().get("/org/departments/x/"))
    assert response.status_code == 404
    assert _refusals().count() == 1
    assert not AuditEntry.objects.filter(object_id="never").exists()
