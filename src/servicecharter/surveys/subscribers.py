"""Event subscribers and periodic jobs of the surveys module.

Dispatch reacts to the facts as they are stored: an ingest batch (``interactions.ingested``,
which names the batch's id range, so dispatch reads it in one set-based query off the
request path) and a closed case (``case.closed``). Both handlers are idempotent: an
interaction or case is invited at most once (database constraints), and the sampling draw is a
pure function of its id. The outbox is sent every minute; open invitations expire hourly.
"""

from datetime import timedelta

from servicecharter.core.events import subscriber
from servicecharter.core.worker import periodic
from servicecharter.surveys import services


@subscriber("interactions.ingested")
def invite_after_interactions(event) -> None:
    first, last = event.payload.get("first_id"), event.payload.get("last_id")
    if first is None or last is None:
        return  # a batch of interactions already recorded: nothing new
    services.survey_dispatch_interactions(first_id=first, last_id=last)


@subscriber("case.closed")
def invite_after_case_closed(event) -> None:
    services.survey_dispatch_case(case_id=event.payload["case_id"])


@periodic("surveys.send_outbox", every=timedelta(minutes=1))
def send_outbox() -> None:
    # A few batches per run (the worker runs a job in one transaction): a backlog drains at
    # up to 250 messages a minute, and a slow mail server cannot hold the job for long.
    for _batch in range(5):
        if not services.outbox_send_due().attempted:
            break


@periodic("surveys.expire_invitations", every=timedelta(hours=1))
def expire_invitations() -> None:
    services.invitations_expire()
