"""The outbox: the worker sends pending messages through the configured mail backend (locmem
in tests, console by default), fills in the link, retries failures later with the error
kept, gives up after the last attempt; open invitations expire."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone

from servicecharter.surveys import services
from servicecharter.surveys.choices import InvitationState, OutboxState
from servicecharter.surveys.models import OutboxMessage


@pytest.fixture
def queued(invite, bj_staff, bj_customer):
    invitation, token = invite(bj_staff, bj_customer)
    return invitation, token, OutboxMessage.objects.get(invitation=invitation)


def test_the_worker_sends_the_invitation_with_its_link(queued):
    invitation, token, message = queued

    run = services.outbox_send_due()

    assert (run.sent, run.failed) == (1, 0)
    [email] = mail.outbox
    assert email.to == ["wang.fang@example.com"]
    assert f"/survey/{token}/" in email.body
    assert services.LINK_PLACEHOLDER not in email.body
    message.refresh_from_db()
    invitation.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.SENT, 1)
    assert message.sent_at is not None and token not in message.body
    assert invitation.state == InvitationState.SENT
    assert services.outbox_send_due().sent == 0  # nothing twice


def test_the_message_is_in_the_customers_language(invite, bj_staff, sh_customer, bj_customer):
    invite(bj_staff, bj_customer)
    invite(bj_staff, sh_customer)

    services.outbox_send_due()

    by_address = {email.to[0]: email for email in mail.outbox}
    assert by_address["jo@example.com"].subject.startswith("How did we do?")
    # The expiry date is written the customer's way (the texts are translated at release).
    expires = timezone.localdate() + timedelta(days=14)
    assert (
        f"{expires.year}年{expires.month}月{expires.day}日"
        in by_address["wang.fang@example.com"].body
    )
    assert "年" not in by_address["jo@example.com"].body


def test_a_failure_is_kept_and_retried_later(queued, monkeypatch):
    _invitation, _token, message = queued
    calls = []

    def refuse(self, *args, **kwargs):
        calls.append(self.to)
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    run = services.outbox_send_due()

    assert (run.sent, run.failed) == (0, 1)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.PENDING, 1)
    assert message.last_error == "ConnectionRefusedError: mail server down"
    assert message.next_attempt_at > timezone.now()
    assert services.outbox_send_due().failed == 0  # not before its pause
    assert len(calls) == 1

    monkeypatch.undo()
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert services.outbox_send_due().sent == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.SENT, 2)
    assert "mail server down" in message.last_error  # the history stays
    assert len(mail.outbox) == 1


def test_it_gives_up_after_the_last_attempt_and_can_be_sent_again(queued, monkeypatch, admin_user):
    _invitation, _token, message = queued

    def refuse(self, *args, **kwargs):
        raise OSError("no route")

    monkeypatch.setattr(EmailMessage, "send", refuse)
    now = timezone.now()
    for attempt in range(services.OUTBOX_MAX_ATTEMPTS):
        with time_machine.travel(now + timedelta(hours=attempt)):
            services.outbox_send_due()
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.FAILED, services.OUTBOX_MAX_ATTEMPTS)

    monkeypatch.undo()
    services.outbox_message_retry(actor=admin_user, message=message)
    assert services.outbox_send_due().sent == 1
    assert len(mail.outbox) == 1


def test_open_invitations_expire_and_unsent_messages_are_given_up(queued):
    invitation, _token, message = queued

    with time_machine.travel(invitation.expires_at + timedelta(minutes=1)):
        assert services.invitations_expire() == 1
        assert services.invitations_expire() == 0

    invitation.refresh_from_db()
    message.refresh_from_db()
    assert invitation.state == InvitationState.EXPIRED
    assert message.state == OutboxState.FAILED
