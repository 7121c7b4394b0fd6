"""Load weights from our state dicts or from checkpoints of the reference implementation.

Weights are untrusted input: a ``.pt`` file is a pickle, and a pickle may name any callable and
call it while it loads. Every checkpoint the project reads goes through this module, and nothing
here lets a file run code. Loading is torch's own weights-only unpickler (``weights_only=True``),
which builds tensors, containers and plain values and refuses any other global, plus a static
pass over the pickle's opcodes first that refuses, before anything is unpickled, every global
that is not on the short list below (:class:`UnsafeCheckpointError` names it).

Reference checkpoints (``yolov4-p5.pt`` …) pickle whole model objects whose classes live in the
reference code base (``models.yolo.Model``, ``models.common.Conv``, ``mish_cuda.MishCuda``).
They are read without that code: each class of the reference code base (``models.*``,
``utils.*``, ``mish_cuda``), of this one (``scaler.*``: a whole pickled Detector) and of torch's
layers (``torch.nn.modules.*``) is replaced by an inert ``nn.Module`` stand-in that only keeps
the pickled attributes (parameters, buffers, submodules; hooks dropped), and the state dict is
taken from it. A numpy value next to the model (a released checkpoint's ``best_fitness``)
becomes a placeholder that keeps nothing; no numpy code runs. Because our layers and buffers are
named like the reference (``model.N.…``), the state dict loads strictly into the matching
Detector.
"""

from __future__ import annotations

import pickle
import pickletools
import re
import threading
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from scaler.detector import Detector

