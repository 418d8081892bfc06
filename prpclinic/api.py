"""The JSON API: one NinjaAPI, signed-in clinic staff only, the same services as the pages.

Authentication is the Django session of the web app (``ClinicSession``): the caller must be
signed in with the second factor done and hold an active place in a clinic. CSRF stays on for
every unsafe method, as for the pages: send the ``csrftoken`` cookie's value in the
``X-CSRFToken`` header. What each role may do is checked by the services (``clinics.access``).

Every error answers with one shape, whatever its status::

    {"detail": [{"field": "volume_ml", "message": "The volume must be more than 0 mL."}]}

``field`` names the input field (dotted for nested ones, e.g. ``zones.0.volume_ml``), or is
null when the message is about the request as a whole. Statuses: 400 the body is not JSON,
401 not signed in, 403 not allowed (role, clinic membership or CSRF), 404 not found in the
active clinic (another clinic's rows included), 409 a bedside check that did not match (the
body is then the verification, not an error), 422 input refused.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as InputError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import SessionAuth
from ninja.utils import check_csrf

from prpclinic.clinics.access import API_NOT_SIGNED_IN
from prpclinic.prp.api import router as prp_router

NOT_SIGNED_IN = API_NOT_SIGNED_IN
NO_CLINIC = "You have no active place in a clinic."
CSRF_REFUSED = "This request has no valid CSRF token: send the value of the csrftoken cookie in the X-CSRFToken header."
NOT_JSON = "Send the fields as a JSON object, with the header Content-Type: application/json."


class ErrorItem(Schema):
    field: str | None
    message: str


class ErrorOut(Schema):
    """The body of every error answer."""

    detail: list[ErrorItem]


def error_body(*items: tuple[str | None, str]) -> dict[str, list[dict[str, str | None]]]:
    return {"detail": [{"field": field, "message": message} for field, message in items]}


class ClinicSession(SessionAuth):
    """The web app's session: signed in, second factor done, an active clinic; CSRF checked.

    ``ActiveClinicMiddleware`` sets ``request.membership`` only once two-factor sign-in is
    finished, so a missing membership also stops a half-signed-in session.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None  # 401, before any CSRF answer: the caller must sign in first
        # Read the body before the CSRF check parses a form post, or ninja could no longer read
        # it as JSON (a multipart POST would end in a 500 instead of a 400).
        request.body  # noqa: B018
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise PermissionDenied(CSRF_REFUSED)
        if getattr(request, "membership", None) is None:
            raise PermissionDenied(NO_CLINIC)
        return request.user


ViewFunc = Callable[..., HttpResponse]


def staff_only(view: ViewFunc) -> ViewFunc:
    """The OpenAPI schema and its docs page: signed-in members of a clinic only (JSON 401/403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return api.create_response(request, error_body((None, NOT_SIGNED_IN)), status=401)
        if getattr(request, "membership", None) is None:
            return api.create_response(request, error_body((None, NO_CLINIC)), status=403)
        return view(request, *args, **kwargs)

    return wrapper


DESCRIPTION = """The PRP chain of custody for signed-in clinic staff, through the same services as the pages.

**Sign-in**: the web app's session (sign in at `/account/login/` with your second factor).
Every POST needs the `csrftoken` cookie's value in the `X-CSRFToken` header.

**Errors** have one shape: `{"detail": [{"field": "volume_ml", "message": "..."}]}`; `field` is
null when the message is about the request as a whole. A bedside check that does not match
answers 409 with the verification itself.
"""

ERROR_STATUSES = {
    "400": "The body is not a JSON object.",
    "401": "Not signed in.",
    "403": "Not allowed: role, clinic membership or CSRF token.",
    "404": "Not found in the active clinic.",
    "422": "Input refused; each message names its field.",
}


class ClinicAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI schema also documents the error answers."""

    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        """The generated schema, with the one error shape documented on every operation."""
        schema = super().get_openapi_schema(**kwargs)
        error = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(error.pop("$defs", {}))
        components["Error"] = error
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, description in ERROR_STATUSES.items():
                    operation["responses"].setdefault(status, {"description": description, **ref})
        return schema


