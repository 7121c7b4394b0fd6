"""One searchable axis: a categorical choice, an integer range or a (log-)float range.

Names are flat, ``arch/<field>`` for the network and ``hyp/<key>`` for hyperparameters, so that a
point is a plain ``dict[str, value]`` that every searcher (ours, Optuna, random) understands."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Value = int | float | str


class Parameter(BaseModel):
    """``gain`` is the evolution's per-key mutation gain (0: never mutated, as the reference's meta)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["choice", "int", "float"]
    choices: tuple[Value, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    gain: float = 1.0
    default: Value | None = None

    @model_validator(mode="after")
    def _check(self) -> Parameter:
        if self.kind == "choice":
            if not self.choices:
                raise ValueError(f"{self.name}: needs at least one choice")
            if self.default is not None and self.default not in self.choices:
                raise ValueError(f"{self.name}: default {self.default!r} is not one of the choices")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"{self.name}: a range needs low and high")
        if self.low > self.high:
            raise ValueError(f"{self.name}: low {self.low} is above high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log range needs low > 0")
        if self.default is not None and not self.low <= float(self.default) <= self.high:
            raise ValueError(f"{self.name}: default {self.default} is outside [{self.low}, {self.high}]")
        return self

    @property
    def fixed(self) -> bool:
        return (len(self.choices) == 1) if self.kind == "choice" else self.low == self.high

    def clip(self, value: Value) -> Value:
        """The nearest legal value: a range clips (and rounds for ints, to 5 decimals for floats as
        the reference), a choice must be one of the choices."""
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name}: {value!r} is not one of {list(self.choices)}")
            return value
        assert self.low is not None and self.high is not None
        clipped = min(max(float(value), self.low), self.high)
        return round(clipped) if self.kind == "int" else round(clipped, 5)

    def initial(self) -> Value:
        """The default, else the first choice or the middle of the range."""
        if self.default is not None:
            return self.default
        if self.kind == "choice":
            return self.choices[0]
        assert self.low is not None and self.high is not None
        middle = (self.low * self.high) ** 0.5 if self.log else (self.low + self.high) / 2
        return self.clip(middle)


Point = dict[str, Value]
