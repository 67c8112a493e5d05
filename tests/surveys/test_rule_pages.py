"""Survey rules and the outbox pages: who may read and change them, bad input beside the
field with nothing saved, every change audited."""

import pytest
from django.urls import reverse

from servicecharter.accounts.choices import Role
from servicecharter.core.models import AuditEntry
from servicecharter.surveys.choices import OutboxState
from servicecharter.surveys.models import OutboxMessage, SurveyRule
from tests.conftest import make_user

RULES = reverse("surveys:rules")
NEW = reverse("surveys:rule_create")
VALID = {
    "name": "After a phone call",
    "trigger": "interaction",
    "channel": "phone",
    "business_type": "",
    "sampling_rate": "20",
    "fatigue_days": "30",
    "valid_days": "14",
    "ask_csat": "on",
    "ask_nps": "on",
    "ask_comment": "on",
    "is_active": "on",
}


@pytest.fixture
def bj_auditor(tree):
    return make_user("bj.auditor", Role.QUALITY_AUDITOR, tree["bj"])


def test_an_administrator_creates_and_edits_a_rule(client, admin_user):
    client.force_login(admin_user)

    created = client.post(NEW, VALID)

    assert created.status_code == 302
    rule = SurveyRule.objects.get()
    assert (rule.channel, rule.sampling_rate, rule.ask_effort) == ("phone", 20, False)
    assert AuditEntry.objects.filter(action="surveys.rule_create").exists()
    edited = client.post(
        reverse("surveys:rule_edit", args=[rule.pk]), {**VALID, "sampling_rate": "50"}
    )
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert rule.sampling_rate == 50
    entry = AuditEntry.objects.get(action="surveys.rule_update")
    assert entry.changes == {"sampling_rate": [20, 50]}
    assert "After a phone call" in client.get(RULES).content.decode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sampling_rate": "101"}, "sampling_rate"),
        ({"valid_days": "0"}, "valid_days"),
        ({"name": "  "}, "name"),
        ({"ask_csat": "", "ask_nps": ""}, "ask_csat"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    client, admin_user, change, field
):
    client.force_login(admin_user)
    data = {key: value for key, value in {**VALID, **change}.items() if value != ""}

    response = client.post(NEW, data)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not SurveyRule.objects.exists()


def test_a_branch_auditor_reads_the_rules_but_cannot_change_them(client, bj_auditor):
    client.force_login(bj_auditor)
    assert client.get(RULES).status_code == 200
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, VALID).status_code == 403
    assert not SurveyRule.objects.exists()


def test_people_without_the_capability_are_refused(client, bj_supervisor):
    client.force_login(bj_supervisor)
    assert client.get(RULES).status_code == 403
    assert client.get(reverse("surveys:outbox")).status_code == 403


def test_the_outbox_masks_addresses_and_sends_a_failed_message_again(client, admin_user):
    message = OutboxMessage.objects.create(
        to="wang.fang@example.com",
        subject="How did we do?",
        body="…",
        state=OutboxState.FAILED,
        attempts=6,
        last_error="SMTPServerDisconnected: gone",
    )
    client.force_login(admin_user)

    page = client.get(reverse("surveys:outbox"), {"state": "failed"})
    retried = client.post(reverse("surveys:outbox_retry", args=[message.pk]))

    html = page.content.decode()
    assert "w•••@example.com" in html and "wang.fang" not in html
    assert "SMTPServerDisconnected: gone" in html
    assert retried.status_code == 302
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.PENDING, 0)
    assert message.last_error == "SMTPServerDisconnected: gone"