api = ClinicAPI(
    title="prpclinic API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    docs_decorator=staff_only,
    auth=ClinicSession(),
)

# Pydantic's error types, in words a clinician understands; the context fills the braces.
INPUT_MESSAGES: dict[str, str] = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not part of this request; leave it out.",
    "greater_than": "Must be more than {gt}.",
    "greater_than_equal": "Must be {ge} or more.",
    "less_than": "Must be less than {lt}.",
    "less_than_equal": "Must be {le} or less.",
    "decimal_parsing": "Give a number, e.g. 18.5.",
    "decimal_type": "Give a number, e.g. 18.5.",
    "decimal_max_places": "Give at most {decimal_places} decimal place(s).",
    "decimal_max_digits": "Give at most {max_digits} digits in all.",
    "decimal_whole_digits": "This number is too large.",
    "finite_number": "Give a finite number.",
    "int_parsing": "Give a whole number.",
    "int_type": "Give a whole number.",
    "int_from_float": "Give a whole number.",
    "datetime_parsing": "Give a date and time, e.g. 2026-03-01T09:30:00+01:00.",
    "datetime_type": "Give a date and time, e.g. 2026-03-01T09:30:00+01:00.",
    "datetime_from_date_parsing": "Give a date and time, e.g. 2026-03-01T09:30:00+01:00.",
    "timezone_aware": "Give the time with its UTC offset, e.g. 2026-03-01T09:30:00+01:00.",
    "enum": "Choose one of: {expected}.",
    "literal_error": "Choose one of: {expected}.",
    "string_type": "Give text.",
    "string_too_short": "Give at least {min_length} character(s).",
    "string_too_long": "Give at most {max_length} characters.",
    "list_type": "Give a list.",
    "too_short": "Give at least {min_length} item(s).",
    "too_long": "Give at most {max_length} items.",
    "bool_parsing": "Give true or false.",
}


def _input_item(error: dict[str, Any]) -> tuple[str | None, str]:
    loc = [str(part) for part in error.get("loc", ())]
    # ("body", "<param name>", field, ...) for the JSON body; ("path", field) for the URL.
    path = loc[2:] if loc[:1] == ["body"] else loc[1:]
    field = ".".join(path) or None
    if field is None and loc[:1] == ["body"]:
        return None, NOT_JSON
    template = INPUT_MESSAGES.get(error.get("type", ""))
    try:
        message = template.format(**error.get("ctx", {})) if template else str(error.get("msg", "Not valid."))
    except (KeyError, IndexError):
        message = str(error.get("msg", "Not valid."))
    return field, message


@api.exception_handler(InputError)
def input_refused(request: HttpRequest, exc: InputError) -> HttpResponse:
    return api.create_response(request, error_body(*(_input_item(e) for e in exc.errors)), status=422)


@api.exception_handler(DjangoValidationError)
def service_refused(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        items = [
            (None if field == NON_FIELD_ERRORS else field, message)
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        items = [(None, message) for message in exc.messages]
    return api.create_response(request, error_body(*items), status=422)


@api.exception_handler(PermissionDenied)
def not_allowed(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return api.create_response(request, error_body((None, str(exc) or "You may not do this.")), status=403)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body((None, str(exc) or "Not found in this clinic.")), status=404)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja raises these itself: 401 from the auth check, 400 for a body that is not JSON.
    if isinstance(exc, AuthenticationError):
        message = NOT_SIGNED_IN
    elif exc.status_code == 400:
        message = NOT_JSON
    else:
        message = str(exc)
    return api.create_response(request, error_body((None, message)), status=exc.status_code)


api.add_router("/prp", prp_router)
