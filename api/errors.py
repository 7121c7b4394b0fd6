"""Client errors that name the offending field: 4xx with {"detail": {"field", "message"}}."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

MAX_OFFSET = 1_000_000_000  # pagination offsets past this are rejected (the database's ints end)


class FieldError(HTTPException):
    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(status_code, {"field": field, "message": message})
        self.field = field


async def unstorable_value(request: Request, error: Exception) -> JSONResponse:
    """A value the database cannot hold (a NUL character, a number out of range) came from the
    client: a 422, not a server error. Validation at the door catches the known cases first."""
    reason = str(getattr(error, "orig", error)).splitlines()[0]
    return JSONResponse(
        status_code=422,
        content={"detail": {"field": "body", "message": f"a value cannot be stored: {reason}"}},
    )


def install_handlers(app: FastAPI) -> None:
    from sqlalchemy.exc import DataError

    app.add_exception_handler(DataError, unstorable_value)
