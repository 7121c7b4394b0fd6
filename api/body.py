"""Request bodies read with a size limit: a declared length over it is refused before anything is
read, and a body that streams past it (no or a false Content-Length) is cut off as it arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from api.errors import FieldError


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
