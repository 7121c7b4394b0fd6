"""Data roots: the folders a service may read datasets from, checked for every file a job reads.

A dataset named inside a root can still point elsewhere through its own contents: a
``dataset.yaml`` whose ``path`` or split entries are absolute or climb out with ``..``, an
``images`` folder or an image that is a symlink, a COCO ``file_name`` with ``../``. So the check is
made on the *resolved* path (symlinks followed, ``..`` collapsed) of every file and folder, before it
is opened. ``DataRoots.unconfined()`` (the command line's own datasets) allows everything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workers.data.dataset import DatasetError

ALLOW_HINT = "allow a folder with `scaler serve --data-root PATH` (or SCALER_DATA_ROOTS='[\"PATH\"]')"


class OutsideRootsError(DatasetError):
    """A dataset file or folder that resolves outside the allowed data roots."""

    def __init__(self, source: str | Path, what: str, resolved: Path, roots: tuple[Path, ...]) -> None:
        self.what = what
        self.resolved = resolved
        listed = ", ".join(str(root) for root in roots) or "none"
        super().__init__(
            source,
            [f"{what} resolves to {resolved}, outside the allowed data roots ({listed}); {ALLOW_HINT}"],
        )


@dataclass(frozen=True)
class DataRoots:
    """``roots`` are resolved folders; ``None`` means no confinement."""

    roots: tuple[Path, ...] | None

    @classmethod
    def unconfined(cls) -> DataRoots:
        return cls(None)

    @classmethod
    def of(cls, roots: Iterable[str | Path] | None) -> DataRoots:
        """Roots from settings or a trial's config; ``None`` is unconfined, an empty list allows nothing."""
        if roots is None:
            return cls.unconfined()
        return cls(tuple(Path(root).resolve() for root in roots))

    @property
    def confined(self) -> bool:
        return self.roots is not None

    def contains(self, path: Path) -> bool:
        if self.roots is None:
            return True
        resolved = path.resolve()
        return any(resolved == root or root in resolved.parents for root in self.roots)

    def check(self, path: Path, what: str, source: str | Path | None = None) -> Path:
        """``path`` itself when it resolves inside a root; else :class:`OutsideRootsError`."""
        if self.roots is None:
            return path
        try:
            inside = self.contains(path)
        except (OSError, ValueError, RuntimeError) as error:  # NUL bytes, symlink loops, too long
            raise DatasetError(source or "dataset", [f"{what}: not a usable path ({error})"]) from None
        if not inside:
            raise OutsideRootsError(source or path, what, path.resolve(), self.roots)
        return path
