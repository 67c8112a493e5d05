"""Case imports: the CFPB export format and the native format, idempotent by complaint id,
every bad row reported by its line, all or nothing, scoped to the importer's queues."""

import csv
import gc
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from servicecharter.accounts.choices import Role
from servicecharter.cases import services, taxonomy
from servicecharter.cases.choices import CaseState, Outcome, TimelineKind
from servicecharter.cases.imports import CfpbCaseImporter
from servicecharter.cases.models import Case, Category, RoutingRule, TimelineEntry
from servicecharter.core.audit import verify_chain
from servicecharter.core.imports import error_message
from servicecharter.core.models import AuditEntry, Event, ImportJob
from servicecharter.core.progress import progress_get
from servicecharter.core.services.imports import (
    import_job_create,
    import_job_run,
    import_kinds_for,
    progress_token,
)
from servicecharter.demo.cases import data_file
from servicecharter.org.catalogue import load_catalogue
from servicecharter.org.services import customer_create
from tests.cases.conftest import bulk_case
from tests.conftest import make_user

NEW_YORK = ZoneInfo("America/New_York")

# Eight rows of ../shared/data/cfpb_complaints_sample.csv, verbatim: one of each kind of
# company response, and each way a complaint reaches the CFPB that matters here.
CFPB_SAMPLE = """\
Date received,Product,Sub-product,Issue,Sub-issue,Consumer complaint narrative,Company public response,Company,State,ZIP code,Tags,Consumer consent provided?,Submitted via,Date sent to company,Company response to consumer,Timely response?,Consumer disputed?,Complaint ID,source
2015-04-22,Debt collection,"Other (i.e. phone, health club, etc.)",Disclosure verification of debt,Right to dispute notice not received,"This complaint arises out of a dispute I sent the collection agency after finding out inaccuracies in my credit report. To date, they have not sent a response to validate the debt.",,"Credit Protection Association, L.P.",DC,20013,,Consent provided,Web,2015-04-29,Closed,No,No,1342794,ZiyuYan9/consumer_complaints:complaints_sample.csv
2015-12-31,Bank account or service,Checking account,"Making/receiving payments, sending money",,,,FIRSTBANK PUERTO RICO,PR,902,Older American,N/A,Referral,2016-02-04,Closed with explanation,Yes,No,1723943,ZiyuYan9/consumer_complaints:complaints_sample.csv
2019-01-15,Mortgage,Other type of mortgage,Trouble during payment process,,,Company has responded to the consumer and the CFPB and chooses not to provide a public response,WELLS FARGO & COMPANY,GA,30344,Servicemember,N/A,Fax,2019-01-15,Closed with explanation,Yes,N/A,3125459,ZiyuYan9/consumer_complaints:complaints_sample.csv
2023-04-15,"Payday loan, title loan, or personal loan",Installment loan,Charged fees or interest you didn't expect,,My payment is not due until next billing cycle as evidenced by the screen shots included but they are saying my bill is past due.,,"American First Finance, Inc.",CA,92345,,Consent provided,Web,2023-04-28,Closed with monetary relief,Yes,N/A,6845190,SeunnnA/Predatory_Lending:data/processed/complaints(small sample)-2025-04-25_15_02.csv
2019-03-14,"Credit reporting, credit repair services, or other personal consumer reports",Credit reporting,Incorrect information on your report,Information belongs to someone else,Identity theft.,Company has responded to the consumer and the CFPB and chooses not to provide a public response,Experian Information Solutions Inc.,NY,,,Consent provided,Web,2019-03-14,Closed with non-monetary relief,Yes,N/A,3180230,ZiyuYan9/consumer_complaints:complaints_sample.csv
2020-01-30,Debt collection,Credit card debt,Took or threatened to take negative or legal action,Sued you without properly notifying you of lawsuit,,,ENCORE CAPITAL GROUP INC.,OH,45424,Servicemember,,Web,2020-01-30,In progress,Yes,N/A,3514461,ZiyuYan9/consumer_complaints:complaints_sample.csv
2023-03-07,"Payday loan, title loan, or personal loan",Installment loan,Problem with additional add-on products or services,,This account was open as fraud. I was not the one who open this account,,"Mobiloans, LLC",MI,48507,,Consent provided,Web,2023-03-07,Untimely response,No,N/A,6652617,SeunnnA/Predatory_Lending:data/processed/complaints(small sample)-2025-04-25_15_02.csv
2019-05-29,"Credit reporting, credit repair services, or other personal consumer reports",Credit reporting,Incorrect information on your report,Information belongs to someone else,SENT FTC VIOLATION,,"SELLING SOURCE, LLC",TX,775XX,,Consent provided,Web,2019-05-29,Closed with explanation,Yes,N/A,3256629,ZiyuYan9/consumer_complaints:complaints_sample.csv
"""
CFPB_HEADER = CFPB_SAMPLE.splitlines()[0]

