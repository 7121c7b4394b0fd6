"""Request bodies read with a size limit: a declared length over it is refused before anything is
read, and a body that streams past it (no or a false Content-Length) is cut off as it arrives; and
JSON bodies validated as a model, naming the first offending field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from api.errors import FieldError, first_problem
from search_spaces.loading import FIELD_PREFIX

ModelT = TypeVar("ModelT", bound=BaseModel)


def check_declared_length(request: Request, limit: int, field: str) -> None:
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise FieldError("content-length", "not a number of bytes", 400)
    if int(declared) > limit:
        raise FieldError(field, f"{int(declared)} bytes is over this server's limit of {limit}", 413)


async def limited_stream(request: Request, limit: int, field: str) -> AsyncIterator[bytes]:
    """The body's chunks; 413 naming ``field`` as soon as more than ``limit`` bytes arrived."""
    check_declared_length(request, limit, field)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise FieldError(field, f"more than this server's limit of {limit} bytes", 413)
        yield chunk


async def read_body(request: Request, limit: int, field: str = "body") -> bytes:
    return b"".join([chunk async for chunk in limited_stream(request, limit, field)])


def parse_model_body(
    body: bytes, model: type[ModelT], pattern_messages: Mapping[str, str] | None = None
) -> ModelT:
    """A JSON body validated as ``model``, typed strictly as JSON types it (``"3"`` is not a number);
    400 when it is not JSON, else 422 naming the first offending field (as every route:
    ``api.errors``). A model-level check that says ``"field: message"`` names that field;
    ``pattern_messages``: what to say, by field, of a string that does not match its pattern."""
    try:
        return model.model_validate_json(body or b"{}", strict=True)
    except ValidationError as error:
        field, message = first_problem(error.errors(), located=False)
        kind = error.errors()[0]["type"]
        if kind == "json_invalid":
            raise FieldError("body", f"not valid JSON: {message}", 400) from None
        if kind == "string_pattern_mismatch" and field in (pattern_messages or {}):
            message = (pattern_messages or {})[field]
        message = message.removeprefix("Value error, ")
        named = FIELD_PREFIX.match(message)
        if named and field == "body":
            field, message = named.group(1), message[named.end() :]
        raise FieldError(field, message) from None
