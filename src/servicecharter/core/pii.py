"""Sensitive personal information: field encryption, keyed hashes for exact search, masking.

Keys come from settings: ``PII_ENCRYPTION_KEYS`` (Fernet keys, newest first — older keys still
decrypt, so a key can be rotated by prepending a new one and re-encrypting at leisure) and
``PII_HASH_KEY`` (HMAC key of the search digests).
"""

import hashlib
import hmac
import unicodedata
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


@cache
def _fernet() -> MultiFernet:
    keys = settings.PII_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("PII_ENCRYPTION_KEYS must name at least one key.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"PII_ENCRYPTION_KEYS holds an invalid key: {exc}") from exc


def reset_keys() -> None:
    """Forget the cached keys (after settings change, e.g. in tests)."""
    _fernet.cache_clear()


@receiver(setting_changed)
def _forget_keys_when_settings_change(*, setting, **kwargs):
    if setting == "PII_ENCRYPTION_KEYS":
        reset_keys()


def normalise(value: str) -> str:
    """The canonical form that is hashed: full-width to ASCII, no spaces, dashes or brackets,
    upper case, so '110101 19900101 123x' and '11010119900101123X' find the same person."""
    value = unicodedata.normalize("NFKC", value or "")
    return "".join(ch for ch in value if ch not in " -()\u3000\t").upper()


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(cipher: str) -> str:
    if not cipher:
        return ""
    try:
        return _fernet().decrypt(cipher.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A personal-data field cannot be decrypted with the configured keys."
        ) from exc


def rotate(cipher: str) -> str:
    """Re-encrypt with the newest key."""
    return _fernet().rotate(cipher.encode("ascii")).decode("ascii") if cipher else ""


def digest(value: str) -> str:
    """Keyed hash of the normalised value: equal values give equal digests, and without the
    key nobody can test guesses against the table."""
    if not value:
        return ""
    key = settings.PII_HASH_KEY.encode("utf-8")
    return hmac.new(key, normalise(value).encode("utf-8"), hashlib.sha256).hexdigest()


def _mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def mask_id_number(value: str) -> str:
    """110101199001011234 → 110************1234 (first 3, last 4)."""
    return _mask_middle(normalise(value), 3, 4) if value else ""


def mask_phone(value: str) -> str:
    """13812345678 → 138****5678."""
    return _mask_middle(normalise(value), 3, 4) if value else ""


def mask_address(value: str) -> str:
    """Keep the first few characters (city or district), hide the rest."""
    if not value:
        return ""
    keep = min(6, max(1, len(value) // 3))
    return value[:keep] + "*" * 6
