"""Case exports: the rows of the filtered list in the caller's scope, every page of them, in
CSV and XLSX; contacts masked without EXPORT_PII; every export audited."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from servicecharter.cases import services
from servicecharter.cases.choices import CaseState
from servicecharter.core.models import AuditEntry


@pytest.fixture
def cases(new_case, tree, bj_agent):
    open_case = new_case(
        subject='=HYPERLINK("http://x")',
        contact_email="li.lei@example.com",
        contact_phone="13812345678",
    )
    answered = services.case_start(actor=bj_agent, case=new_case(subject="answered"))
    services.case_respond(actor=bj_agent, case=answered, outcome="upheld", response_text="Done.")
    shanghai = new_case(subject="shanghai", department=tree["sh_team"], handler=None)
    return {"open": open_case, "answered": answered, "shanghai": shanghai}


def _csv(client, **params) -> list[dict]:
    response = client.get(reverse("core:export", args=["cases", "csv"]), params)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_a_supervisor_exports_the_filtered_cases_of_their_branch(client, bj_supervisor, cases):
    client.force_login(bj_supervisor)
    rows = _csv(client, state="open")
    assert [row["reference"] for row in rows] == [cases["open"].reference]
    row = rows[0]
    assert row["state"] == CaseState.RECEIVED and row["queue"] == "BJ-T1"
    assert row["handler"] == "bj.agent" and row["profile"] == "cn_banking_insurance"
    # Spreadsheets must not run the subject as a formula.
    assert row["subject"].startswith("'=HYPERLINK")
    everything = {row["reference"] for row in _csv(client)}
    assert everything == {cases["open"].reference, cases["answered"].reference}


def test_contacts_are_masked_without_export_pii(client, bj_supervisor, cases):
    client.force_login(bj_supervisor)
    row = _csv(client, state="open")[0]
    assert row["contact_email"] == "l*****@example.com"
    assert row["contact_phone"] == "138****5678"


def test_compliance_exports_contacts_in_full(client, compliance_officer, cases):
    client.force_login(compliance_officer)
    rows = {row["reference"]: row for row in _csv(client)}
    assert set(rows) == {case.reference for case in cases.values()}
    full = rows[cases["open"].reference]
    assert full["contact_email"] == "li.lei@example.com"
    assert full["contact_phone"] == "13812345678"


def test_every_export_is_audited_with_its_rows_and_filters(client, bj_supervisor, cases):
    client.force_login(bj_supervisor)
    _csv(client, state="open", channel="phone")
    entry = AuditEntry.objects.get(action="export.cases")
    assert entry.changes["rows"] == 1
    assert entry.changes["personal_data_in_full"] is False
    assert entry.changes["filters"] == {"state": "open", "channel": "phone"}


def test_my_cases_export_holds_only_mine(client, bj_agent, bj_supervisor, new_case, cases):
    new_case(handler=bj_supervisor, subject="the supervisor's")
    client.force_login(bj_supervisor)
    rows = _csv(client, mine="1")
    assert [row["subject"] for row in rows] == ["the supervisor's"]


def test_xlsx_has_the_same_rows(client, bj_supervisor, cases):
    client.force_login(bj_supervisor)
    response = client.get(reverse("core:export", args=["cases", "xlsx"]), {"state": "open"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "reference"
    assert [row[0] for row in rows[1:]] == [cases["open"].reference]
    header = list(rows[0])
    assert rows[1][header.index("contact_phone")] == "138****5678"


def test_chinese_headers_for_a_chinese_reader(client, bj_supervisor, cases):
    bj_supervisor.language = "zh-hans"
    bj_supervisor.save(update_fields=["language"])
    client.force_login(bj_supervisor)
    response = client.get(reverse("core:export", args=["cases", "csv"]))
    header = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.startswith("编号,类型,渠道,状态")


def test_an_agent_may_not_export(client, bj_agent, cases):
    client.force_login(bj_agent)
    response = client.get(reverse("core:export", args=["cases", "csv"]))
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="export.cases").exists()


def test_the_queue_links_to_the_export_with_its_filters(client, bj_supervisor, cases):
    client.force_login(bj_supervisor)
    html = client.get(reverse("cases:queue"), {"state": "open", "page": "2"}).content.decode()
    assert reverse("core:export", args=["cases", "csv"]) + "?state=open" in html
    assert "page=2" not in html.split("core/exports")[1].split('"')[0]
