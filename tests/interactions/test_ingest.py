"""interaction_ingest_many: idempotent by external id, stamped with the version in force at
each interaction's time, deviations written beside it, one audit row per batch."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from servicecharter.core.models import AuditEntry, Event
from servicecharter.interactions.ingest import Resolver
from servicecharter.interactions.models import Deviation, Interaction
from servicecharter.interactions.services import interaction_ingest_many
from servicecharter.org.choices import Channel
from servicecharter.standards import services as standard_services
from tests.interactions.conftest import row
from tests.standards.conftest import add_steps


def test_it_stores_a_batch_and_judges_each_row(ingester, bj_staff, card_version, business_types):
    cards = business_types["cards"].pk
    rows = [
        row(bj_staff, 1, business_type_id=cards),
        row(bj_staff, 2, business_type_id=cards, steps=[{"step": "greeting", "at": 15}]),
        row(bj_staff, 3, business_type_id=cards, wait_seconds=45),
    ]

    result = interaction_ingest_many(rows, actor=ingester)

    assert result.created == [True, True, True] and result.deviations == 4
    first, second, third = (Interaction.objects.get(pk=pk) for pk in result.ids)
    assert first.standard_version == card_version and first.deviation_count == 0
    assert first.steps == rows[0].steps and first.department_id == bj_staff.department_id
    kinds = sorted(second.deviations.values_list("kind", "step_code"))
    assert kinds == [
        ("missed_disclosure", "fee_disclosure"),
        ("missed_step", "identify"),
        ("step_late", "greeting"),
    ]
    assert second.deviation_count == 3
    late = second.deviations.get(kind="step_late")
    assert (late.expected, late.actual) == ("10", "15")
    assert late.staff_id_at == bj_staff.pk and late.at == second.started_at
    level = third.deviations.get()
    assert (level.kind, level.step_code, level.expected, level.actual) == (
        "service_level",
        "answer_within",
        "20",
        "45",
    )


def test_a_resent_id_changes_nothing(ingester, bj_staff, card_version):
    first = interaction_ingest_many([row(bj_staff, 1)], actor=ingester)
    changed = row(bj_staff, 1, wait_seconds=999, steps=[], notes="changed")

    again = interaction_ingest_many([changed, row(bj_staff, 2)], actor=ingester)

    assert again.created == [False, True] and again.ids[0] == first.ids[0]
    stored = Interaction.objects.get(pk=first.ids[0])
    assert stored.wait_seconds == 12 and stored.notes == "" and stored.deviation_count == 0
    assert Interaction.objects.count() == 2
    assert Deviation.objects.count() == 0


def test_the_same_id_twice_in_a_batch_is_stored_once(ingester, bj_staff, card_version):
    result = interaction_ingest_many([row(bj_staff, 1), row(bj_staff, 1)], actor=ingester)

    assert result.created == [True, False]
    assert result.ids[0] == result.ids[1]
    assert Interaction.objects.count() == 1


def test_the_same_id_from_another_system_is_another_interaction(ingester, bj_staff, card_version):
    interaction_ingest_many([row(bj_staff, 1)], actor=ingester)
    result = interaction_ingest_many([row(bj_staff, 1, external_system="crm")], actor=ingester)

    assert result.created == [True]
    assert Interaction.objects.count() == 2


def test_one_audit_row_and_one_event_per_batch(ingester, bj_staff, card_version):
    before = AuditEntry.objects.filter(action="interactions.ingest").count()

    interaction_ingest_many([row(bj_staff, n, wait_seconds=30) for n in range(50)], actor=ingester)

    entries = AuditEntry.objects.filter(action="interactions.ingest")
    assert entries.count() == before + 1
    changes = entries.order_by("-seq").first().changes
    assert changes["created"] == 50 and changes["deviations"] == 50
    event = Event.objects.get(name="interactions.ingested")
    assert event.payload["created"] == 50


def test_a_batch_of_known_ids_emits_no_event(ingester, bj_staff, card_version):
    interaction_ingest_many([row(bj_staff, 1)], actor=ingester)
    interaction_ingest_many([row(bj_staff, 1)], actor=ingester)

    assert Event.objects.filter(name="interactions.ingested").count() == 1


def test_it_refuses_a_caller_without_the_capability(bj_supervisor, bj_staff, card_version):
    with pytest.raises(PermissionDenied):
        interaction_ingest_many([row(bj_staff, 1)], actor=bj_supervisor)
    assert not Interaction.objects.exists()


def test_without_a_standard_only_the_service_level_is_judged(ingester, bj_staff, phone_level):
    result = interaction_ingest_many([row(bj_staff, 1, wait_seconds=25)], actor=ingester)

    stored = Interaction.objects.get(pk=result.ids[0])
    assert stored.standard_version is None
    assert list(stored.deviations.values_list("kind", flat=True)) == ["service_level"]


def test_an_abandoned_call_is_judged_only_on_its_wait(
    ingester, bj_staff, card_version, business_types
):
    abandoned = row(
        bj_staff,
        1,
        staff_id=None,
        business_type_id=business_types["cards"].pk,
        outcome="abandoned",
        steps=[],
        wait_seconds=50,
        handle_seconds=None,
    )

    result = interaction_ingest_many([abandoned], actor=ingester)

    stored = Interaction.objects.get(pk=result.ids[0])
    assert stored.staff is None and stored.standard_version == card_version
    assert list(stored.deviations.values_list("kind", flat=True)) == ["service_level"]


# Versioning --------------------------------------------------------------------------------


def _new_version(manager, standard, effective_from, steps):
    draft = standard_services.standard_version_draft(actor=manager, standard=standard)
    for step in draft.steps.all():
        standard_services.standard_step_remove(actor=manager, step=step)
    add_steps(manager, draft, steps)
    return standard_services.standard_version_publish(
        actor=manager, version=draft, effective_from=effective_from
    )


def test_a_new_version_never_changes_how_past_interactions_were_judged(
    ingester, compliance_officer, bj_staff, card_version, business_types
):
    cards = business_types["cards"].pk
    june = row(bj_staff, 1, business_type_id=cards, steps=[{"step": "greeting", "at": 8}])
    judged = interaction_ingest_many([june], actor=ingester)
    before = sorted(Deviation.objects.values_list("kind", "step_code"))
    assert before == [("missed_disclosure", "fee_disclosure"), ("missed_step", "identify")]

    # Version 2 drops the identity step, tightens the greeting, and is even backdated.
    v2 = _new_version(
        compliance_officer,
        card_version.standard,
        june.started_at - timedelta(days=30),
        [("greeting", 5, True, False)],
    )

    stored = Interaction.objects.get(pk=judged.ids[0])
    assert stored.standard_version == card_version
    assert sorted(Deviation.objects.values_list("kind", "step_code")) == before
    card_version.refresh_from_db()
    assert card_version.effective_to == v2.effective_from

    # A new interaction of that time is judged by the version now in force then.
    later = interaction_ingest_many(
        [row(bj_staff, 2, business_type_id=cards, steps=[{"step": "greeting", "at": 8}])],
        actor=ingester,
    )
    second = Interaction.objects.get(pk=later.ids[0])
    assert second.standard_version == v2
    assert list(second.deviations.values_list("kind", "step_code")) == [("step_late", "greeting")]


def test_each_interaction_is_judged_by_the_version_in_force_at_its_time(
    ingester, compliance_officer, bj_staff, card_version, business_types
):
    cards = business_types["cards"].pk
    switch = timezone.make_aware(datetime(2025, 6, 2, 12, 0))
    v2 = _new_version(
        compliance_officer, card_version.standard, switch, [("greeting", 5, True, False)]
    )
    before = row(bj_staff, 1, business_type_id=cards, started_at=switch - timedelta(seconds=1))
    at_switch = row(bj_staff, 2, business_type_id=cards, started_at=switch)

    result = interaction_ingest_many([before, at_switch], actor=ingester)

    versions = [Interaction.objects.get(pk=pk).standard_version for pk in result.ids]
    assert versions == [card_version, v2]


def test_the_most_specific_standard_judges(
    ingester, bj_staff, publish_standard, business_types, phone_level
):
    general = publish_standard(code="PHONE", steps=[("greeting", 10, True, False)])
    cards = publish_standard(code="CARDS", business_type=business_types["cards"])

    result = interaction_ingest_many(
        [
            row(bj_staff, 1, business_type_id=business_types["credit"].pk),
            row(bj_staff, 2, business_type_id=business_types["wealth"].pk),
            row(bj_staff, 3),
        ],
        actor=ingester,
    )

    versions = [Interaction.objects.get(pk=pk).standard_version for pk in result.ids]
    assert versions == [cards, general, general]


def test_steps_are_stored_as_the_json_encoder_would_write_them():
    import json

    from servicecharter.interactions.services import steps_json

    steps = [{"step": 'say "hi"', "at": 0}, {"step": "风险揭示\\n", "at": 12}]
    assert json.loads(steps_json(steps)) == steps
    assert steps_json(steps) == json.dumps(steps, separators=(",", ":"), ensure_ascii=False)
    assert steps_json([]) == "[]"


def test_a_row_is_judged_by_the_version_in_force_at_its_instant_whatever_its_time_zone(
    ingester, compliance_officer, bj_staff, card_version, business_types
):
    # The resolver turns each time to UTC before the look-ups: the same instant, any zone.
    switch = timezone.make_aware(datetime(2025, 6, 2, 12, 0))  # noon in Beijing
    v2 = _new_version(
        compliance_officer, card_version.standard, switch, [("greeting", 5, True, False)]
    )
    beijing = timezone.get_fixed_timezone(8 * 60)
    times = {
        "beijing-before": datetime(2025, 6, 2, 11, 59, 59, tzinfo=beijing),
        "utc-before": datetime(2025, 6, 2, 3, 59, 59, tzinfo=UTC),
        "beijing-at": datetime(2025, 6, 2, 12, 0, tzinfo=beijing),
        "utc-at": datetime(2025, 6, 2, 4, 0, tzinfo=UTC),
    }
    rows = Resolver(ingester).resolve(
        [
            {
                "external_system": "ivr",
                "external_id": name,
                "channel": Channel.PHONE,
                "employee_number": bj_staff.employee_number,
                "business_type": business_types["cards"].code,
                "started_at": started_at,
                "outcome": "served",
                "wait_seconds": 12,
                "handle_seconds": 240,
                "steps": [{"step": "greeting", "at": 3}],
            }
            for name, started_at in times.items()
        ]
    )

    assert [resolved.started_at for resolved in rows] == list(times.values())
    result = interaction_ingest_many(rows, actor=ingester)
    versions = [Interaction.objects.get(pk=pk).standard_version for pk in result.ids]
    assert versions == [card_version, card_version, v2, v2]
