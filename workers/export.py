"""Export a trial: the model yaml in the reference format (anchors written back), hyp.yaml, the
scaling point, metrics.json, weights (.pt, the EMA weights), ONNX and a README.txt written from
them (``describe_export``). ``load_export`` builds the same network back from the folder."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
import textwrap
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

README = "README.txt"
# what each file of an export holds, in the order README.txt lists them
FILES: dict[str, str] = {
    "model.yaml": "the network in the reference's model-yaml format (ScaledYOLOv4/YOLOv5), final "
    "widths and depths, the trial's fitted anchors written back",
    "hyp.yaml": "the training hyperparameters: every key the reference train.py reads (yolov4-large's "
    "giou and yolov4-csp's box hold the one box gain), label_smoothing, and the optimizer",
    "point.json": "the compound-scaling point (family, stages, depth and width multiples, input "
    "size, classes)",
    "metrics.json": "the trial's record: AP, latency measurement, size, class names, the whole "
    "trial configuration",
    "weights.pt": "the weights (the EMA weights of the trial's last checkpoint), a PyTorch state dict",
    "model.onnx": "the fused network for deployment: input 'images' (1, 3, S, S) RGB in [0, 1], "
    "output 'predictions' (1, N, 5 + classes)",
    README: "this file",
}
# where README.txt's commands put the user's dataset
DATASET_PLACEHOLDER = "path/to/dataset"


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
    config = config.for_classes(dataset.num_classes)
    network = build_network(config, dataset.num_classes)
    model = Detector(network)
    if checkpoint is not None:
        with local_copy(str(checkpoint)) as weights:
            load_weights(model, weights)
    model.eval()
    (out_dir / "model.yaml").write_text(dump_model_yaml(network))
    hyp_file = config.hyp.to_hyp_file(config.optimizer)
    (out_dir / "hyp.yaml").write_text(yaml.safe_dump(hyp_file, sort_keys=False))
    # the point's fields that hold a value (a preset's: the size and classes it was built for)
    point = asdict(config.point) if config.point else {}
    point = {**point, "input_size": config.image_size, "num_classes": dataset.num_classes}
    point = {name: value for name, value in point.items() if value is not None}
    (out_dir / "point.json").write_text(json.dumps(point, indent=2, default=list))
    document = {
        **metrics,
        "image_size": config.image_size,
        "class_names": list(dataset.names),
        "trained": checkpoint is not None,
        "trial_config": config.to_dict(),
    }
    (out_dir / "metrics.json").write_text(json.dumps(document, indent=2, default=str))
    torch.save(model.state_dict(), out_dir / "weights.pt")
    if onnx:
        export_onnx(model, out_dir / "model.onnx", input_size=config.image_size)
    (out_dir / README).write_text(describe_export(out_dir))
    return out_dir


def describe_export(folder: Path) -> str:
    """README.txt of the export in ``folder``: its files, the trial's metrics, and how to load it,
    train it further and deploy it, with commands written from the export's own files."""
    point = json.loads((folder / "point.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    trial = _with_defaults(metrics.get("trial_config") or {})
    present = [name for name in FILES if (folder / name).is_file() or name == README]
    size, classes = point["input_size"], metrics.get("class_names") or []
    name = f"trial {metrics['trial_id']}" if metrics.get("trial_id") else "a trial"
    sections = [
        f"Scaler export of {name}: a YOLO detector for {size}x{size} images and {len(classes)} "
        f"classes ({', '.join(classes)}).",
        "Metrics\n" + "\n".join(f"  {line}" for line in _metric_lines(metrics, trial, size)),
        "Files\n" + "\n".join(_wrapped(f"{file:<13}{FILES[file]}", "  ", 15) for file in present),
        _loading_section(size),
        _training_section(trial, size),
    ]
    if "model.onnx" in present:
        sections.append(_deploying_section(size, len(classes)))
    return "\n\n".join(sections) + "\n"


def _with_defaults(trial: dict[str, Any]) -> dict[str, Any]:
    """A recorded trial configuration with the settings it does not name (an older export's)
    at ``TrialConfig``'s and ``LatencyTarget``'s defaults, which live there alone."""
    defaults = TrialConfig(data=DATASET_PLACEHOLDER).to_dict()
    return {**defaults, **trial, "latency": {**defaults["latency"], **(trial.get("latency") or {})}}


def _metric_lines(metrics: dict[str, Any], trial: dict[str, Any], size: int) -> list[str]:
    epochs = metrics.get("epochs") or trial["epochs"]
    if metrics.get("trained", True):
        accuracy = f"AP {metrics.get('ap', 0.0):.4f}"
        if metrics.get("ap50") is not None:
            accuracy += f", AP50 {metrics['ap50']:.4f}"
        lines = [f"{accuracy} (COCO AP on the dataset's validation split, after {epochs} epochs)"]
    else:
        lines = ["untrained: the trial never trained, weights.pt holds the network's initial weights"]
    stats = metrics.get("latency_stats") or {}
    target = trial["latency"]
    device = stats.get("target") or stats.get("device") or target["device"]
    if stats.get("device_name"):
        device += f" ({stats['device_name']})"
    if metrics.get("latency_ms") is None:
        lines.append(f"latency: not measured (target device {device})")
    else:
        latency = f"latency {metrics['latency_ms']:.2f} ms"
        if metrics.get("latency_nms_ms") is not None:
            latency += f" ({metrics['latency_nms_ms']:.2f} ms with NMS)"
        batch = stats.get("batch") or target["batch"]
        precision = stats.get("precision") or target["precision"]
        runtime = stats.get("runtime") or target["runtime"]
        lines.append(f"{latency} per batch of {batch} at {size}x{size}, {precision}, {runtime} on {device}")
    if metrics.get("params") is not None and metrics.get("gflops") is not None:
        lines.append(f"{metrics['params']:,} parameters, {metrics['gflops']:.2f} GFLOPs")
    return lines


def _wrapped(text: str, indent: str, hanging: int) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=" " * hanging)


def _loading_section(size: int) -> str:
    return f"""Load it in Python (Scaler installed: `pip install -e .` in its repository), from this folder:

    from pathlib import Path

    import torch

    from workers.evaluation.nms import non_max_suppression
    from workers.export import load_export

    network, model = load_export(Path("."))  # this folder, or the export's .zip
    images = torch.zeros(1, 3, {size}, {size})  # RGB in [0, 1], letterboxed to {size}x{size}
    with torch.no_grad():
        predictions = model(images)[0]  # (1, N, 5 + classes): x, y, w, h in pixels, objectness, classes
    detections = non_max_suppression(predictions)[0]  # (n, 6): x1, y1, x2, y2, score, class"""


def _training_section(trial: dict[str, Any], size: int) -> str:
    epochs, batch = trial["epochs"], trial["batch_size"]
    optimizer, device = trial["optimizer"], trial["device"]
    nominal_batch, data = trial["nominal_batch"], DATASET_PLACEHOLDER
    retrain = (
        f"scaler train --model model.yaml --hyp hyp.yaml --img {size} --epochs {epochs} --batch {batch} "
        f"--optimizer {optimizer} --device {device} --data {data} --out runs/retrain"
    )
    return f"""Train it again or further ({data}: your dataset folder or data yaml)

The trial's training: {epochs} epochs on {device}, {optimizer}, batch {batch}, gradients accumulated
to {nominal_batch} images. From scratch, the same network and hyperparameters (scaler train has
no option to start from weights, and accumulates to its recipe's nominal batch):

    {retrain}

Fine-tuned from weights.pt, in Python (as a search's child is: no warm-up, lr0 x lrf):

    from workers.api import Hyperparameters, TrialConfig, run_trial
    from workers.search.trainable import fine_tuning

    config = TrialConfig(
        data="{data}", model="model.yaml", image_size={size}, batch_size={batch},
        nominal_batch={nominal_batch}, optimizer="{optimizer}", device="{device}",
        hyp=Hyperparameters.from_yaml("hyp.yaml"), out_dir="runs/fine-tune",
    )
    result = run_trial(fine_tuning(config, "weights.pt", epochs={epochs}))
    print(result.status, result.metrics.ap)

A search job starts every candidate from it with training.initial_weights set to this
folder, its .zip or weights.pt."""


def _deploying_section(size: int, num_classes: int) -> str:
    return f"""Deploy model.onnx (fused, batch 1, {size}x{size}) with ONNX Runtime (pip install onnxruntime):

    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    images = np.zeros((1, 3, {size}, {size}), dtype=np.float32)  # RGB in [0, 1], letterboxed
    (predictions,) = session.run(["predictions"], {{"images": images}})
    # (1, N, {5 + num_classes}): x, y, w, h in input pixels, objectness, {num_classes} class probabilities;
    # score = objectness x class probability, then non-maximum suppression (as above)"""


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
