"""``charter audit verify``: recompute the audit trail's hash chain and name the first broken link."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from servicecharter.core.audit import VERIFY_BATCH, verify_chain


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse needs a real string, translated when asked
        return _("Verify the tamper-evident audit trail (charter audit verify).")

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True)
        verify = subcommands.add_parser(
            "verify", help=_("Walk the hash chain in order; exit 1 at the first broken link.")
        )
        verify.add_argument(
            "--batch-size",
            type=int,
            default=VERIFY_BATCH,
            help=_("Entries read per query (memory stays constant)."),
        )

    def handle(self, *args, subcommand: str, batch_size: int = VERIFY_BATCH, **options):
        if batch_size < 1:
            raise CommandError(_("--batch-size must be at least 1."))
        report = verify_chain(batch_size=batch_size)
        if not report.intact:
            raise CommandError(
                _(
                    "chain broken at entry #%(seq)d (entries verified before it: %(count)d). %(problem)s"
                )
                % {
                    "seq": report.broken.seq,
                    "count": report.entries,
                    "problem": report.broken.message,
                },
                returncode=1,
            )
        self.stdout.write(_("chain intact: %(count)d entries") % {"count": report.entries})
        if report.entries:
            self.stdout.write(
                _("head: #%(seq)d %(hash)s") % {"seq": report.head_seq, "hash": report.head_hash}
            )
