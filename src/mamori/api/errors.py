"""The API's one way of saying what is wrong with a request, in ninja's own shape.

- 403: :func:`forbidden` answers ``{"detail": "Forbidden"}``, the same as a
  ``PermissionDenied`` raised by a service (``mamori.api.api`` turns those into this answer);
  who may change what is decided by :func:`mamori.core.permissions.may_change`.
- 404: ``get_object_or_404`` on a ``visible_to`` queryset (ninja answers ``{"detail": "Not
  Found"}``).
- 409: :func:`conflict`, the state of a record does not allow the request; 502: :func:`upstream`.
- 422: :func:`invalid` and friends, below.

Every field error is ``{"loc": [...], "msg": ..., "type": "value_error"}`` under ``detail``,
like the errors ninja gives for input that does not match the schema, so a caller reads one
format whatever found the problem: the schema, a form, a model's rules or a service.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError as DjangoValidationError
from django.forms import BaseForm
from ninja.errors import HttpError, ValidationError

#: Where a request body's fields are, as ninja names them (the view's ``payload`` argument).
BODY = ("body", "payload")


def problem(field: str, message: str, *, location: Iterable[str] = BODY) -> dict:
    """One field error. ``field`` may name a nested field with dots (``settings.port``);
    ``__all__`` or an empty field is the request (body) as a whole."""
    names = [] if field in ("", "__all__") else field.split(".")
    return {"loc": [*location, *names], "msg": str(message), "type": "value_error"}


def query_problem(name: str, message: str) -> dict:
    """An error in the query parameter ``name``."""
    return problem(name, message, location=("query",))


def invalid(problems: dict | Iterable[dict]) -> ValidationError:
    """The 422 answer for one or more field errors (raise it)."""
    return ValidationError([problems] if isinstance(problems, dict) else list(problems))


def from_django(error: DjangoValidationError, *, location: Iterable[str] = BODY) -> list[dict]:
    """The field errors of a Django ValidationError (a model's, a form's or a service's)."""
    if hasattr(error, "error_dict"):
        items = error.message_dict.items()
    else:
        items = [("__all__", error.messages)]
    return [
        problem(field, message, location=location)
        for field, messages in items
        for message in messages
    ]


def invalid_from(error: DjangoValidationError) -> ValidationError:
    """The 422 answer for a Django ValidationError (raise it)."""
    return invalid(from_django(error))


def invalid_form(form: BaseForm) -> ValidationError:
    """The 422 answer for a form that did not validate (raise it)."""
    return invalid(
        problem(field, message) for field, messages in form.errors.items() for message in messages
    )


#: The body of every 403 without a reason of its own (``{"detail": FORBIDDEN}``).
FORBIDDEN = "Forbidden"


def forbidden(message: str = FORBIDDEN) -> HttpError:
    """The 403 answer (raise it), ``Forbidden`` as for a service's ``PermissionDenied`` unless
    the refusal has a reason the caller can act on (a target on the Mamori host)."""
    return HttpError(403, str(message))


def conflict(message: str) -> HttpError:
    """The 409 answer (raise it): the record's state does not allow the request."""
    return HttpError(409, str(message))


def upstream(message: str) -> HttpError:
    """The 502 answer (raise it): a service Mamori asked on the caller's behalf refused."""
    return HttpError(502, str(message))
