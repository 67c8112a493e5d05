"""Who is acting and from where, for the audit trail, without passing the request everywhere."""

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None = None
    label: str = "system"
    ip: str | None = None
    request_id: str = ""


_current: contextvars.ContextVar[Actor] = contextvars.ContextVar("actor", default=Actor())  # noqa: B039 - Actor is frozen


def current_actor() -> Actor:
    return _current.get()


def set_actor(actor: Actor) -> contextvars.Token:
    return _current.set(actor)


def reset_actor(token: contextvars.Token) -> None:
    _current.reset(token)


def new_request_id() -> str:
    return uuid.uuid4().hex
