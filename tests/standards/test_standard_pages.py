"""The standards library (everyone; staff first see the standards that apply to them, in their
language, with an Acknowledge button), the editor (MANAGE_STANDARDS only), the service levels."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from servicecharter.interactions.ingest import NewInteraction
from servicecharter.interactions.services import interaction_ingest_many
from servicecharter.org.choices import Channel
from servicecharter.standards import services
from servicecharter.standards.choices import VersionState
from servicecharter.standards.models import ServiceLevel, Standard, StandardVersion
from tests.standards.conftest import T0, make_staff

LIBRARY = reverse("standards:library")


@pytest.fixture
def agent_staff(bj_agent, tree):
    bj_agent.staff = make_staff(tree["bj_team"])
    bj_agent.save(update_fields=["staff"])
    return bj_agent.staff


def test_everyone_signed_in_reads_the_library(client, stranger, publish_standard):
    publish_standard()
    client.force_login(stranger)

    response = client.get(LIBRARY)

    assert response.status_code == 200
    assert [row["standard"].code for row in response.context["rows"]] == ["CARD-PHONE"]
    assert response.context["rows"][0]["version"] is not None
    assert not response.context["can_manage"]


def test_staff_see_the_standards_naming_their_department_with_an_acknowledge_button(
    client, bj_agent, agent_staff, publish_standard, tree
):
    mine = publish_standard(code="BJ-DEPOSITS", channel=Channel.BRANCH, departments=[tree["bj"]])
    publish_standard(code="SH-DEPOSITS", channel=Channel.EMAIL, departments=[tree["sh"]])
    client.force_login(bj_agent)

    response = client.get(LIBRARY)

    assert [row["standard"].code for row in response.context["mine"]] == ["BJ-DEPOSITS"]
    assert response.context["mine"][0]["acknowledged"] is False
    assert reverse("standards:acknowledge", args=[mine.pk]) in response.content.decode()


def test_staff_see_the_standards_of_the_channels_they_served(
    client, bj_agent, agent_staff, publish_standard, tree, admin_user
):
    publish_standard(code="PHONE", channel=Channel.PHONE)
    publish_standard(code="CHAT", channel=Channel.CHAT)
    interaction_ingest_many(
        [
            NewInteraction(
                external_system="ivr",
                external_id="1",
                channel=Channel.PHONE,
                department_id=agent_staff.department_id,
                staff_id=agent_staff.pk,
                started_at=timezone.now() - timedelta(days=3),
                outcome="served",
            )
        ],
        actor=admin_user,
    )
    client.force_login(bj_agent)

    response = client.get(LIBRARY)

    assert [row["standard"].code for row in response.context["mine"]] == ["PHONE"]


def test_staff_read_the_standard_in_their_language(client, bj_agent, agent_staff, publish_standard):
    version = publish_standard()
    bj_agent.language = "zh-hans"
    bj_agent.save(update_fields=["language"])
    client.force_login(bj_agent)

    response = client.get(
        reverse("standards:standard_detail", args=[version.standard_id]),
        headers={"Accept-Language": "zh-hans"},
    )

    html = response.content.decode()
    assert "CARD-PHONE 标准" in html and "greeting（中文）" in html


def test_the_library_runs_a_fixed_number_of_queries(
    client, bj_agent, agent_staff, publish_standard, tree
):
    publish_standard(code="A", channel=Channel.BRANCH, departments=[tree["bj"]])
    client.force_login(bj_agent)
    with CaptureQueriesContext(connection) as few:
        client.get(LIBRARY)
    for number, channel in enumerate((Channel.PHONE, Channel.CHAT, Channel.EMAIL, Channel.APP)):
        publish_standard(code=f"B{number}", channel=channel, departments=[tree["bj_team"]])
    with CaptureQueriesContext(connection) as many:
        response = client.get(LIBRARY)
    assert len(response.context["rows"]) == 5 and len(response.context["mine"]) == 5
    assert len(many.captured_queries) == len(few.captured_queries)


def test_drafts_are_hidden_from_those_who_may_not_edit(
    client, bj_supervisor, publish_standard, compliance_officer
):
    v1 = publish_standard()
    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)
    client.force_login(bj_supervisor)

    assert client.get(reverse("standards:version_detail", args=[draft.pk])).status_code == 404
    detail = client.get(reverse("standards:standard_detail", args=[v1.standard_id]))
    assert [v.number for v, _label, _css in detail.context["versions"]] == [1]


def test_the_editor_is_refused_to_those_who_may_not_change_standards(
    client, bj_supervisor, publish_standard
):
    v1 = publish_standard()
    client.force_login(bj_supervisor)

    assert client.get(reverse("standards:standard_create")).status_code == 403
    assert client.post(reverse("standards:version_draft", args=[v1.standard_id])).status_code == 403
    assert client.get(reverse("standards:service_level_create")).status_code == 403
    assert v1.standard.versions.count() == 1


def test_a_manager_writes_and_publishes_a_standard_through_the_pages(
    client, compliance_officer, business_types, tree
):
    client.force_login(compliance_officer)
    created = client.post(
        reverse("standards:standard_create"),
        {
            "code": "WLT",
            "name_en": "Wealth management",
            "name_zh": "理财服务",
            "business_type": business_types["wealth"].pk,
            "channel": "",
            "departments": [tree["bj"].pk],
        },
    )
    assert created.status_code == 302
    draft = StandardVersion.objects.get(standard__code="WLT")
    added = client.post(
        reverse("standards:step_add", args=[draft.pk]),
        {
            "code": "risk_disclosure",
            "phase": "handling",
            "name_en": "Risk disclosure",
            "name_zh": "风险揭示",
            "target_seconds": "600",
            "mandatory": "on",
            "is_disclosure": "on",
        },
    )
    assert added.status_code == 302
    refused = client.post(
        reverse("standards:step_add", args=[draft.pk]),
        {"code": "risk_disclosure", "phase": "handling", "name_en": "x", "name_zh": "x"},
    )
    assert refused.status_code == 422
    assert refused.context["step_form"].errors["code"]

    published = client.post(
        reverse("standards:version_publish", args=[draft.pk]),
        {"effective_from": "2025-01-01T09:00"},
    )

    assert published.status_code == 302
    draft.refresh_from_db()
    assert draft.state == VersionState.PUBLISHED
    assert draft.steps.get().is_disclosure
    assert timezone.localtime(draft.effective_from).hour == 9


def test_publishing_before_the_previous_version_is_shown_beside_the_field(
    client, compliance_officer, publish_standard
):
    v1 = publish_standard()
    client.force_login(compliance_officer)
    draft_response = client.post(reverse("standards:version_draft", args=[v1.standard_id]))
    draft = StandardVersion.objects.get(standard=v1.standard, state=VersionState.DRAFT)
    assert draft_response.url == reverse("standards:version_detail", args=[draft.pk])

    response = client.post(
        reverse("standards:version_publish", args=[draft.pk]),
        {"effective_from": "2024-12-01T09:00"},
    )

    assert response.status_code == 422
    assert response.context["publish_form"].errors["effective_from"]
    draft.refresh_from_db()
    assert draft.state == VersionState.DRAFT


def test_a_published_version_page_has_no_editing_controls(
    client, compliance_officer, publish_standard
):
    v1 = publish_standard()
    client.force_login(compliance_officer)

    response = client.get(reverse("standards:version_detail", args=[v1.pk]))

    assert response.context["editable"] is False
    step = v1.steps.first()
    assert reverse("standards:step_edit", args=[step.pk]) not in response.content.decode()


def test_service_levels_are_listed_and_a_change_starts_a_new_level(client, compliance_officer):
    services.service_level_set(
        actor=compliance_officer,
        channel=Channel.PHONE,
        metric="answer_within",
        threshold=20,
        target_share=80,
        effective_from=T0,
    )
    client.force_login(compliance_officer)

    response = client.post(
        reverse("standards:service_level_create"),
        {
            "channel": "phone",
            "metric": "answer_within",
            "threshold": "15",
            "target_share": "85",
            "effective_from": "2025-07-01T00:00",
        },
    )

    assert response.status_code == 302
    old, new = ServiceLevel.objects.order_by("effective_from")
    assert old.effective_to == new.effective_from and new.threshold == 15
    listing = client.get(reverse("standards:service_levels"))
    assert [level.threshold for level, _label, _css in listing.context["rows"]] == [15, 20]


def test_a_bad_service_level_is_shown_beside_the_field(client, compliance_officer):
    client.force_login(compliance_officer)

    response = client.post(
        reverse("standards:service_level_create"),
        {"channel": "phone", "metric": "answer_within", "threshold": "0", "target_share": "120"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"threshold", "target_share", "effective_from"} <= set(errors)
    assert not ServiceLevel.objects.exists()


def test_standard_codes_are_unique(client, compliance_officer, publish_standard):
    publish_standard()
    client.force_login(compliance_officer)

    response = client.post(
        reverse("standards:standard_create"),
        {"code": "card-phone", "name_en": "x", "name_zh": "x", "channel": "chat"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert Standard.objects.count() == 1