_STORAGE_TYPES = (
    "Double",
    "Float",
    "Half",
    "BFloat16",
    "Long",
    "Int",
    "Short",
    "Char",
    "Byte",
    "Bool",
    "ComplexDouble",
    "ComplexFloat",
)
# The globals of tensors and their containers that a checkpoint may use as themselves: torch's
# weights-only unpickler builds these without running anything of the file's.
ALLOWED_GLOBALS = frozenset(
    {
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "collections.OrderedDict",
        "builtins.set",  # a module's _non_persistent_buffers_set
        "_codecs.encode",  # bytes, under pickle protocol 2
        *(f"torch.{kind}Storage" for kind in _STORAGE_TYPES),
    }
)
# Module classes replaced by inert stand-ins: the reference code base, ours, torch's layers.
MODULE_PACKAGES = ("models", "utils", "mish_cuda", "scaler")
TORCH_LAYERS = "torch.nn.modules."
# numpy values next to the model (a released checkpoint's best_fitness): kept as placeholders.
NUMPY_VALUE_GLOBALS = frozenset(
    {
        f"{package}.{name}"
        for package in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {"numpy.ndarray", "numpy.dtype"}
)
# Opcodes whose global torch's weights-only unpickler never resolves (it refuses them) and that a
# static pass cannot name.
_UNNAMED_GLOBAL_OPCODES = frozenset({"STACK_GLOBAL", "INST", "OBJ", "EXT1", "EXT2", "EXT4"})
_LEGACY_PICKLES = 5  # a pre-zip torch file: magic number, protocol, system info, object, storage keys
_ALLOWLIST_LOCK = threading.Lock()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs something loading it would have to run; nothing in the file ran."""


class _ModuleStandIn(nn.Module):
    """Stands in for a pickled module class (of the reference code base, ours or torch's); carries
    only the pickled attributes."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for name in list(self.__dict__):
            if name.endswith("hooks"):  # no pickled callable is ever called, not even by state_dict()
                self.__dict__[name] = OrderedDict()

    def forward(self, *args: Any) -> Any:
        raise RuntimeError("a stand-in for a pickled module cannot run; load its state dict into a Detector")


class _DiscardedValue:
    """Stands in for a numpy value outside the model: takes any arguments and state, keeps none."""

    def __init__(self, *args: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


def _stand_in_base(module: str, name: str) -> type | None:
    if module.split(".")[0] in MODULE_PACKAGES or module.startswith(TORCH_LAYERS):
        return _ModuleStandIn
    if f"{module}.{name}" in NUMPY_VALUE_GLOBALS:
        return _DiscardedValue
    return None


def _stand_in(module: str, name: str, base: type) -> type:
    """A fresh subclass of ``base`` named ``module.name``, the name torch's allowlist matches."""
    return type(name, (base,), {"__module__": module, "__qualname__": name})


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """The name as unpickling resolves it (protocol 2 writes Python 2 names: __builtin__ exec)."""
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


def _globals_in_pickle(stream: IO[bytes], path: Path) -> set[tuple[str, str]]:
    """The globals one pickle in ``stream`` names, read from its opcodes without unpickling it."""
    names = set()
    for opcode, argument, _ in pickletools.genops(stream):
        if opcode.name in _UNNAMED_GLOBAL_OPCODES:
            raise UnsafeCheckpointError(
                f"{path}: refused: its pickle uses {opcode.name}, which names a global only while "
                "it runs (a checkpoint of tensors never does); nothing in the file ran"
            )
        if opcode.name == "GLOBAL":
            module, _, name = str(argument).partition(" ")
            names.add(_python3_name(module, name))
    return names


def _pickled_globals(path: Path) -> set[tuple[str, str]]:
    """Every global the pickles in a torch file name (zip format, or the legacy sequence of
    pickles); a part that is not a pickle ends the pass (torch refuses what it cannot read)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            records = [record for record in archive.namelist() if record.endswith(".pkl")]
            names: set[tuple[str, str]] = set()
            for record in records:
                with archive.open(record) as stream:
                    names |= _globals_in_pickle(stream, path)
            return names
    names = set()
    with path.open("rb") as stream:
        for _ in range(_LEGACY_PICKLES):
            try:
                names |= _globals_in_pickle(stream, path)
            except UnsafeCheckpointError:
                raise
            except Exception:
                break
    return names


def _refusal(path: Path, full_names: list[str]) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        f"{path}: refused: the checkpoint calls {', '.join(full_names)}: neither a tensor, a container "
        "nor a module class whose state can be kept without running it; nothing in the file ran "
        "(weights are untrusted input: see scaler.checkpoint)"
    )


@contextmanager
def _allowlisted(stand_ins: list[type]) -> Iterator[None]:
    """Torch's weights-only allowlist with ``stand_ins`` added, for the duration of one load."""
    with _ALLOWLIST_LOCK:
        previous = torch.serialization.get_safe_globals()
        torch.serialization.add_safe_globals(stand_ins)
        try:
            yield
        finally:
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(previous)


def _torch_refusal_reason(message: str) -> str:
    """The reason in a refusal of torch's weights-only unpickler, without its advice to load with
    ``weights_only=False`` or to allowlist the global (neither is safe for a file from outside)."""
    named = re.search(r"GLOBAL ([\w.]+)", message)
    if named is not None:
        name = named.group(1)
        return f"the checkpoint calls {name if '.' in name else 'builtins.' + name}"  # torch drops builtins.
    boilerplate = ("Weights only load failed", "Check the documentation", "(1)", "(2)", "In PyTorch")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    details = [line for line in lines if not line.startswith(boilerplate)] or lines or ["unreadable"]
    return details[0].removeprefix("WeightsUnpickler error:").strip()


def _weights_only_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f"{path}: refused by torch's weights-only unpickler: {_torch_refusal_reason(str(error))}; "
            "nothing in the file ran"
        ) from None


def read_checkpoint(path: str | Path) -> Any:
    """A checkpoint of tensors and plain values (our training checkpoints: state dicts, numbers,
    strings, lists, dicts), read with torch's weights-only unpickler: a file that needs any other
    global is refused with :class:`UnsafeCheckpointError` before anything in it runs."""
    return _weights_only_load(Path(path))


def read_model_checkpoint(path: str | Path) -> Any:
    """What ``path`` holds, pickled module objects (reference checkpoints) included, as inert
    stand-ins; any global that is neither a tensor's, a container's, a module class's nor a numpy
    value's is refused with :class:`UnsafeCheckpointError` before anything is unpickled."""
    path = Path(path)
    stand_ins, refused = [], []
    for module, name in sorted(_pickled_globals(path)):
        if f"{module}.{name}" in ALLOWED_GLOBALS:
            continue
        base = _stand_in_base(module, name)
        if base is None:
            refused.append(f"{module}.{name}")
        else:
            stand_ins.append(_stand_in(module, name, base))
    if refused:
        raise _refusal(path, refused)
    pickles_modules = any(issubclass(stand_in, nn.Module) for stand_in in stand_ins)
    if pickles_modules and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: a legacy (pre-zip, torch < 1.6) file that pickles whole modules: torch reads their "
            "classes only by running code; re-save its weights as a state dict "
            "(torch.save(checkpoint['model'].state_dict(), …)) where the reference code is installed"
        )
    with _allowlisted(stand_ins):
        return _weights_only_load(path)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights in ``path``: a state dict, ``{"model": state dict}``, or a reference
    checkpoint ``{"model": Model, "ema": …}`` (EMA weights preferred when present)."""
    checkpoint = read_model_checkpoint(path)
    if isinstance(checkpoint, dict) and any(key in checkpoint for key in ("ema", "model")):
        checkpoint = checkpoint["ema"] if checkpoint.get("ema") is not None else checkpoint["model"]
    if isinstance(checkpoint, nn.Module):
        checkpoint = checkpoint.state_dict()
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(
            f"{path}: no model weights found (expected a state dict or a checkpoint with 'model')"
        )
    return {key: value.float() if value.is_floating_point() else value for key, value in checkpoint.items()}


def load_weights(model: Detector, path: str | Path, strict: bool = True) -> Detector:
    """Load the weights in ``path`` into ``model`` (see :func:`read_state_dict`)."""
    model.load_state_dict(read_state_dict(path), strict=strict)
    return model
