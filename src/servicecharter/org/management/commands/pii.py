"""``charter pii rotate``: re-encrypt personal data with the newest key.

To rotate: put a new Fernet key FIRST in PII_ENCRYPTION_KEYS (keep the old ones after it),
run this command, then remove the old keys. A new PII_HASH_KEY is picked up the same way.
"""

from django.core.management.base import BaseCommand, CommandError

from servicecharter.org.services import customer_pii_rotate


class Command(BaseCommand):
    help = "Personal data: 'rotate' re-encrypts it with the newest key and rebuilds search digests."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["rotate"])
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, action: str, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        count = customer_pii_rotate(batch_size=batch_size)
        self.stdout.write(
            self.style.SUCCESS(f"Re-encrypted the personal data of {count} customers.")
        )
