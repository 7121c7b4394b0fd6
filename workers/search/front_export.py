"""A search's front trials exported (``workers.export``), each into a folder of its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from search_spaces import JobSpec
from workers.search.outcome import SearchTrial
from workers.search.points import trial_config_of


def export_front_trials(
    spec: JobSpec, trials: Sequence[SearchTrial], front: Sequence[str], folder: Path, onnx: bool = True
) -> Path:
    """Export every trial of ``front`` to ``folder/<trial_id>``."""
    from workers.export import export_trial

    by_id = {trial.trial_id: trial for trial in trials}
    folder.mkdir(parents=True, exist_ok=True)
    for trial_id in front:
        trial = by_id[trial_id]
        export_trial(
            trial_config_of(spec, trial),
            folder / trial_id,
            metrics={key: value for key, value in trial.to_dict().items() if key != "history"},
            checkpoint=trial.checkpoint,
            onnx=onnx,
        )
    return folder
