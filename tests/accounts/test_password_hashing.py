from django.contrib.auth.hashers import check_password, make_password

from servicecharter import settings as project_settings


def test_production_hashes_passwords_with_argon2_first():
    assert project_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_an_argon2_hash_verifies(settings):
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    encoded = make_password("a long passphrase of several words")
    assert encoded.startswith("argon2$")
    assert check_password("a long passphrase of several words", encoded)
    assert not check_password("another passphrase entirely", encoded)
