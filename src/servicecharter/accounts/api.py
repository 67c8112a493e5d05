"""The API's contract with its callers: how every error looks, and who is calling (``/api/me``).

Every error is JSON ``{"code": "...", "message": "...", "fields": {...}}`` with a stable
``code`` for programs and a ``message`` in the caller's language (an explicit Accept-Language,
else the user's own language). ``fields`` maps a field name to its messages (``__all__`` for
errors of the whole request) and is ``{}`` when no field is at fault.

| status | code |
| --- | --- |
| 400 | ``bad_request`` (e.g. a body that is not JSON) |
| 401 | ``unauthorized`` (no credentials), ``invalid_token`` (unknown, expired or revoked token) |
| 403 | ``forbidden``, ``insufficient_scope``, ``csrf_failed`` |
| 404 | ``not_found`` — also for rows outside the caller's scope, so ids cannot be probed |
| 409 | ``conflict`` (a unique value already taken) |
| 422 | ``validation_error`` |

Routers of later modules raise Django's own exceptions (``Http404``, ``PermissionDenied``,
``ValidationError``) and get this shape for free.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Router, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as SchemaValidationError

from servicecharter.accounts.scoping import roles_of
from servicecharter.accounts.tokens import InvalidToken

NON_FIELD = "__all__"
_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
    429: "too_many_requests",
}


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = {}


def error_response(api, request, status: int, code: str, message: str, fields=None):
    body = {"code": code, "message": str(message), "fields": fields or {}}
    return api.create_response(request, body, status=status)


def _default_message(status: int) -> str:
    return {
        400: _("The request could not be understood."),
        401: _("Sign in or send a valid API token."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        409: _("This conflicts with existing data."),
        422: _("Some values are not valid."),
        429: _("Too many requests. Try again later."),
    }.get(status, _("The request failed."))


def _schema_message(error: dict) -> str:
    """A message for one pydantic error, reusing Django's own wording (already translated)
    wherever Django has one."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return _("Enter a whole number.")
    if kind in {"decimal_parsing", "decimal_type", "float_parsing", "float_type"}:
        return _("Enter a number.")
    if kind.startswith("date") or kind.startswith("datetime"):
        return _("Enter a valid date.")
    if kind in {"bool_parsing", "bool_type"}:
        return _("Enter true or false.")
    if kind in {"enum", "literal_error"}:
        return _("Select a valid choice. That choice is not one of the available choices.")
    if kind == "greater_than_equal":
        return _("Ensure this value is greater than or equal to %(limit_value)s.") % {
            "limit_value": ctx.get("ge")
        }
    if kind == "less_than_equal":
        return _("Ensure this value is less than or equal to %(limit_value)s.") % {
            "limit_value": ctx.get("le")
        }
    if kind == "string_too_long":
        limit = int(ctx.get("max_length", 0))
        return ngettext(
            "Ensure this value has at most %(limit)d character.",
            "Ensure this value has at most %(limit)d characters.",
            limit,
        ) % {"limit": limit}
    if kind == "decimal_max_places":
        places = int(ctx.get("decimal_places", 0))
        return ngettext(
            "Ensure that there are no more than %(max)s decimal place.",
            "Ensure that there are no more than %(max)s decimal places.",
            places,
        ) % {"max": places}
    if kind == "value_error" and "email" in str(ctx.get("reason", "") or error.get("msg", "")):
        return _("Enter a valid email address.")
    return _("Enter a valid value.")


def _schema_field(loc) -> str:
    """("body", "payload", "name") → "name"; ("query", "limit") → "limit"."""
    parts = [str(part) for part in loc[1:]]
    if loc and loc[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or NON_FIELD


def schema_error_fields(errors: list[dict]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for error in errors:
        fields.setdefault(_schema_field(error.get("loc", ())), []).append(_schema_message(error))
    return fields


def django_error_fields(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {NON_FIELD: [str(m) for m in exc.messages]}


def _only_unique_errors(exc: ValidationError) -> bool:
    if not hasattr(exc, "error_dict"):
        return False
    codes = {error.code for errors in exc.error_dict.values() for error in errors}
    return bool(codes) and codes <= {"unique", "unique_together"}


def install_error_handlers(api) -> None:
    def on_http_error(request, exc: HttpError):
        status = exc.status_code
        code = _CODES_BY_STATUS.get(status, "error")
        # ninja's own messages are English ("Cannot parse request body"): say it ourselves.
        return error_response(api, request, status, code, _default_message(status))

    def on_authentication(request, exc):
        return error_response(api, request, 401, "unauthorized", _default_message(401))

    def on_invalid_token(request, exc):
        message = _("The API token is unknown, expired or revoked.")
        response = error_response(api, request, 401, "invalid_token", message)
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    def on_not_found(request, exc):
        return error_response(api, request, 404, "not_found", _default_message(404))

    def on_forbidden(request, exc: PermissionDenied):
        code = getattr(exc, "code", "forbidden")
        message = str(exc) if str(exc) else _default_message(403)
        return error_response(api, request, 403, code, message)

    def on_django_validation(request, exc: ValidationError):
        fields = django_error_fields(exc)
        if _only_unique_errors(exc):
            return error_response(api, request, 409, "conflict", _default_message(409), fields)
        return error_response(api, request, 422, "validation_error", _default_message(422), fields)

    def on_schema_validation(request, exc: SchemaValidationError):
        fields = schema_error_fields(exc.errors)
        return error_response(api, request, 422, "validation_error", _default_message(422), fields)

    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(AuthenticationError, on_authentication)
    api.add_exception_handler(InvalidToken, on_invalid_token)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(PermissionDenied, on_forbidden)
    api.add_exception_handler(ValidationError, on_django_validation)
    api.add_exception_handler(SchemaValidationError, on_schema_validation)


# /api/me ------------------------------------------------------------------------------------

router = Router(tags=["me"])


class MeOut(Schema):
    id: int
    username: str
    language: str
    roles: list[str]
    token: str | None = None
    scopes: list[str] | None = None


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="Who is calling")
def me(request):
    """The signed-in user, their roles and, for a token, its prefix and scopes."""
    user = request.auth
    token = getattr(request, "api_token", None)
    return {
        "id": user.pk,
        "username": user.get_username(),
        "language": request.LANGUAGE_CODE,
        "roles": sorted(roles_of(user)),
        "token": token.prefix if token else None,
        "scopes": token.scopes if token else None,
    }
