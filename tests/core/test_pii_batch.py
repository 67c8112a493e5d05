"""Personal-data crypto for imports: a batch encrypts as one value at a time does, and the
search digest is HMAC-SHA256 of the normalised value whatever the key."""

import hashlib
import hmac
import unicodedata

import pytest
from django.test import override_settings

from servicecharter.core import pii


@pytest.fixture(autouse=True)
def _fresh_keys():
    pii.reset_keys()
    yield
    pii.reset_keys()


def test_a_batch_encrypts_each_value_with_its_own_nonce_and_keeps_blanks_blank():
    values = ["110101199003071234", "", "北京市东城区景山前街4号", "110101199003071234"]
    ciphers = pii.encrypt_many(values)
    assert [pii.decrypt(cipher) for cipher in ciphers] == values
    assert ciphers[1] == ""
    assert ciphers[0] != ciphers[3]  # the same value, a different nonce
    assert ciphers[0].split(":")[:2] == pii.encrypt("x").split(":")[:2]  # same form and key
    assert pii.encrypt_many([]) == []


def _reference_digest(key: str, value: str) -> str:
    canonical = unicodedata.normalize("NFKC", value).translate(pii._DROPPED).upper()
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", ["short", "k" * 64, "a key longer than a block " * 4, "密钥"])
@pytest.mark.parametrize(
    "value", ["11010119900307123x", "１３８ 1234-5678", "(010) 6512-3456", "ǅemal", "G1234567"]
)
def test_the_digest_is_hmac_sha256_of_the_normalised_value(key, value):
    with override_settings(PII_HASH_KEY=key):
        assert pii.digest(value) == _reference_digest(key, value)


def test_plain_ascii_numbers_normalise_to_upper_case_only():
    assert pii.normalise("11010119900307123x") == "11010119900307123X"
    assert pii.normalise("ǆ") == unicodedata.normalize("NFKC", "ǆ").upper()
    assert pii.normalise(None) == ""


def test_a_batch_of_digests_equals_the_digests_one_by_one():
    values = ["11010119900307123x", "", "１３８ 1234-5678"]
    assert pii.digest_many(values) == [pii.digest(value) for value in values]
    assert pii.digest_many(values)[1] == ""
