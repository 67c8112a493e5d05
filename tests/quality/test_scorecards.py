"""Scorecards: drafting, editing only drafts, activating through the statistics module's checks,
and editing a version in use drafting a copy that never changes the old one."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from servicecharter.core.models import AuditEntry, Event
from servicecharter.quality import selectors, services
from servicecharter.quality.choices import CriterionCategory, Scale, ScorecardState
from servicecharter.quality.models import Criterion, ScorecardVersion
from tests.quality.conftest import ALL_GOOD, PHONE_CARD, build_scorecard


def _criteria(version) -> list[tuple]:
    return list(
        Criterion.objects.filter(section__version=version)
        .order_by("section__order", "order")
        .values_list("code", "weight", "scale", "category", "critical")
    )


def test_a_new_scorecard_starts_with_an_empty_draft(auditor):
    scorecard = services.scorecard_create(
        actor=auditor, code=" counter ", name_en="Counter", name_zh="柜面"
    )

    version = scorecard.versions.get()
    assert scorecard.code == "COUNTER"
    assert (version.number, version.state, version.pass_mark) == (1, ScorecardState.DRAFT, 80)
    assert AuditEntry.objects.filter(action="scorecard.create").count() == 1


def test_a_code_is_used_once(auditor, phone_card):
    with pytest.raises(ValidationError) as error:
        services.scorecard_create(actor=auditor, code="phone", name_en="x", name_zh="x")

    assert "code" in error.value.message_dict


def test_only_an_institution_wide_quality_manager_writes_scorecards(tree, bj_supervisor):
    from servicecharter.accounts.choices import Role
    from tests.conftest import make_user

    branch_auditor = make_user("bj.auditor", Role.QUALITY_AUDITOR, tree["bj"])

    for actor in (bj_supervisor, branch_auditor):
        with pytest.raises(PermissionDenied):
            services.scorecard_create(actor=actor, code="X", name_en="x", name_zh="x")


def test_activating_puts_the_draft_in_use(auditor):
    version = build_scorecard(auditor, activate=False)

    services.scorecard_version_activate(actor=auditor, version=version)

    version.refresh_from_db()
    assert version.state == ScorecardState.ACTIVE
    assert Event.objects.filter(name="scorecard.activated").count() == 1


def test_a_version_the_statistics_cannot_score_is_not_activated(auditor):
    version = build_scorecard(auditor, sections=(), activate=False)
    services.section_add(actor=auditor, version=version, name_en="Empty", name_zh="空", weight=1)

    with pytest.raises(ValidationError) as error:
        services.scorecard_version_activate(actor=auditor, version=version)

    assert "no criteria" in " ".join(error.value.messages)
    version.refresh_from_db()
    assert version.state == ScorecardState.DRAFT


def test_a_scorecard_without_sections_is_not_activated(auditor):
    version = build_scorecard(auditor, sections=(), activate=False)

    with pytest.raises(ValidationError):
        services.scorecard_version_activate(actor=auditor, version=version)


def test_a_critical_item_must_be_a_yes_no_question(auditor):
    version = build_scorecard(auditor, sections=(), activate=False)
    section = services.section_add(
        actor=auditor, version=version, name_en="S", name_zh="S", weight=1
    )

    with pytest.raises(ValidationError) as error:
        services.criterion_add(
            actor=auditor,
            section=section,
            code="risk_disclosure",
            text_en="Risk disclosed",
            text_zh="风险揭示",
            weight=1,
            scale=Scale.ONE_TO_FIVE,
            category=CriterionCategory.COMPLIANCE,
            critical=True,
        )

    assert "yes/no" in error.value.message_dict["critical"][0]
    assert not Criterion.objects.exists()


@pytest.mark.parametrize("weight", [0, -1, "abc"])
def test_a_weight_must_be_positive(auditor, weight):
    version = build_scorecard(auditor, sections=(), activate=False)
    section = services.section_add(
        actor=auditor, version=version, name_en="S", name_zh="S", weight=1
    )

    with pytest.raises(ValidationError) as error:
        services.criterion_add(
            actor=auditor,
            section=section,
            code="x",
            text_en="x",
            text_zh="x",
            weight=weight,
            scale=Scale.YES_NO,
            category=CriterionCategory.PROCESS,
        )

    assert "weight" in error.value.message_dict


def test_a_criterion_code_is_used_once_per_version(auditor):
    version = build_scorecard(auditor, activate=False)
    section = version.sections.first()

    with pytest.raises(ValidationError) as error:
        services.criterion_add(
            actor=auditor,
            section=section,
            code="greeting",
            text_en="Again",
            text_zh="再次",
            weight=1,
            scale=Scale.YES_NO,
            category=CriterionCategory.ATTITUDE,
        )

    assert "code" in error.value.message_dict


def test_a_version_in_use_is_never_edited(auditor, phone_card):
    section = phone_card.sections.first()
    criterion = section.criteria.first()

    with pytest.raises(ValidationError):
        services.criterion_update(actor=auditor, criterion=criterion, weight=5)
    with pytest.raises(ValidationError):
        services.section_update(actor=auditor, section=section, name_en="x", name_zh="x", weight=1)
    with pytest.raises(ValidationError):
        services.scorecard_version_update(actor=auditor, version=phone_card, pass_mark=50)

    assert _criteria(phone_card)[0][1] == 1


def test_editing_a_version_with_evaluations_drafts_a_copy(auditor, phone_card, scored, bj_staff):
    evaluation = scored(bj_staff, ALL_GOOD)
    before = _criteria(phone_card)

    draft = services.scorecard_version_edit(actor=auditor, version=phone_card)
    services.criterion_update(
        actor=auditor,
        criterion=Criterion.objects.get(section__version=draft, code="accuracy"),
        weight=10,
    )
    services.scorecard_version_activate(actor=auditor, version=draft)

    phone_card.refresh_from_db()
    assert (draft.number, phone_card.state) == (2, ScorecardState.RETIRED)
    assert _criteria(phone_card) == before
    assert [row[0] for row in _criteria(draft)] == [row[0] for row in before]
    assert dict((c, w) for c, w, *_ in _criteria(draft))["accuracy"] == 10
    evaluation.refresh_from_db()
    assert evaluation.scorecard_version_id == phone_card.pk


def test_editing_again_opens_the_same_draft(auditor, phone_card):
    first = services.scorecard_version_edit(actor=auditor, version=phone_card)
    second = services.scorecard_version_edit(actor=auditor, version=phone_card)

    assert first == second
    assert ScorecardVersion.objects.filter(state=ScorecardState.DRAFT).count() == 1


def test_a_draft_is_edited_in_place(auditor):
    version = build_scorecard(auditor, activate=False)

    assert services.scorecard_version_edit(actor=auditor, version=version) == version


def test_removing_a_section_removes_its_criteria(auditor):
    version = build_scorecard(auditor, activate=False)

    services.section_remove(actor=auditor, section=version.sections.first())

    assert [code for code, *_ in _criteria(version)] == ["accuracy", "courtesy"]


def test_the_version_scores_through_the_statistics_module(auditor, phone_card):
    card = selectors.version_scorecard(selectors.scorecard_version_with_criteria(phone_card.pk))

    assert [section.key for section in card.sections] == ["S1", "S2"]
    assert [criterion.key for criterion in card.criteria] == [
        code for (_name, criteria) in PHONE_CARD for code, *_ in criteria
    ]
    assert card.criteria[1].critical


def test_drafts_are_hidden_from_those_who_cannot_edit_them(auditor, bj_supervisor):
    from django.http import Http404

    draft = build_scorecard(auditor, activate=False)

    with pytest.raises(Http404):
        selectors.scorecard_version_get(user=bj_supervisor, pk=draft.pk)
    assert selectors.scorecard_version_get(user=auditor, pk=draft.pk) == draft


def test_the_demo_scorecards_are_bilingual_in_use_and_have_critical_items(db):
    from servicecharter.demo.quality import quality_seed
    from servicecharter.demo.services import institution_seed

    institution_seed(seed=3, customers=0)
    summary = quality_seed(seed=3)

    assert (summary.scorecards, summary.evaluations) == (2, 0)
    versions = ScorecardVersion.objects.select_related("scorecard")
    assert {(v.scorecard.code, v.state) for v in versions} == {
        ("PHONE", ScorecardState.ACTIVE),
        ("COUNTER", ScorecardState.ACTIVE),
    }
    assert not Criterion.objects.filter(text_zh="").exists()
    critical = set(Criterion.objects.filter(critical=True).values_list("code", "scale"))
    assert critical == {
        ("verify_identity", Scale.YES_NO),
        ("verify_identity_document", Scale.YES_NO),
        ("risk_disclosure", Scale.YES_NO),
    }
    assert Criterion.objects.get(code="risk_disclosure").text_zh.startswith("进行风险揭示")
    for version in versions:
        selectors.version_scorecard(selectors.scorecard_version_with_criteria(version.pk))
