"""`charter events dead|retry`: the dead-letter list of domain events, from the command line."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from servicecharter.core.context import Actor, reset_actor, set_actor
from servicecharter.core.services.events import (
    DeliveryRefused,
    dead_deliveries_for_command,
    event_deliveries_retry_dead,
    event_delivery_retry,
)


class Command(BaseCommand):
    help = "Show event deliveries that failed for good (dead) and put them back in the queue."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("dead", help="List dead deliveries with their last error.")
        retry = actions.add_parser("retry", help="Retry one dead delivery, or all of them.")
        retry.add_argument("delivery_id", nargs="?", type=int, help="The delivery to retry.")
        retry.add_argument("--all", action="store_true", help="Retry every dead delivery.")

    def handle(self, *args, action, **options):
        token = set_actor(Actor(label="charter events"))
        try:
            if action == "dead":
                self._list_dead()
            else:
                self._retry(options.get("delivery_id"), options.get("all", False))
        finally:
            reset_actor(token)

    def _list_dead(self) -> None:
        count = 0
        for delivery in dead_deliveries_for_command():
            if count == 0:
                header = (_("id"), _("event"), _("subscriber"), _("attempts"), _("last error"))
                self.stdout.write("\t".join(header))
            count += 1
            error = (delivery.last_error.strip().splitlines() or [""])[-1]
            self.stdout.write(
                f"{delivery.pk}\t{delivery.event.name}#{delivery.event_id}\t"
                f"{delivery.subscriber}\t{delivery.attempts}\t{error}"
            )
        if count == 0:
            self.stdout.write(_("No dead deliveries."))

    def _retry(self, delivery_id: int | None, retry_all: bool) -> None:
        if retry_all == (delivery_id is not None):
            raise CommandError(_("Give either a delivery id or --all."))
        if retry_all:
            count = event_deliveries_retry_dead()
            self.stdout.write(_("%(count)s deliveries queued again.") % {"count": count})
            return
        try:
            event_delivery_retry(delivery_id=delivery_id)
        except DeliveryRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(_("Delivery %(id)s queued again.") % {"id": delivery_id})
