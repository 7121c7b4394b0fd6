"""Row building shared by the lowerings: layers accumulate and report their indices."""

from __future__ import annotations

from scaler.architecture import ArchitectureSpec
from scaler.spec import LayerSpec, NetworkSpec, Source


class Rows:
    """Accumulates layers and returns each new layer's index."""

    def __init__(self) -> None:
        self.layers: list[LayerSpec] = []

    def add(
        self, source: Source, args: object, block: str, repeats: int = 1, activation: str | None = None
    ) -> int:
        self.layers.append(LayerSpec(source, repeats, block, args, activation))
        return len(self.layers) - 1


def network(architecture: ArchitectureSpec, rows: Rows, backbone_length: int) -> NetworkSpec:
    return NetworkSpec(
        name=architecture.name,
        layers=tuple(rows.layers),
        backbone_length=backbone_length,
        activation=architecture.activation,
        input_size=architecture.input_size,
    )
