"""The staff's case lists: "my cases" and the department queue — scoped, filtered in place,
paged without counting the table, in a fixed number of queries; saved views; bulk assignment
that assigns every ticked case or none."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.accounts.choices import Role
from servicecharter.cases import services
from servicecharter.cases.choices import CaseKind, CaseState, Severity, TimelineKind
from servicecharter.cases.models import Case, SavedView
from servicecharter.org.choices import Channel
from servicecharter.org.services import business_type_create, product_create
from tests.conftest import make_user


@pytest.fixture
def bj_case(new_case):
    return new_case(subject="Card fee charged twice")


@pytest.fixture
def sh_case(new_case, tree):
    return new_case(subject="Shanghai transfer delayed", department=tree["sh_team"], handler=None)


@pytest.fixture
def bj_agent_two(tree):
    return make_user("bj.agent2", Role.AGENT, tree["bj_team"], first_name="Mei", last_name="Han")


@pytest.fixture
def sh_agent(tree):
    return make_user("sh.agent", Role.AGENT, tree["sh_team"])


def _refs(response) -> list[str]:
    return [row["case"].reference for row in response.context["rows"]]


# Scope ------------------------------------------------------------------------------------


def test_a_supervisor_sees_the_cases_of_their_branch_and_no_other(
    client, bj_supervisor, bj_case, sh_case
):
    client.force_login(bj_supervisor)
    response = client.get(reverse("cases:queue"))
    assert response.status_code == 200
    assert _refs(response) == [bj_case.reference]
    assert sh_case.reference not in response.content.decode()


def test_someone_without_a_case_role_is_refused_the_queue(client, stranger):
    client.force_login(stranger)
    assert client.get(reverse("cases:queue")).status_code == 403
    assert client.get(reverse("cases:my_cases")).status_code == 403


def test_each_row_shows_the_case_at_a_glance(client, bj_supervisor, bj_case):
    client.force_login(bj_supervisor)
    html = client.get(reverse("cases:queue")).content.decode()
    for text in (bj_case.reference, "Complaint", "Phone", "Card fee charged twice", "Li Lei"):
        assert text in html
    assert "Beijing Team 1" in html and "bj.agent" in html
    assert "left" in html  # the countdown of the running deadline


def test_the_countdown_turns_amber_after_the_warning_and_red_when_overdue(
    client, bj_supervisor, new_case
):
    now = timezone.now()
    calm, warned, late = new_case(subject="calm"), new_case(subject="warned"), new_case()
    Case.objects.filter(pk=warned.pk).update(warn_at=now - timedelta(hours=1))
    Case.objects.filter(pk=late.pk).update(due_at=now - timedelta(hours=2))
    client.force_login(bj_supervisor)
    rows = {
        row["case"].pk: row["due"] for row in client.get(reverse("cases:queue")).context["rows"]
    }
    assert rows[calm.pk]["css"] == "ok" and "left" in rows[calm.pk]["text"]
    assert rows[warned.pk]["css"] == "warn"
    assert rows[late.pk]["css"] == "bad" and "overdue" in rows[late.pk]["text"]


# Filters ---------------------------------------------------------------------------------


def test_the_state_filter_knows_open_and_each_state(client, bj_supervisor, new_case, bj_agent):
    received = new_case(subject="new")
    answered = services.case_start(actor=bj_agent, case=new_case(subject="answered"))
    services.case_respond(
        actor=bj_agent, case=answered, outcome="upheld", response_text="Refunded."
    )
    client.force_login(bj_supervisor)
    url = reverse("cases:queue")
    assert _refs(client.get(url, {"state": "open"})) == [received.reference]
    assert _refs(client.get(url, {"state": CaseState.RESPONDED})) == [answered.reference]


def test_breached_overdue_and_due_today_filters(client, bj_supervisor, new_case):
    now = timezone.now()
    breached = new_case(subject="breached")
    Case.objects.filter(pk=breached.pk).update(
        due_at=now - timedelta(days=1), breached_at=now - timedelta(hours=20)
    )
    today = new_case(subject="today")
    Case.objects.filter(pk=today.pk).update(
        due_at=timezone.localtime(now).replace(hour=23, minute=0)
    )
    later = new_case(subject="later")
    client.force_login(bj_supervisor)
    url = reverse("cases:queue")
    assert _refs(client.get(url, {"due": "breached"})) == [breached.reference]
    assert _refs(client.get(url, {"due": "overdue"})) == [breached.reference]
    due_today = _refs(client.get(url, {"due": "today"}))
    assert today.reference in due_today and later.reference not in due_today


def test_channel_kind_severity_product_and_handler_filters(
    client, bj_supervisor, new_case, bj_agent_two
):
    cards = business_type_create(code="B01", name_en="Cards", name_zh="银行卡")
    card = product_create(
        code="P-CARD", name_en="Credit card", name_zh="信用卡", business_type=cards
    )
    social = new_case(channel=Channel.SOCIAL, subject="posted online")
    praise = new_case(kind=CaseKind.PRAISE, subject="thank you")
    with_product = new_case(product=card, subject="card")
    big = new_case(money_at_stake=500_000, subject="big money")
    other_handler = new_case(handler=bj_agent_two, subject="Mei's")
    client.force_login(bj_supervisor)
    url = reverse("cases:queue")
    assert social.reference in _refs(client.get(url, {"channel": Channel.SOCIAL}))
    assert _refs(client.get(url, {"channel": Channel.SOCIAL})) == [social.reference]
    assert _refs(client.get(url, {"kind": CaseKind.PRAISE})) == [praise.reference]
    assert _refs(client.get(url, {"product": card.pk})) == [with_product.reference]
    assert big.reference in _refs(client.get(url, {"severity": big.severity}))
    assert big.severity != Severity.LOW
    assert _refs(client.get(url, {"handler": bj_agent_two.pk})) == [other_handler.reference]


def test_the_search_finds_a_reference_a_subject_or_a_name(client, bj_supervisor, new_case):
    fee = new_case(subject="Annual fee", contact_name="Zhang Wei")
    loan = new_case(subject="Loan rate", contact_name="Wang Fang")
    client.force_login(bj_supervisor)
    url = reverse("cases:queue")
    assert _refs(client.get(url, {"q": fee.reference.lower()})) == [fee.reference]
    assert _refs(client.get(url, {"q": "loan"})) == [loan.reference]
    assert _refs(client.get(url, {"q": "Zhang"})) == [fee.reference]


def test_an_htmx_filter_request_gets_only_the_results(client, bj_supervisor, bj_case):
    client.force_login(bj_supervisor)
    response = client.get(reverse("cases:queue"), {"state": "open"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "<table" in html and bj_case.reference in html


# My cases ---------------------------------------------------------------------------------


def test_my_cases_are_mine_open_first_and_the_soonest_deadline_first(
    client, bj_agent, new_case, bj_agent_two
):
    now = timezone.now()
    late = new_case(subject="due later")
    soon = new_case(subject="due soon")
    Case.objects.filter(pk=soon.pk).update(due_at=now + timedelta(hours=3))
    done = services.case_start(actor=bj_agent, case=new_case(subject="answered"))
    services.case_respond(actor=bj_agent, case=done, outcome="upheld", response_text="Done.")
    new_case(handler=bj_agent_two, subject="not mine")
    client.force_login(bj_agent)
    response = client.get(reverse("cases:my_cases"))
    assert _refs(response) == [soon.reference, late.reference, done.reference]


def test_an_agent_cannot_assign_in_bulk(client, bj_agent, bj_case, bj_agent_two):
    client.force_login(bj_agent)
    response = client.post(
        reverse("cases:bulk_assign"), {"cases": [bj_case.pk], "handler": bj_agent_two.pk}
    )
    assert response.status_code == 403
    bj_case.refresh_from_db()
    assert bj_case.handler.username == "bj.agent"


# Paging and queries ------------------------------------------------------------------------


def test_pages_never_count_the_table(client, bj_supervisor, new_case):
    for number in range(27):
        new_case(subject=f"case {number}")
    client.force_login(bj_supervisor)
    url = reverse("cases:queue")
    with CaptureQueriesContext(connection) as queries:
        first = client.get(url)
    assert len(first.context["rows"]) == 25 and first.context["page"].has_next()
    case_queries = [
        q["sql"].upper() for q in queries.captured_queries if "CASES_CASE" in q["sql"].upper()
    ]
    assert case_queries and not any("COUNT(" in sql for sql in case_queries)
    second = client.get(url, {"page": 2})
    assert len(second.context["rows"]) == 2 and not second.context["page"].has_next()
    assert set(_refs(first)).isdisjoint(_refs(second))


@pytest.mark.parametrize("url_name", ["cases:queue", "cases:my_cases"])
def test_the_lists_run_a_fixed_number_of_queries(
    client, bj_supervisor, new_case, django_assert_num_queries, url_name, tree
):
    from servicecharter.accounts.models import RoleGrant

    # The supervisor also handles, so "my cases" has rows too.
    RoleGrant.objects.create(user=bj_supervisor, role=Role.AGENT, department=tree["bj_team"])
    for number in range(2):
        new_case(subject=f"few {number}", handler=bj_supervisor)
    client.force_login(bj_supervisor)
    url = reverse(url_name)
    params = {"state": "open", "q": "few"}
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(url, params).context["rows"]) == 2
    for number in range(30):
        new_case(subject=f"few more {number}", handler=bj_supervisor)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url, params)
    assert len(response.context["rows"]) == 25


# Saved views --------------------------------------------------------------------------------


def test_saving_a_view_keeps_the_filters_and_not_the_page(client, bj_supervisor):
    client.force_login(bj_supervisor)
    response = client.post(
        reverse("cases:saved_view_create"),
        {"name": "Breached in Beijing", "query": "state=open&due=breached&page=3&junk=1"},
    )
    assert response.status_code == 302
    view = SavedView.objects.get(user=bj_supervisor)
    assert view.name == "Breached in Beijing"
    assert view.query == "state=open&due=breached"
    assert response.url == reverse("cases:queue") + "?state=open&due=breached"
    queue = client.get(reverse("cases:queue")).content.decode()
    assert "Breached in Beijing" in queue and "?state=open&amp;due=breached" in queue


def test_saving_under_the_same_name_replaces_the_view(client, bj_supervisor):
    client.force_login(bj_supervisor)
    url = reverse("cases:saved_view_create")
    client.post(url, {"name": "Mine", "query": "state=open"})
    client.post(url, {"name": "Mine", "query": "state=closed"})
    assert list(SavedView.objects.values_list("name", "query")) == [("Mine", "state=closed")]


def test_a_view_needs_a_name(client, bj_supervisor):
    client.force_login(bj_supervisor)
    client.post(reverse("cases:saved_view_create"), {"name": " ", "query": "state=open"})
    assert not SavedView.objects.exists()


def test_saved_views_are_listed_and_deleted_only_by_their_owner(
    client, bj_supervisor, sh_supervisor
):
    mine = SavedView.objects.create(user=bj_supervisor, name="Open", query="state=open")
    theirs = SavedView.objects.create(user=sh_supervisor, name="Theirs", query="due=today")
    client.force_login(bj_supervisor)
    listing = client.get(reverse("cases:saved_view_list")).content.decode()
    assert "Open" in listing and "Theirs" not in listing
    refused = client.post(reverse("cases:saved_view_delete", args=[theirs.pk]))
    assert refused.status_code == 404
    assert SavedView.objects.filter(pk=theirs.pk).exists()
    client.post(reverse("cases:saved_view_delete", args=[mine.pk]))
    assert not SavedView.objects.filter(pk=mine.pk).exists()


# Bulk assignment -----------------------------------------------------------------------------


def _assign(client, cases, handler, query="state=open"):
    return client.post(
        reverse("cases:bulk_assign"),
        {"cases": [case.pk for case in cases], "handler": handler.pk, "query": query},
        follow=True,
    )


def test_a_supervisor_assigns_the_ticked_cases_to_a_handler(
    client, bj_supervisor, new_case, bj_agent_two
):
    first, second, untouched = new_case(), new_case(), new_case()
    client.force_login(bj_supervisor)
    response = _assign(client, [first, second], bj_agent_two)
    assert response.redirect_chain[-1][0] == reverse("cases:queue") + "?state=open"
    assert "2 cases assigned to Mei Han" in response.content.decode()
    for case in (first, second):
        case.refresh_from_db()
        assert case.handler == bj_agent_two
        assert case.timeline.filter(kind=TimelineKind.ASSIGNED).exists()
    untouched.refresh_from_db()
    assert untouched.handler.username == "bj.agent"


def test_bulk_assignment_is_all_or_nothing(client, bj_supervisor, new_case, bj_agent, bj_agent_two):
    open_case = new_case()
    closed = services.case_start(actor=bj_agent, case=new_case())
    closed = services.case_respond(
        actor=bj_agent, case=closed, outcome="upheld", response_text="Refunded."
    )
    services.case_close(actor=bj_agent, case=closed)
    client.force_login(bj_supervisor)
    html = _assign(client, [open_case, closed], bj_agent_two).content.decode()
    assert "Only an open case can be assigned." in html and "Nothing was assigned." in html
    open_case.refresh_from_db()
    assert open_case.handler == bj_agent
    assert not open_case.timeline.filter(kind=TimelineKind.ASSIGNED).exists()


def test_a_handler_from_another_branch_is_refused(client, bj_supervisor, new_case, sh_agent):
    first, second = new_case(), new_case()
    client.force_login(bj_supervisor)
    html = _assign(client, [first, second], sh_agent).content.decode()
    # The Shanghai agent is not even offered; posting the id anyway is refused.
    assert "This person does not handle cases in your queues." in html
    assert "Nothing was assigned." in html
    for case in (first, second):
        case.refresh_from_db()
        assert case.handler.username == "bj.agent"


def test_a_handler_whose_scope_misses_one_queue_is_refused_for_all(
    client, complaints_officer, new_case, bj_agent, tree
):
    bj = new_case()
    sh = new_case(department=tree["sh_team"], handler=None)
    client.force_login(complaints_officer)
    html = _assign(client, [bj, sh], bj_agent).content.decode()
    assert f"does not handle the queue of {sh.reference}" in html
    assert "Nothing was assigned." in html
    sh.refresh_from_db()
    assert sh.handler is None


def test_a_case_outside_the_assigners_scope_refuses_the_lot(
    client, bj_supervisor, new_case, tree, bj_agent_two
):
    bj = new_case()
    sh = new_case(department=tree["sh_team"], handler=None)
    client.force_login(bj_supervisor)
    html = _assign(client, [bj, sh], bj_agent_two).content.decode()
    assert "not in the queues you assign" in html
    bj.refresh_from_db()
    sh.refresh_from_db()
    assert bj.handler.username == "bj.agent" and sh.handler is None


def test_an_inactive_handler_is_refused(client, bj_supervisor, new_case, bj_agent_two):
    case = new_case()
    bj_agent_two.is_active = False
    bj_agent_two.save(update_fields=["is_active"])
    client.force_login(bj_supervisor)
    html = _assign(client, [case], bj_agent_two).content.decode()
    assert "Nothing was assigned." in html
    case.refresh_from_db()
    assert case.handler.username == "bj.agent"


def test_a_long_list_of_handlers_becomes_a_user_name_box(
    client, bj_supervisor, new_case, bj_agent_two, monkeypatch
):
    from servicecharter.cases import staff_forms

    monkeypatch.setattr(staff_forms, "HANDLER_LIST_LIMIT", 1)
    case = new_case()
    client.force_login(bj_supervisor)
    queue = client.get(reverse("cases:queue"))
    assert queue.context["assign_form"]["handler"].widget_type == "text"
    response = client.post(
        reverse("cases:bulk_assign"), {"cases": [case.pk], "handler": "bj.agent2"}, follow=True
    )
    assert "1 case assigned to Mei Han" in response.content.decode()
    case.refresh_from_db()
    assert case.handler == bj_agent_two
    filtered = client.get(reverse("cases:queue"), {"handler": "bj.agent2"})
    assert _refs(filtered) == [case.reference]


def test_ticking_nothing_says_so(client, bj_supervisor, bj_agent_two):
    client.force_login(bj_supervisor)
    response = client.post(reverse("cases:bulk_assign"), {"handler": bj_agent_two.pk}, follow=True)
    assert "Tick the cases to assign." in response.content.decode()


# Navigation and home page --------------------------------------------------------------------


def test_the_menu_and_home_page_show_case_figures(client, bj_agent, new_case):
    now = timezone.now()
    breached = new_case()
    Case.objects.filter(pk=breached.pk).update(due_at=now - timedelta(days=1), breached_at=now)
    new_case()
    client.force_login(bj_agent)
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert reverse("cases:my_cases") in html and reverse("cases:queue") in html
    figures = {str(label): value for label, value, _url in response.context["case_figures"]}
    assert figures["Open cases"] == 2
    assert figures["Breached cases still open"] == 1
    assert figures["My open cases"] == 2
    assert figures["Cases due today"] == 1


def test_someone_without_cases_sees_no_case_figures(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("home"))
    assert response.context["case_figures"] == []
    assert reverse("cases:queue") not in response.content.decode()
