"""Client errors that name the offending field: 4xx with {"detail": {"field", "message"}}."""

from __future__ import annotations

from fastapi import HTTPException


class FieldError(HTTPException):
    def __init__(self, field: str, message: str, status_code: int = 422) -> None:
        super().__init__(status_code, {"field": field, "message": message})
        self.field = field
