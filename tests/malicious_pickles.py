"""Malicious pickles for the checkpoint tests.

A checkpoint is untrusted input: a pickle may name any callable and call it while it loads. These
objects are built with ``__reduce__``, so that ``torch.save`` (or ``pickle``) writes the very
opcodes an attacker would: GLOBAL <callable>, its arguments, REDUCE."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Call:
    """Pickles as ``function(*arguments)``; ``function`` may itself be a Call or an Attribute."""

    def __init__(self, function: Any, *arguments: Any) -> None:
        self.function, self.arguments = function, arguments

    def __call__(self, *arguments: Any) -> Any:  # pickle insists that a reduce's callable be callable
        raise AssertionError("never called when pickling")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.arguments


class Attribute(Call):
    """Pickles as ``getattr(target, name)``."""

    def __init__(self, target: Any, name: str) -> None:
        super().__init__(getattr, target, name)


def writes(marker: Path) -> str:
    """Python source that creates ``marker``: proof that a payload ran."""
    return f"open({str(marker)!r}, 'w').close()"
