"""Target devices: where a network will run and in which runtime, by name (issue 25).

A job's latency objective names its target (``objectives.latency.device``): ``cpu``, ``cuda`` or
``cuda:N`` time the network in the trial's own process, as before; any other name is a registered
``TargetDevice``, timed by a Ray task that asks for the device's resource (``device:<name>``), so
it runs on the node that holds the device, whichever node trains. The presets live in
``devices.yaml`` beside this module; a service adds its own (``POST /v1/devices``)."""

from __future__ import annotations

import re
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# cpu, cuda and cuda:N: the trial's own device, not registry names
IN_PROCESS_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")
# a registered device's name: it becomes a Ray resource name (device:<name>), a URL path segment and
# a file name, so letters, digits and . _ - only, starting with a letter or digit
DEVICE_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
DEVICE_RESOURCE_PREFIX = "device:"
PRESET_FILE = "devices.yaml"

DeviceKind = Literal["cpu", "cuda"]
# torch: eager PyTorch (the deployment form: BN folded, channels_last); torch-compile: the same under
# torch.compile; onnxruntime: the exported ONNX graph in ONNX Runtime (CPU provider on a cpu device,
# CUDA provider on a cuda one); tensorrt: an engine built from the ONNX graph (where importable)
Runtime = Literal["torch", "torch-compile", "onnxruntime", "tensorrt"]
# int8: the exported graph statically quantised (workers.runtimes), in ONNX Runtime on a CPU only
Precision = Literal["fp32", "fp16", "int8"]


class TargetDevice(BaseModel):
    """A device a network is timed on: its kind, the runtime and precision it deploys with, the
    batch it serves and, on a CPU, the threads it may use (None: all the node gives a task)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=63, pattern=DEVICE_NAME_PATTERN)
    kind: DeviceKind
    runtime: Runtime = "torch"
    precision: Precision = "fp32"
    batch: int = Field(default=1, ge=1, le=256)
    threads: int | None = Field(default=None, ge=1, le=256)
    description: str = Field(default="", max_length=500, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")

    @model_validator(mode="after")
    def _consistent(self) -> TargetDevice:
        if IN_PROCESS_DEVICE.match(self.name):
            raise ValueError(f"name: {self.name!r} is the trial's own device, not a registry name")
        # int8 first: a device that asks for it elsewhere is refused for its precision, not its runtime.
        # On a GPU, ONNX Runtime's CUDA provider has no integer convolution: it would run the
        # quantised graph's convolutions in float between (de)quantisations, slower than fp32
        if self.precision == "int8" and (self.runtime != "onnxruntime" or self.kind != "cpu"):
            raise ValueError("precision: int8 is measured with the onnxruntime runtime on a cpu device")
        if self.runtime == "tensorrt" and self.kind != "cuda":
            raise ValueError("runtime: tensorrt runs on a cuda device")
        if self.precision == "fp16" and self.kind != "cuda":
            raise ValueError("precision: fp16 latency needs a cuda device")
        if self.precision == "fp16" and self.runtime == "onnxruntime":
            raise ValueError("precision: fp16 is measured with the torch, torch-compile or tensorrt runtime")
        if self.threads is not None and self.kind != "cpu":
            raise ValueError("threads: only a cpu device has a thread count")
        return self

    @property
    def resource(self) -> str:
        """The Ray resource a node that holds this device carries (one unit: one measurement at a
        time on the device)."""
        return f"{DEVICE_RESOURCE_PREFIX}{self.name}"

    @property
    def torch_device(self) -> str:
        """The torch device a measurement on this device uses."""
        return "cuda" if self.kind == "cuda" else "cpu"


def is_in_process(device: str) -> bool:
    """Whether ``device`` is the trial's own device (``cpu``, ``cuda``, ``cuda:N``)."""
    return bool(IN_PROCESS_DEVICE.match(device))


def preset_devices() -> dict[str, TargetDevice]:
    """The devices every Scaler knows, by name (``search_spaces/devices.yaml``)."""
    text = resources.files("search_spaces").joinpath(PRESET_FILE).read_text(encoding="utf-8")
    document = yaml.safe_load(text) or {}
    return {name: TargetDevice(name=name, **values) for name, values in document.items()}
