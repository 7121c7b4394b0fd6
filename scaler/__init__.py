"""scaler: Scaled-YOLOv4 family detectors from compound-scaling points (torch only)."""

from scaler.architecture import ArchitectureSpec, HeadSpec, NeckLevelSpec, NeckSpec, StageSpec
from scaler.catalog import resolve_network
from scaler.deploy import deploy, fuse
from scaler.detector import Detector
from scaler.errors import SpecError
from scaler.once_for_all import drop_top_levels
from scaler.presets import PRESETS, preset_architecture, preset_names
from scaler.profile import ModelProfile, count_flops, count_parameters, profile_model
from scaler.scaling.compound import compound_scale
from scaler.scaling.point import ScalingPoint
from scaler.spec import LayerSpec, NetworkSpec
from scaler.yaml_io import dump_model_yaml, load_model_yaml


def build_model(spec: NetworkSpec | ArchitectureSpec | ScalingPoint | str) -> Detector:
    """A detector from a network spec, an architecture spec, a scaling point or a preset name."""
    if isinstance(spec, str):
        spec = resolve_network(spec)
    if isinstance(spec, ScalingPoint):
        spec = compound_scale(spec)
    if isinstance(spec, ArchitectureSpec):
        spec = spec.to_network()
    return Detector(spec)


__all__ = [
    "PRESETS",
    "ArchitectureSpec",
    "Detector",
    "HeadSpec",
    "LayerSpec",
    "ModelProfile",
    "NeckLevelSpec",
    "NeckSpec",
    "NetworkSpec",
    "ScalingPoint",
    "SpecError",
    "StageSpec",
    "build_model",
    "compound_scale",
    "count_flops",
    "count_parameters",
    "deploy",
    "drop_top_levels",
    "dump_model_yaml",
    "fuse",
    "load_model_yaml",
    "preset_architecture",
    "preset_names",
    "profile_model",
    "resolve_network",
]
