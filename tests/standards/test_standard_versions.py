"""Standards and their versions: drafting copies, only drafts are edited, publishing closes the
version before, and only institution-wide managers write."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry, Event
from servicecharter.org.choices import Channel
from servicecharter.standards import services
from servicecharter.standards.choices import Phase, VersionState
from tests.conftest import make_user
from tests.standards.conftest import CARD_STEPS, T0


def test_a_new_standard_starts_with_an_empty_draft(compliance_officer, business_types):
    standard = services.standard_create(
        actor=compliance_officer,
        code="card-phone",
        name_en="Cards by phone",
        name_zh="信用卡电话服务",
        business_type=business_types["cards"],
        channel=Channel.PHONE,
    )

    assert standard.code == "CARD-PHONE"
    draft = standard.versions.get()
    assert (draft.number, draft.state, draft.steps.count()) == (1, VersionState.DRAFT, 0)
    assert AuditEntry.objects.filter(action="standard.create").exists()


def test_a_second_standard_for_the_same_type_and_channel_is_refused(
    compliance_officer, publish_standard, business_types
):
    publish_standard(business_type=business_types["cards"])

    with pytest.raises(ValidationError) as refused:
        services.standard_create(
            actor=compliance_officer,
            code="OTHER",
            name_en="x",
            name_zh="x",
            business_type=business_types["cards"],
            channel=Channel.PHONE,
        )
    assert "CARD-PHONE" in str(refused.value.message_dict["channel"])


def test_publishing_puts_the_draft_in_force_and_emits_an_event(
    publish_standard, compliance_officer
):
    version = publish_standard()

    assert version.state == VersionState.PUBLISHED
    assert version.effective_from == T0 and version.effective_to is None
    assert version.published_by == compliance_officer
    assert [s.code for s in version.steps.order_by("order")] == [s[0] for s in CARD_STEPS]
    event = Event.objects.get(name="standard.published")
    assert event.payload["version_id"] == version.pk


def test_a_published_version_is_never_edited(publish_standard, compliance_officer):
    version = publish_standard()
    step = version.steps.first()

    with pytest.raises(ValidationError):
        services.standard_step_update(actor=compliance_officer, step=step, target_seconds=99)
    with pytest.raises(ValidationError):
        services.standard_step_remove(actor=compliance_officer, step=step)
    with pytest.raises(ValidationError):
        services.standard_step_add(
            actor=compliance_officer,
            version=version,
            code="new",
            phase=Phase.FEEDBACK,
            name_en="n",
            name_zh="n",
        )
    step.refresh_from_db()
    assert step.target_seconds == 10 and version.steps.count() == len(CARD_STEPS)


def test_editing_drafts_a_new_version_copied_from_the_latest(publish_standard, compliance_officer):
    v1 = publish_standard()

    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)
    same = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)

    assert draft == same and draft.number == 2 and draft.state == VersionState.DRAFT
    copied = list(
        draft.steps.order_by("order").values_list("code", "target_seconds", "is_disclosure")
    )
    original = list(
        v1.steps.order_by("order").values_list("code", "target_seconds", "is_disclosure")
    )
    assert copied == original
    greeting = draft.steps.get(code="greeting")
    services.standard_step_update(actor=compliance_officer, step=greeting, target_seconds=5)
    assert v1.steps.get(code="greeting").target_seconds == 10


def test_publishing_a_new_version_ends_the_one_before(publish_standard, compliance_officer):
    v1 = publish_standard()
    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)
    switch = T0 + timedelta(days=90)

    v2 = services.standard_version_publish(
        actor=compliance_officer, version=draft, effective_from=switch
    )

    v1.refresh_from_db()
    assert v1.effective_to == switch and v2.effective_from == switch
    assert v1.in_force_at(switch - timedelta(seconds=1)) and not v1.in_force_at(switch)
    assert v2.in_force_at(switch)


def test_a_new_version_must_take_effect_after_the_previous(publish_standard, compliance_officer):
    v1 = publish_standard()
    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)

    with pytest.raises(ValidationError) as refused:
        services.standard_version_publish(
            actor=compliance_officer, version=draft, effective_from=T0
        )

    assert "effective_from" in refused.value.message_dict
    draft.refresh_from_db()
    v1.refresh_from_db()
    assert draft.state == VersionState.DRAFT and v1.effective_to is None


def test_a_version_without_steps_cannot_be_published(compliance_officer):
    standard = services.standard_create(
        actor=compliance_officer, code="X", name_en="x", name_zh="x"
    )

    with pytest.raises(ValidationError):
        services.standard_version_publish(
            actor=compliance_officer, version=standard.versions.get(), effective_from=T0
        )


def test_a_disclosure_must_be_mandatory_and_codes_unique(compliance_officer):
    draft = services.standard_create(
        actor=compliance_officer, code="X", name_en="x", name_zh="x"
    ).versions.get()
    step = dict(phase=Phase.HANDLING, name_en="Risk", name_zh="风险揭示")

    with pytest.raises(ValidationError) as not_mandatory:
        services.standard_step_add(
            actor=compliance_officer, version=draft, code="risk", is_disclosure=True, **step
        )
    services.standard_step_add(
        actor=compliance_officer,
        version=draft,
        code="risk",
        mandatory=True,
        is_disclosure=True,
        **step,
    )
    with pytest.raises(ValidationError) as taken:
        services.standard_step_add(actor=compliance_officer, version=draft, code="risk", **step)

    assert "mandatory" in not_mandatory.value.message_dict
    assert "code" in taken.value.message_dict


def test_steps_move_up_and_down(compliance_officer, publish_standard):
    v1 = publish_standard()
    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)
    identify = draft.steps.get(code="identify")

    services.standard_step_move(actor=compliance_officer, step=identify, direction="up")

    assert list(draft.steps.order_by("order").values_list("code", flat=True))[:2] == [
        "identify",
        "greeting",
    ]


def test_a_branch_scoped_manager_may_not_write_standards(tree, business_types):
    branch_compliance = make_user("bj.compliance", Role.COMPLIANCE, tree["bj"])
    agent = make_user("agent2", Role.AGENT, tree["head"])

    for user in (branch_compliance, agent):
        with pytest.raises(PermissionDenied):
            services.standard_create(actor=user, code="X", name_en="x", name_zh="x")


def test_a_published_standard_keeps_its_business_type_and_channel(
    publish_standard, compliance_officer, business_types
):
    v1 = publish_standard()

    with pytest.raises(ValidationError):
        services.standard_update(
            actor=compliance_officer,
            standard=v1.standard,
            name_en="renamed",
            name_zh="改名",
            business_type=business_types["wealth"],
            channel=Channel.PHONE,
        )
    services.standard_update(
        actor=compliance_officer, standard=v1.standard, name_en="renamed", name_zh="改名"
    )
    v1.standard.refresh_from_db()
    assert v1.standard.name_en == "renamed" and v1.standard.business_type is None
