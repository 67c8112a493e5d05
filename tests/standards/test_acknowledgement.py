"""Staff acknowledge the version in force; the library shows whether they did."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from servicecharter.standards import services
from servicecharter.standards.models import StandardAcknowledgement
from tests.standards.conftest import T0


def test_acknowledging_is_recorded_once(publish_standard, bj_agent):
    version = publish_standard()

    first = services.standard_acknowledge(user=bj_agent, version=version)
    again = services.standard_acknowledge(user=bj_agent, version=version)

    assert first.pk == again.pk
    assert StandardAcknowledgement.objects.filter(user=bj_agent).count() == 1


def test_a_draft_or_superseded_version_cannot_be_acknowledged(
    publish_standard, compliance_officer, bj_agent
):
    v1 = publish_standard()
    draft = services.standard_version_draft(actor=compliance_officer, standard=v1.standard)

    with pytest.raises(ValidationError):
        services.standard_acknowledge(user=bj_agent, version=draft)
    services.standard_version_publish(
        actor=compliance_officer, version=draft, effective_from=T0 + timedelta(days=1)
    )
    v1.refresh_from_db()
    with pytest.raises(ValidationError):
        services.standard_acknowledge(user=bj_agent, version=v1)


def test_the_acknowledge_button_records_it(client, publish_standard, bj_agent):
    version = publish_standard()
    client.force_login(bj_agent)

    response = client.post(reverse("standards:acknowledge", args=[version.pk]))

    assert response.status_code == 302
    assert StandardAcknowledgement.objects.filter(user=bj_agent, version=version).exists()
    page = client.get(reverse("standards:standard_detail", args=[version.standard_id]))
    assert page.context["acknowledged"] is True


def test_acknowledging_needs_a_post(client, publish_standard, bj_agent):
    version = publish_standard()
    client.force_login(bj_agent)

    assert client.get(reverse("standards:acknowledge", args=[version.pk])).status_code == 405
