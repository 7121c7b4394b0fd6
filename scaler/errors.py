"""Errors raised by the scaler: every one names the offending field."""

from __future__ import annotations


class SpecError(ValueError):
    """An invalid scaling point, model spec or model yaml.

    ``field`` is the dotted name of the offending input (``input_size``, ``width_multiple``,
    ``head[3].args``), so that callers such as the REST API can point users at it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
