"""Personal-data crypto: encryption at rest with rotatable keys, keyed search digests, masks."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings

from servicecharter.core import pii
from servicecharter.core.models import AuditEntry
from servicecharter.org.choices import CustomerSegment
from servicecharter.org.models import Customer
from servicecharter.org.services import customer_create, customer_pii_rotate

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _fresh_keys():
    pii.reset_keys()
    yield
    pii.reset_keys()


def _with_keys(*keys):
    pii.reset_keys()
    return override_settings(PII_ENCRYPTION_KEYS=list(keys))


def test_a_value_survives_encryption_and_the_cipher_does_not_contain_it():
    cipher = pii.encrypt("110101199003071234")
    assert "110101199003071234" not in cipher
    assert pii.decrypt(cipher) == "110101199003071234"
    assert pii.encrypt("") == "" and pii.decrypt("") == ""


def test_the_same_value_encrypts_differently_each_time():
    assert pii.encrypt("13812345678") != pii.encrypt("13812345678")


def test_digests_match_for_equal_values_however_they_are_typed():
    assert pii.digest("11010119900307123x") == pii.digest("110101 19900307 123X")
    assert pii.digest("138-1234-5678") == pii.digest("１３８１２３４５６７８")  # full-width
    assert pii.digest("(010) 6512-3456") == pii.digest("01065123456")
    assert pii.digest("13812345678") != pii.digest("1381234567")
    assert pii.digest("") == ""


def test_the_digest_depends_on_the_secret_key():
    before = pii.digest("13812345678")
    with override_settings(PII_HASH_KEY="another-key"):
        assert pii.digest("13812345678") != before


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (pii.mask_id_number, "110101199003071234", "110***********1234"),
        (pii.mask_id_number, "11010119900307123x", "110***********123X"),
        (pii.mask_id_number, "G1234567", "G12*4567"),
        (pii.mask_id_number, "1234", "****"),
        (pii.mask_phone, "13812345678", "138****5678"),
        (pii.mask_phone, "138 1234 5678", "138****5678"),
        (pii.mask_phone, "", ""),
        (pii.mask_address, "北京市东城区景山前街4号", "北京市东******"),
        (pii.mask_address, "", ""),
    ],
)
def test_masks_hide_the_middle(mask, value, masked):
    assert mask(value) == masked


def test_an_old_key_still_decrypts_after_a_new_one_is_put_first():
    with _with_keys(OLD_KEY):
        cipher = pii.encrypt("secret")
    with _with_keys(NEW_KEY, OLD_KEY):
        assert pii.decrypt(cipher) == "secret"
        rotated = pii.rotate(cipher)
    with _with_keys(NEW_KEY):
        assert pii.decrypt(rotated) == "secret"
        with pytest.raises(ImproperlyConfigured):
            pii.decrypt(cipher)


def test_a_missing_or_malformed_key_fails_loudly():
    with _with_keys(), pytest.raises(ImproperlyConfigured):
        pii.encrypt("x")
    with _with_keys("not-a-key"), pytest.raises(ImproperlyConfigured):
        pii.encrypt("x")


def test_rotation_rewrites_every_customer_under_the_new_keys(tree):
    with _with_keys(OLD_KEY):
        for i in range(5):
            customer_create(
                customer_number=f"R{i}",
                name=f"客户{i}",
                home_department=tree["bj"],
                segment=CustomerSegment.RETAIL,
                id_number=f"11010119900307{i:03d}1",
                phone=f"1380000000{i}",
                address="上海市黄浦区中山东一路",
            )
    with (
        _with_keys(NEW_KEY, OLD_KEY),
        override_settings(PII_HASH_KEY="rotated-hash-key"),
    ):
        assert customer_pii_rotate(batch_size=2) == 5
        new_digest = pii.digest("13800000003")
    with _with_keys(NEW_KEY), override_settings(PII_HASH_KEY="rotated-hash-key"):
        customer = Customer.objects.get(customer_number="R3")
        assert pii.decrypt(customer.phone_cipher) == "13800000003"
        assert pii.decrypt(customer.address_cipher) == "上海市黄浦区中山东一路"
        assert customer.phone_digest == new_digest
    assert AuditEntry.objects.filter(action="pii.rotate").count() == 1


def test_the_rotate_command_reports_what_it_did(tree, capsys):
    customer_create(
        customer_number="R9",
        name="客户",
        home_department=tree["bj"],
        segment=CustomerSegment.RETAIL,
        phone="13900000000",
    )
    call_command("pii", "rotate", "--batch-size", "10")
    assert "1 customers" in capsys.readouterr().out


def test_values_stored_as_fernet_tokens_before_aes_gcm_still_decrypt_and_rotate():
    with _with_keys(OLD_KEY):
        legacy = Fernet(OLD_KEY).encrypt(b"110101199003071234").decode()
        assert pii.decrypt(legacy) == "110101199003071234"
        rotated = pii.rotate(legacy)
        assert rotated.startswith(f"{pii.GCM_PREFIX}:")
        assert pii.decrypt(rotated) == "110101199003071234"


def test_a_tampered_cipher_is_refused():
    cipher = pii.encrypt("13812345678")
    prefix, key_id, body = cipher.split(":")
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    with pytest.raises(ImproperlyConfigured):
        pii.decrypt(f"{prefix}:{key_id}:{flipped}")
    with pytest.raises(ImproperlyConfigured):
        pii.decrypt(f"{prefix}:00000000:{body}")
