"""Cursor pagination for the API lists: an opaque cursor naming the last id a page showed, so a
page costs the same however deep it is and rows added meanwhile are neither skipped nor repeated."""

import base64
import binascii

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id inside ``cursor``; a cursor that was not made here is a field error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        label, _sep, value = raw.partition(":")
        if label != "id" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            {"cursor": _("This cursor is not valid: start again from the first page.")}
        ) from None


def next_link(request, cursor: str) -> str:
    """This request's URL with its filters, asking for the page after ``cursor``."""
    params = request.GET.copy()
    params["cursor"] = cursor
    return f"{request.path}?{params.urlencode()}"
