"""A trial's lineage under evolution with weight inheritance: the searcher writes it into the
trial's Tune config (``Lineage.to_config``), the trainable reads it back (``Lineage.from_config``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONFIG_KEY = "lineage"  # where a Tune config holds it


@dataclass(frozen=True)
class Lineage:
    """Where the trial saves the weights its children inherit, and for a child of a parent that
    saved them: the parent, its weights and how many epochs the child fine-tunes them."""

    save_to: str | None = None
    parent: str | None = None
    inherit_from: str | None = None
    epochs: int | None = None

    def to_config(self) -> dict[str, Any]:
        """The plain mapping a Tune config holds."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Lineage:
        """The lineage of a trial's Tune config (none: a trial outside evolution's inheritance)."""
        values = config.get(CONFIG_KEY) or {}
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})
