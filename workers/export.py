"""Export a trial: the model yaml in the reference format (anchors written back), hyp.yaml, the
scaling point, metrics.json, weights (.pt, the EMA weights) and ONNX. ``load_export`` builds the
same network back from the folder."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import yaml

from scaler import Detector, NetworkSpec, dump_model_yaml, load_model_yaml
from scaler.checkpoint import load_weights
from scaler.onnx_export import export_onnx
from workers.data.open import open_dataset
from workers.trial import TrialConfig, build_network

FILES = ("model.yaml", "hyp.yaml", "point.json", "metrics.json", "weights.pt", "model.onnx")


def export_trial(
    config: TrialConfig,
    out_dir: Path,
    metrics: dict[str, Any],
    checkpoint: str | Path | None = None,
    onnx: bool = True,
) -> Path:
    """Write the export of the trial ``config`` (its point holds the fitted anchors) to ``out_dir``;
    ``checkpoint``: the trial's training checkpoint, a path or a storage URI (untrained weights
    when None; ``MissingCheckpointError`` when it cannot be read)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset = open_dataset(config.data)
    network = build_network(config, dataset.num_classes)
    model = Detector(network)
    if checkpoint is not None:
        with local_copy(str(checkpoint)) as weights:
            load_weights(model, weights)
    model.eval()
    (out_dir / "model.yaml").write_text(dump_model_yaml(network))
    (out_dir / "hyp.yaml").write_text(yaml.safe_dump(config.hyp.to_dict(), sort_keys=False))
    point = {**(config.point or {}), "input_size": config.image_size, "num_classes": dataset.num_classes}
    (out_dir / "point.json").write_text(json.dumps(point, indent=2, default=list))
    document = {
        **metrics,
        "image_size": config.image_size,
        "class_names": list(dataset.names),
        "trained": checkpoint is not None,
        "trial_config": {**asdict(config), "latency": asdict(config.latency)},
    }
    (out_dir / "metrics.json").write_text(json.dumps(document, indent=2, default=str))
    torch.save(model.state_dict(), out_dir / "weights.pt")
    if onnx:
        export_onnx(model, out_dir / "model.onnx", input_size=config.image_size)
    return out_dir


class MissingCheckpointError(FileNotFoundError):
    """A trial's recorded checkpoint can no longer be read (deleted, or storage not reachable)."""


@contextlib.contextmanager
def local_copy(reference: str) -> Iterator[Path]:
    """A local file for a checkpoint reference: a path, or a URI of remote storage
    (``s3://…``, ``gs://…``, ``file://…``) read through pyarrow's filesystems."""
    if "://" not in reference:
        if not Path(reference).is_file():
            raise MissingCheckpointError(f"the trial's checkpoint {reference} is gone")
        yield Path(reference)
        return
    from pyarrow import fs

    with tempfile.TemporaryDirectory(prefix="scaler-weights-") as folder:
        target = Path(folder) / Path(reference).name
        try:
            filesystem, path = fs.FileSystem.from_uri(reference)
            with filesystem.open_input_stream(path) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        except (OSError, ValueError) as error:
            message = f"the trial's checkpoint {reference} cannot be read: {error}"
            raise MissingCheckpointError(message) from error
        yield target


def load_export(folder: Path) -> tuple[NetworkSpec, Detector]:
    """The network of an export folder (or zip) with its weights."""
    folder = _unpacked(folder)
    image_size = json.loads((folder / "point.json").read_text())["input_size"]
    network = dataclasses.replace(load_model_yaml(folder / "model.yaml"), input_size=image_size)
    model = Detector(network)
    load_weights(model, folder / "weights.pt")
    return network, model.eval()


def _unpacked(source: Path) -> Path:
    if source.is_dir():
        return source
    target = source.with_suffix("")
    with zipfile.ZipFile(source) as archive:
        archive.extractall(target)
    return target


def zip_export(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.iterdir()):
            bundle.write(path, path.name)
    return archive
