"""One error body for every client and server error: ``{"detail": {"field", "message"}}`` (ErrorBody),
naming what to fix. Route errors raise FieldError; FastAPI's own request validation errors, other
HTTPExceptions (a missing token, an unknown path, a method a path does not have), values the
database cannot store and unexpected errors (a 500, still logged) are answered in the same shape by
the handlers installed here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

MAX_OFFSET = 1_000_000_000  # pagination offsets past this are rejected (the database's ints end)
PARAMETER_LOCATIONS = ("body", "query", "path", "header", "cookie")
# the field an HTTPException without one names, by status code
FIELD_BY_STATUS = {400: "body", 401: "authorization", 404: "path", 405: "method"}


class ErrorDetail(BaseModel):
    field: str  # what to fix: a body path (budget.max_trials), a parameter, a header, "authorization"…
    message: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    detail: ErrorDetail


ERROR_DESCRIPTIONS = {
    400: "The body does not parse (not JSON, YAML or a form), or a header is malformed",
    401: "No bearer token, or an unknown or revoked one",
    403: "The token may not do this, or a path lies outside the server's data roots",
    404: "No such resource for the caller's team (another team's resources do not exist for it)",
    409: "The resource is in a state that does not allow this",
    410: "The resource existed but its files are gone",
    413: "The body is over the server's size limit",
    415: "The body's content type is not one this operation reads",
    422: "A value is invalid: `field` names the first one",
    503: "The database is unavailable",
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or route: these status codes, each with an ErrorBody."""
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in status_codes}


class FieldError(HTTPException):
    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(status_code, {"field": field, "message": message})
        self.field = field


def error_body(field: str, message: str) -> dict[str, Any]:
    return ErrorBody(detail=ErrorDetail(field=field, message=message)).model_dump()


def field_name(location: Sequence[int | str], located: bool = True) -> str:
    """A validation error's location as a field name: ``("query", "limit")`` → ``limit``,
    ``("body", "warm_start_from", 0)`` → ``warm_start_from[0]``; the location alone when that is all.
    FastAPI's locations start with where the value was (``located``), a model's own do not."""
    parts = list(location)
    kind = str(parts.pop(0)) if located and parts and parts[0] in PARAMETER_LOCATIONS else "body"
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or kind


def first_problem(errors: Sequence[Any], located: bool = True) -> tuple[str, str]:
    """(field, message) of the first of FastAPI's (``located``) or a model's validation errors."""
    if not errors:
        return "body", "invalid"
    first = errors[0]
    return field_name(first.get("loc", ()), located), str(first.get("msg", "invalid"))


def allowed_methods(routes: Sequence[BaseRoute], scope: Mapping[str, Any]) -> list[str]:
    """The methods the request's path answers, over every route that matches it (a path's methods
    are spread over several routes: GET /v1/jobs and POST /v1/jobs), OPTIONS included. Where routes
    of different paths match, the most literal path's count: ``/v1/jobs/{job_id}/trials/import`` is
    the import's path, not a trial's (``/v1/jobs/{job_id}/trials/{trial_id}``)."""
    # included routers' routes too; a route without methods is a mount: the dashboards' static files
    matching = [
        route for route in iter_route_contexts(routes) if route.matches(dict(scope))[0] is not Match.NONE
    ]
    fewest = min((getattr(route, "path", "").count("{") for route in matching), default=0)
    methods = {"OPTIONS"}
    for route in matching:
        if getattr(route, "path", "").count("{") == fewest:
            methods.update(getattr(route, "methods", None) or ("GET", "HEAD"))
    return sorted(methods)


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's request validation (query, path and body parameters): 422 naming the first field."""
    assert isinstance(error, RequestValidationError)
    field, message = first_problem(error.errors())
    return JSONResponse(status_code=422, content=error_body(field, message))


async def http_error(request: Request, error: Exception) -> Response:
    """Any HTTPException as an ErrorBody. A 405 lists in ``Allow`` every method of the path; an
    OPTIONS request is answered (204) with that list rather than refused."""
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request.scope))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
    if error.status_code in (204, 304):
        return Response(status_code=error.status_code, headers=headers)
    detail = error.detail
    if isinstance(detail, dict) and {"field", "message"} <= detail.keys():
        content = error_body(str(detail["field"]), str(detail["message"]))
    else:
        content = error_body(FIELD_BY_STATUS.get(error.status_code, "request"), str(detail))
    return JSONResponse(status_code=error.status_code, content=content, headers=headers)


async def unstorable_value(request: Request, error: Exception) -> JSONResponse:
    """A value the database cannot hold (a NUL character, a number out of range) came from the
    client: a 422, not a server error. Validation at the door catches the known cases first."""
    reason = str(getattr(error, "orig", error)).splitlines()[0]
    return JSONResponse(status_code=422, content=error_body("body", f"a value cannot be stored: {reason}"))


async def server_error(request: Request, error: Exception) -> JSONResponse:
    """Anything unexpected: a 500 in the same shape (the error itself is logged, not sent)."""
    return JSONResponse(status_code=500, content=error_body("request", "internal server error"))


def install_handlers(app: FastAPI) -> None:
    from sqlalchemy.exc import DataError

    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(DataError, unstorable_value)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
