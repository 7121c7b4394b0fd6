"""Training checkpoints load with torch's weights-only unpickler: a file cannot run code."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from tests.malicious_pickles import Call, writes
from workers.training.checkpoint import load_checkpoint, save_checkpoint
from workers.training.inherit import load_weights


def test_a_training_checkpoint_that_calls_exec_is_refused_before_its_code_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = save_checkpoint(tmp_path / "last.pt", {"epoch": 3, "model": Call(exec, writes(marker))})
    with pytest.raises(pickle.UnpicklingError, match=r"builtins\.exec"):
        load_checkpoint(path)
    assert not marker.exists(), "the checkpoint's code ran while it was being loaded"


def test_a_parents_weights_that_call_os_system_are_refused_before_they_run(tmp_path):
    marker = tmp_path / "pwned"
    path = save_checkpoint(tmp_path / "parent.pt", {"model": Call(os.system, f"touch {marker}")})
    with pytest.raises(pickle.UnpicklingError, match=r"posix\.system|nt\.system"):
        load_weights(path)
    assert not marker.exists(), "the checkpoint's code ran while it was being loaded"


def test_a_training_state_of_tensors_and_plain_values_round_trips(tmp_path):
    model = torch.nn.Conv2d(3, 4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model(torch.rand(1, 3, 8, 8)).sum().backward()
    optimizer.step()
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": torch.amp.GradScaler("cpu", enabled=False).state_dict(),
        "epoch": 2,
        "best_fitness": 0.25,
        "history": [{"epoch": 0, "metrics": {"ap": 0.1}, "losses": {"box": 0.5}, "val_losses": {}}],
        "torch_rng": torch.get_rng_state(),
    }
    loaded = load_checkpoint(save_checkpoint(tmp_path / "last.pt", state))
    assert loaded["history"] == state["history"] and loaded["epoch"] == 2
    assert torch.equal(loaded["torch_rng"], state["torch_rng"])
    assert loaded["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    assert all(torch.equal(loaded["model"][key], value) for key, value in state["model"].items())