NATIVE_HEADER = (
    "external_id,kind,channel,received_at,subject,description,queue,handler,state,outcome,"
    "money_at_stake,product,customer_number,responded_at\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def run_import(django_capture_on_commit_callbacks):
    """Upload a file as ``user`` and run the job to its end (inline or queued alike)."""

    def run(user, content, *, name="cases.csv", kind="cases_cfpb", skip=False) -> ImportJob:
        if isinstance(content, str):
            content = content.encode("utf-8")
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job_create(
                user=user, kind=kind, upload=SimpleUploadedFile(name, content), skip_bad_rows=skip
            )
        import_job_run(job_id=job.pk)  # does nothing when it already ran inline
        job.refresh_from_db()
        return job

    return run


@pytest.fixture
def bj_officer(tree):
    return make_user("bj.complaints", Role.COMPLAINTS_OFFICER, tree["bj"])


def reasons(job) -> list[tuple[int, str, str]]:
    return [(e["line"], e["column"], e["code"]) for e in job.errors]


def cfpb_rows(*rows: str) -> str:
    return CFPB_HEADER + "\n" + "\n".join(rows) + "\n"


def sample_line(complaint_id: str) -> str:
    return next(line for line in CFPB_SAMPLE.splitlines() if f",{complaint_id}," in line)


def midnight_in_new_york(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=NEW_YORK)


# --- the CFPB format --------------------------------------------------------------------------


def test_cfpb_rows_become_us_complaints_with_their_state_outcome_and_channel(
    tree, complaints_officer, run_import
):
    job = run_import(complaints_officer, CFPB_SAMPLE)

    assert job.state == "done", job.errors
    assert job.rows_imported == 8
    cases = {case.external_id: case for case in Case.objects.all()}
    assert set(cases) == {
        "1342794", "1723943", "3125459", "6845190", "3180230", "3514461", "6652617", "3256629",
    }  # fmt: skip
    summary = {key: (case.channel, case.state, case.outcome) for key, case in cases.items()}
    assert summary == {
        "1342794": ("app", "closed", "not_upheld"),
        "1723943": ("regulator", "closed", "not_upheld"),
        "3125459": ("letter", "closed", "not_upheld"),
        "6845190": ("app", "closed", "upheld"),
        "3180230": ("app", "closed", "partly_upheld"),
        "3514461": ("app", "in_progress", ""),
        "6652617": ("app", "in_progress", ""),
        "3256629": ("app", "closed", "not_upheld"),
    }
    for case in cases.values():
        assert (case.external_system, case.kind, case.jurisdiction) == ("cfpb", "complaint", "US")
        assert (case.profile_key, case.language, case.currency) == ("us_cfpb", "en", "USD")
        assert case.department == tree["head"]  # the top of the importer's scope
        assert case.reference == services.reference_for(case.pk, case.received_at)
        assert case.tracking_digest == ""  # nobody could be told a code
        assert case.responded_at is None and case.closed_at is None  # the export does not say

    mortgage = cases["3125459"]
    assert mortgage.received_at == midnight_in_new_york("2019-01-15")
    assert mortgage.subject == "Trouble during payment process"
    assert (
        mortgage.description == "Mortgage › Other type of mortgage › Trouble during payment process"
    )
    assert mortgage.category.code == taxonomy.cfpb_issue_code(
        "Mortgage", "Trouble during payment process"
    )
    debt = cases["1342794"]
    assert debt.subject == "Disclosure verification of debt — Right to dispute notice not received"
    assert debt.description.startswith("This complaint arises out of a dispute")
    assert debt.customer_accepted is True  # "Consumer disputed?" No
    assert cases["3256629"].customer_accepted is None  # N/A
    # An older American referred by another agency: vulnerable and a regulator referral.
    referral = cases["1723943"]
    assert referral.severity == "high"
    assert {reason["code"] for reason in referral.severity_reasons} == {"vulnerable", "regulator"}
    assert cases["3256629"].severity == "low"


def test_deadlines_of_imported_complaints_and_the_breaches_before_the_import(
    tree, complaints_officer, run_import
):
    run_import(complaints_officer, CFPB_SAMPLE)
    cases = {case.external_id: case for case in Case.objects.all()}

    # Open since 2020: due fifteen days after receipt, breached then, recorded not announced.
    open_case = cases["3514461"]
    due = midnight_in_new_york("2020-02-14")
    assert (open_case.due_at, open_case.breached_at) == (due, due)
    assert open_case.warned_at == open_case.warn_at
    assert open_case.warn_at == open_case.received_at + (due - open_case.received_at) * 0.75
    breached = TimelineEntry.objects.get(case=open_case, kind=TimelineKind.BREACHED)
    assert breached.at == due and breached.data["imported"] is True
    # Closed late ("Timely response?" No): breached at the due instant, no deadline left.
    late = cases["1342794"]
    assert (late.due_at, late.breached_at) == (None, midnight_in_new_york("2015-05-07"))
    # Closed in time: no breach.
    assert cases["3256629"].breached_at is None and cases["3256629"].due_at is None
    assert Case.objects.filter(breached_at__isnull=False).count() == 3
    # The sweep has nothing left to do for them, and nothing was emitted.
    assert services.sweep_deadlines() == {"warned": 0, "breached": 0}
    assert not Event.objects.exists()


def test_each_imported_case_has_one_received_row_and_each_batch_one_audit_row(
    tree, complaints_officer, run_import
):
    job = run_import(complaints_officer, CFPB_SAMPLE)

    created = TimelineEntry.objects.filter(kind=TimelineKind.CREATED)
    assert created.count() == 8
    row = created.get(case__external_id="6845190")
    assert (row.actor, row.to_state) == (complaints_officer, CaseState.CLOSED)
    assert row.at == row.case.received_at
    assert row.data == {"channel": "app", "imported_from": "cfpb"}
    batch = AuditEntry.objects.get(action="case.import")
    assert sorted(batch.changes["created"]) == sorted(
        Case.objects.values_list("reference", flat=True)
    )
    summary = AuditEntry.objects.get(action="import.cases_cfpb")
    assert summary.changes["created"] == 8 and summary.object_id == str(job.pk)
    assert verify_chain().intact


def test_importing_the_same_file_again_changes_nothing(tree, complaints_officer, run_import):
    run_import(complaints_officer, CFPB_SAMPLE)
    # Work goes on here after the import: the open complaint is answered.
    answered = services.case_respond(
        actor=complaints_officer,
        case=Case.objects.get(external_id="3514461"),
        outcome=Outcome.NOT_UPHELD,
        response_text="We reviewed the lawsuit notice.",
    )
    before = list(Case.objects.order_by("pk").values())
    timeline = TimelineEntry.objects.count()

    again = run_import(complaints_officer, CFPB_SAMPLE)

    assert again.state == "done"
    assert list(Case.objects.order_by("pk").values()) == before
    assert TimelineEntry.objects.count() == timeline
    answered.refresh_from_db()
    assert answered.state == CaseState.RESPONDED
    summary = AuditEntry.objects.filter(action="import.cases_cfpb").latest("seq")
    assert summary.changes["created"] == 0
    assert AuditEntry.objects.filter(action="case.import").count() == 1


def test_the_whole_cfpb_sample_imports_without_an_error(tree, complaints_officer, run_import):
    path = data_file("cfpb_complaints_sample.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        expected = Counter(row["Company response to consumer"] for row in csv.DictReader(handle))

    job = run_import(complaints_officer, path.read_bytes())

    assert job.state == "done", job.errors[:5]
    assert job.rows_imported == Case.objects.count() == 7_166
    states = Counter(Case.objects.values_list("state", "outcome"))
    assert states[("in_progress", "")] == expected["In progress"] + expected["Untimely response"]
    assert states[("closed", "upheld")] == expected["Closed with monetary relief"]
    assert states[("closed", "partly_upheld")] == expected["Closed with non-monetary relief"]
    assert not Case.objects.filter(category__isnull=True).exists()  # the taxonomy knows them all


def test_a_routing_rule_or_the_queue_column_chooses_the_queue(tree, complaints_officer, run_import):
    RoutingRule.objects.create(name="Referrals", channel="regulator", department=tree["sh_team"])
    rows = [sample_line("1723943"), sample_line("3256629"), sample_line("3125459")]
    content = cfpb_rows(*rows).replace(CFPB_HEADER, CFPB_HEADER + ",queue")
    content = content.replace(",3125459,ZiyuYan9/consumer_complaints:complaints_sample.csv", "")
    lines = content.splitlines()
    lines[1] += ","
    lines[2] += ","
    lines[3] = rows[2] + ",BJ-T1"
    job = run_import(complaints_officer, "\n".join(lines) + "\n")

    assert job.state == "done", job.errors
    queues = dict(Case.objects.values_list("external_id", "department__code"))
    assert queues == {"1723943": "SH-T1", "3256629": "HO", "3125459": "BJ-T1"}


def test_every_bad_cfpb_row_is_reported_by_its_line_and_nothing_is_imported(
    tree, complaints_officer, run_import
):
    good = sample_line("3256629")
    content = cfpb_rows(
        good,
        sample_line("3125459").replace("2019-01-15,Mortgage", "2019-13-45,Mortgage"),
        sample_line("6845190").replace(",Web,", ",Carrier pigeon,"),
        sample_line("3180230").replace("2019-03-14,", "2099-03-14,", 1),
        good,
    )
    job = run_import(complaints_officer, content)

    assert job.state == "rejected"
    assert reasons(job) == [
        (3, "Date received", "bad_date"),
        (4, "Submitted via", "bad_choice"),
        (5, "Date received", "case_in_future"),
        (6, "Complaint ID", "duplicate_in_file"),
    ]
    messages = [error_message(error) for error in job.errors]
    assert messages[0] == "“2019-13-45” is not a date (use YYYY-MM-DD)."
    assert messages[2] == "“2099-03-14” is in the future."
    assert messages[3] == "“3256629” already appears on line 2."
    assert not Case.objects.exists()


def test_a_file_without_a_required_cfpb_column_is_refused(tree, complaints_officer, run_import):
    header = CFPB_HEADER.replace("Complaint ID", "Case number")
    job = run_import(complaints_officer, header + "\n" + sample_line("3256629") + "\n")

    assert job.state == "rejected"
    assert reasons(job) == [(1, "Complaint ID", "missing_column")]
    assert error_message(job.errors[0]) == "The column “Complaint ID” is missing from the file."


def test_skip_bad_rows_imports_the_good_ones_and_lists_the_bad(
    tree, complaints_officer, run_import
):
    content = cfpb_rows(
        sample_line("3256629"),
        sample_line("3125459").replace("2019-01-15,Mortgage", "yesterday,Mortgage"),
        sample_line("6845190"),
    )
    job = run_import(complaints_officer, content, skip=True)

    assert job.state == "done"
    assert reasons(job) == [(3, "Date received", "bad_date")]
    assert job.rows_imported == 2
    assert set(Case.objects.values_list("external_id", flat=True)) == {"3256629", "6845190"}


# --- one pass: batches written as they are checked, rolled back on a bad row ----------------------


@pytest.fixture
def batches_of_two(monkeypatch):
    """Batches of two rows, so a small file is written in several before its last row is read."""
    monkeypatch.setattr(CfpbCaseImporter, "batch_size", 2)


def eight_rows_with_bad_ones_at(*bad_lines: int) -> str:
    """The sample's eight rows (lines 2-9), the rows on ``bad_lines`` with a date that is none."""
    lines = CFPB_SAMPLE.splitlines()
    for line in bad_lines:
        day = lines[line - 1].split(",", 1)[0]
        lines[line - 1] = lines[line - 1].replace(day, "someday", 1)
    return "\n".join(lines) + "\n"


def test_a_bad_last_row_undoes_the_batches_already_written(
    tree, complaints_officer, run_import, batches_of_two
):
    job = run_import(complaints_officer, eight_rows_with_bad_ones_at(5, 9))

    assert job.state == "rejected"
    assert reasons(job) == [(5, "Date received", "bad_date"), (9, "Date received", "bad_date")]
    assert (job.rows_total, job.rows_imported) == (8, 0)
    assert not Case.objects.exists()
    assert not TimelineEntry.objects.exists()
    assert not AuditEntry.objects.filter(action="case.import").exists()
    assert verify_chain().intact


def test_a_repeated_id_in_a_later_batch_names_the_line_of_the_first(
    tree, complaints_officer, run_import, batches_of_two
):
    content = CFPB_SAMPLE + sample_line("1342794") + "\n"

    job = run_import(complaints_officer, content)

    assert reasons(job) == [(10, "Complaint ID", "duplicate_in_file")]
    assert error_message(job.errors[0]) == "“1342794” already appears on line 2."
    assert not Case.objects.exists()


def test_skipping_bad_rows_writes_the_good_ones_of_every_batch(
    tree, complaints_officer, run_import, batches_of_two
):
    job = run_import(complaints_officer, eight_rows_with_bad_ones_at(3, 8), skip=True)

    assert job.state == "done"
    assert reasons(job) == [(3, "Date received", "bad_date"), (8, "Date received", "bad_date")]
    assert job.rows_imported == Case.objects.count() == 6
    assert "1723943" not in set(Case.objects.values_list("external_id", flat=True))
    assert AuditEntry.objects.filter(action="case.import").count() == 4  # one per batch written


def test_progress_is_readable_while_the_import_transaction_runs(
    tree, complaints_officer, run_import, monkeypatch
):
    """The job row cannot show progress from inside the import's transaction; the cache can.
    The whole sample (7,166 rows) goes in four batches of 2,000."""
    seen = []
    apply_batch = CfpbCaseImporter.apply_batch

    def apply_and_look(importer, rows):
        apply_batch(importer, rows)
        job = ImportJob.objects.get()
        seen.append(progress_get(progress_token(job)))

    monkeypatch.setattr(CfpbCaseImporter, "apply_batch", apply_and_look)
    job = run_import(complaints_officer, data_file("cfpb_complaints_sample.csv").read_bytes())

    assert job.state == "done"
    # Each look comes before its batch is reported: nothing yet, then the batches before.
    assert seen[0] is None
    assert [done for done, _percent in seen[1:]] == [2000, 4000, 6000]
    percents = [percent for _done, percent in seen[1:]]
    assert percents == sorted(percents) and percents[0] > 0 and percents[-1] < 100
    assert progress_get(progress_token(job)) is None  # dropped at the end


def test_a_query_waits_for_the_batch_being_written(tree, complaints_officer, transactional_db):
    """The importing thread's queries see every row sent before them, on either database (on
    SQLite nothing but the writer's guard keeps them from running while the rows go in)."""
    from django.db import transaction

    from servicecharter.cases.bulk import CaseWriter

    department = tree["sh_team"].pk
    now = datetime.now(UTC)
    with transaction.atomic():
        writer = CaseWriter(background=True)
        for batch in range(3):
            cases = [
                bulk_case(department, now, subject=f"Batch {batch} case {number}")
                for number in range(500)
            ]
            writer.write_cases(cases, now)
            writer.send()
            assert Case.objects.count() == 500 * (batch + 1)
        writer.finish()
    assert Case.objects.count() == 1500


def test_rows_beyond_one_statements_parameters_go_in_several_inserts(tree, db, monkeypatch):
    """SQLite takes a batch as multi-row INSERTs, as many rows each as a statement may bind."""
    from django.db import connection

    from servicecharter.cases.bulk import BulkTable, CaseWriter

    table = BulkTable(Case, with_pk=True)
    room_for_two_rows = property(lambda features: len(table.fields) * 2 + 1)
    monkeypatch.setattr(type(connection.features), "max_query_params", room_for_two_rows)
    now = datetime.now(UTC)
    cases = [
        bulk_case(
            tree["sh_team"].pk,
            now - timedelta(hours=number),
            subject=f"Case {number}",
            severity_reasons=[{"code": "money", "n": number}],
            money_at_stake=Decimal(f"{number}.25"),
            concerns_attitude=number == 3,
        )
        for number in range(5)
    ]
    writer = CaseWriter()
    writer.write_cases(cases, now)
    (_table, rows) = writer.pending[0]

    inserts = table.multirow_inserts(rows)
    with connection.cursor() as cursor:
        for statement, values in inserts:
            cursor.execute(statement, values)

    assert [len(values) // len(table.fields) for _statement, values in inserts] == [2, 2, 1]
    written = Case.objects.order_by("subject")
    assert [case.subject for case in written] == [f"Case {number}" for number in range(5)]
    assert [case.money_at_stake for case in written] == [
        Decimal(f"{number}.25") for number in range(5)
    ]
    assert [case.concerns_attitude for case in written] == [False, False, False, True, False]
    assert written[4].received_at == now - timedelta(hours=4)
    assert written[2].severity_reasons == [{"code": "money", "n": 2}]


def test_ids_taken_ahead_are_never_given_twice(db):
    """A writer in the background takes ids a few batches ahead; on SQLite, where ids come after
    the highest row, the next allocation must also come after the ids taken but not written."""
    from django.db import transaction

    from servicecharter.core.ids import IdPool

    with transaction.atomic():
        pool = IdPool(Case, ahead=3)
        taken = [pool.take(2) for _ in range(4)]
    flat = [case_id for ids in taken for case_id in ids]
    assert len(set(flat)) == 8 and flat == sorted(flat)


# --- scope ---------------------------------------------------------------------------------------


def test_rows_for_queues_outside_the_importers_scope_are_refused(tree, bj_officer, run_import):
    content = (
        NATIVE_HEADER
        + "N1,complaint,phone,2025-03-03 10:00,Fee charged twice,,BJ-T1,,,,,,,\n"
        + "N2,complaint,phone,2025-03-03 10:00,Card blocked,,SH-T1,,,,,,,\n"
        + "N3,complaint,phone,2025-03-03 10:00,Queue not given,,,,,,,,,\n"
    )
    job = run_import(bj_officer, content, kind="cases")

    assert job.state == "rejected"
    assert reasons(job) == [(3, "queue", "out_of_scope")]
    assert error_message(job.errors[0]) == "Outside your scope: you may not import “SH-T1”."

    job = run_import(bj_officer, content, kind="cases", skip=True)
    assert dict(Case.objects.values_list("external_id", "department__code")) == {
        "N1": "BJ-T1",
        "N3": "BJ",  # without a queue: the top of the importer's scope
    }


def test_a_routing_rule_into_another_branch_is_refused_for_a_branch_importer(
    tree, bj_officer, run_import
):
    RoutingRule.objects.create(name="Referrals", channel="regulator", department=tree["sh_team"])
    job = run_import(bj_officer, cfpb_rows(sample_line("1723943")))

    assert reasons(job) == [(2, "queue", "out_of_scope")]
    assert not Case.objects.exists()


def test_people_without_the_import_capability_cannot_import_cases(
    tree, bj_supervisor, complaints_officer
):
    assert {"cases", "cases_cfpb"} <= set(import_kinds_for(complaints_officer))
    assert not {"cases", "cases_cfpb"} & set(import_kinds_for(bj_supervisor))
    with pytest.raises(PermissionDenied):
        import_job_create(
            user=bj_supervisor,
            kind="cases_cfpb",
            upload=SimpleUploadedFile("c.csv", CFPB_SAMPLE.encode()),
        )
    assert not ImportJob.objects.exists()


# --- the native format --------------------------------------------------------------------------


@time_machine.travel(datetime(2025, 6, 10, 4, 0, tzinfo=UTC), tick=False)
def test_a_gb18030_file_with_chinese_headers_is_read(tree, complaints_officer, run_import):
    content = (
        "来源编号,类型,渠道,受理时间,主题,内容,处理部门,状态,处理结果,涉及金额\n"
        "CN-001,投诉,电话,2025-06-03 09:30,信用卡年费重复扣收,本月年费被扣了两次。,BJ-T1,已办结,成立,12000\n"
        "CN-002,建议,手机银行,2025-06-09,希望增加夜间客服,,BJ-T1,,,\n"
    )
    job = run_import(
        complaints_officer, content.replace("\n", "\r\n").encode("gb18030"), kind="cases"
    )

    assert job.state == "done", job.errors
    fee = Case.objects.get(external_id="CN-001")
    assert (fee.external_system, fee.kind, fee.channel) == ("native", "complaint", "phone")
    assert (fee.state, fee.outcome) == ("closed", "upheld")
    assert (fee.jurisdiction, fee.profile_key, fee.language) == (
        "CN",
        "cn_banking_insurance",
        "zh-hans",
    )
    assert fee.received_at == datetime(2025, 6, 3, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
    assert fee.description == "本月年费被扣了两次。"
    assert (fee.money_at_stake, fee.currency, fee.severity) == (
        Decimal("12000.00"),
        "CNY",
        "medium",
    )
    assert fee.due_at is None and fee.breached_at is None
    idea = Case.objects.get(external_id="CN-002")
    assert (idea.kind, idea.channel, idea.state, idea.description) == (
        "suggestion", "app", "received", "希望增加夜间客服",
    )  # fmt: skip
    assert idea.due_at is None  # only complaints have regulatory deadlines


@time_machine.travel(datetime(2025, 6, 10, 4, 0, tzinfo=UTC), tick=False)
def test_an_open_imported_complaint_gets_the_deadline_case_create_would_give(
    tree, complaints_officer, bj_agent, run_import
):
    received = datetime(2025, 6, 3, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    made = services.case_create(
        actor=bj_agent,
        kind="complaint",
        channel="phone",
        subject="Fee",
        description="Fee",
        department=tree["bj_team"],
        received_at=received,
    ).case
    content = NATIVE_HEADER + (
        "N1,complaint,phone,2025-06-03 09:30,Fee,,BJ-T1,bj.agent,in_progress,,,,,\n"
    )
    job = run_import(complaints_officer, content, kind="cases")

    assert job.state == "done", job.errors
    imported = Case.objects.get(external_id="N1")
    assert imported.received_at == made.received_at
    assert (imported.due_at, imported.warn_at) == (made.due_at, made.warn_at)
    assert imported.handler == bj_agent
    assert imported.breached_at is None and imported.warned_at is None


@time_machine.travel(datetime(2025, 6, 10, 4, 0, tzinfo=UTC), tick=False)
def test_every_bad_native_row_is_reported_by_its_line(
    tree, complaints_officer, bj_agent, sh_supervisor, run_import
):
    load_catalogue()
    rows = [
        "N1,complaint,phone,2025-06-03 09:30,Good,,BJ-T1,,,,,CARD-CRD,,",
        "N2,complaint,phone,2025-06-03 09:30,Bad product,,BJ-T1,,,,,NO-SUCH,,",
        "N3,complaint,phone,2025-06-03 09:30,Bad queue,,NOPE,,,,,,,",
        "N4,complaint,phone,2025-06-03 09:30,Unknown handler,,BJ-T1,nobody,,,,,,",
        "N5,complaint,phone,2025-06-03 09:30,Handler elsewhere,,BJ-T1,sh.supervisor,,,,,,",
        "N6,complaint,phone,2025-06-03 09:30,Open with outcome,,BJ-T1,,in_progress,upheld,,,,",
        "N7,complaint,phone,2025-06-03 09:30,Closed without,,BJ-T1,,closed,,,,,",
        "N8,praise,phone,2025-06-03 09:30,Praise upheld,,BJ-T1,,closed,upheld,,,,",
        "N9,complaint,phone,3 June,Bad time,,BJ-T1,,,,,,,",
        "N10,complaint,phone,2025-06-03 09:30,Unknown customer,,BJ-T1,,,,,,C404,",
        "N11,complaint,phone,2025-06-03 09:30,Answered early,,BJ-T1,,responded,upheld,,,,2025-06-01",
        "N12,complaint,phone,2025-06-03 09:30,Money,,BJ-T1,,,,-5,,,",
    ]
    job = run_import(complaints_officer, NATIVE_HEADER + "\n".join(rows) + "\n", kind="cases")

    assert job.state == "rejected"
    assert reasons(job) == [
        (3, "product", "case_unknown_product"),
        (4, "queue", "unknown_department"),
        (5, "handler", "case_unknown_handler"),
        (6, "handler", "case_handler_out_of_scope"),
        (7, "outcome", "case_outcome_while_open"),
        (8, "outcome", "case_outcome_required"),
        (9, "outcome", "case_outcome_for_kind"),
        (10, "received_at", "case_bad_datetime"),
        (11, "customer_number", "case_unknown_customer"),
        (12, "responded_at", "case_before_received"),
        (13, "money_at_stake", "negative"),
    ]
    texts = {error["line"]: error_message(error) for error in job.errors}
    assert texts[3] == "No product has the code “NO-SUCH”."
    assert texts[4] == "No department has the code “NOPE”."
    assert texts[6] == "“sh.supervisor” may not handle cases of the queue “BJ-T1”."
    assert not Case.objects.exists()


@time_machine.travel(datetime(2025, 6, 10, 4, 0, tzinfo=UTC), tick=False)
def test_a_known_customer_is_linked_and_weighs_on_severity(tree, complaints_officer, run_import):
    customer_create(
        customer_number="C001",
        name="王芳",
        home_department=tree["bj"],
        segment="senior",
        is_vulnerable=True,
        email="wang@example.com",
    )
    content = NATIVE_HEADER + (
        "N1,complaint,branch,2025-05-20 10:00,First,,BJ-T1,,,,,,C001,\n"
        "N2,complaint,branch,2025-06-02 10:00,Second,,BJ-T1,,,,,,C001,\n"
    )
    job = run_import(complaints_officer, content, kind="cases")

    assert job.state == "done", job.errors
    first, second = Case.objects.get(external_id="N1"), Case.objects.get(external_id="N2")
    assert (first.customer.customer_number, first.contact_name) == ("C001", "王芳")
    assert first.contact_email == "wang@example.com"
    assert [reason["code"] for reason in first.severity_reasons] == ["vulnerable"]
    assert [reason["code"] for reason in second.severity_reasons] == ["vulnerable", "repeat"]


@time_machine.travel(datetime(2025, 6, 10, 4, 0, tzinfo=UTC), tick=False)
def test_an_xlsx_native_file_is_read(tree, complaints_officer, run_import):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(NATIVE_HEADER.strip().split(","))
    sheet.append(
        ["X1", "enquiry", "email", datetime(2025, 6, 9, 14, 0), "Opening hours", None, "BJ-T1"]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = run_import(complaints_officer, buffer.getvalue(), name="cases.xlsx", kind="cases")

    assert job.state == "done", job.errors
    enquiry = Case.objects.get(external_id="X1")
    assert (enquiry.kind, enquiry.channel, enquiry.department.code) == ("enquiry", "email", "BJ-T1")
    assert enquiry.received_at == datetime(2025, 6, 9, 6, 0, tzinfo=UTC)


def test_the_cfpb_taxonomy_categories_are_used_when_present(tree, complaints_officer, run_import):
    issue = Category.objects.get(
        scheme="cfpb",
        axis="issue",
        code=taxonomy.cfpb_issue_code(
            "Payday loan, title loan, or personal loan",
            "Charged fees or interest you didn't expect",
        ),
    )
    run_import(complaints_officer, cfpb_rows(sample_line("6845190")))
    assert Case.objects.get().category == issue


def test_an_imported_open_case_past_its_warning_is_warned_but_not_breached(
    tree, complaints_officer, run_import
):
    received = (datetime.now(tz=NEW_YORK) - timedelta(days=13)).date().isoformat()
    line = sample_line("3514461").replace("2020-01-30,Debt", f"{received},Debt", 1)
    run_import(complaints_officer, cfpb_rows(line))

    case = Case.objects.get()
    assert case.warned_at == case.warn_at and case.breached_at is None
    assert case.due_at > datetime.now(tz=UTC)


def test_an_import_leaves_the_cycle_collector_as_it_found_it(tree, complaints_officer, run_import):
    before = gc.get_threshold()
    job = run_import(complaints_officer, CFPB_SAMPLE)
    assert job.state == "done"
    assert gc.get_threshold() == before


def test_a_complaints_officer_imports_a_cfpb_file_from_the_imports_page(
    client, tree, complaints_officer, django_capture_on_commit_callbacks
):
    client.force_login(complaints_officer)
    page = client.get(reverse("core:imports"))
    assert "Cases (CFPB export format)" in page.content.decode()
    bad = cfpb_rows(sample_line("3256629").replace(",Web,", ",Pigeon,"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("core:imports"),
            {"kind": "cases_cfpb", "file": SimpleUploadedFile("cfpb.csv", bad.encode())},
        )
    html = client.get(response["Location"]).content.decode()
    assert "<td>Submitted via</td><td>“Pigeon” is not one of:" in html
    assert not Case.objects.exists()
