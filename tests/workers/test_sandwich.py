"""Supernet training shares its weights with its sub-networks; slices re-measure their batch norm."""

from __future__ import annotations

import random

import torch
from torch import nn

from scaler import Detector, ScalingPoint, compound_scale
from search_spaces import parse_job_spec
from workers.search.supernet import extreme_point, sub_network_sampler
from workers.training.hyp import Hyperparameters
from workers.training.sandwich import Sandwich, recalibrate_batch_norm


def _network(width: float, depth: float = 0.33):
    point = ScalingPoint(depth_multiple=depth, width_multiple=width, input_size=64, num_classes=3)
    return compound_scale(point).to_network()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(2, 3, 64, 64)
    # (image index, class, x, y, w, h) normalised, as the loader writes them
    targets = torch.tensor([[0, 1, 0.5, 0.5, 0.3, 0.3], [1, 2, 0.3, 0.6, 0.2, 0.25]])
    return images, targets


def test_sub_network_losses_train_the_supernets_own_leading_channels():
    torch.manual_seed(0)
    supernet = Detector(_network(0.5)).train()
    smallest = _network(0.25)
    sandwich = Sandwich(supernet, smallest, lambda rng: smallest, Hyperparameters())
    images, targets = _batch()
    loss = sandwich.loss(images, targets)
    assert loss.requires_grad and torch.isfinite(loss)
    loss.backward()
    stem = supernet.model[0].conv.weight  # 16 channels in the supernet, 8 in the sub-network
    assert stem.grad is not None
    assert stem.grad[:8].abs().sum() > 0 and stem.grad[8:].abs().sum() == 0
    # the sub-network's batch norm statistics are throw-away copies: the supernet's are untouched
    assert torch.equal(supernet.model[0].bn.running_mean, torch.zeros(16))


def test_recalibration_measures_the_batch_norm_statistics_of_the_data():
    model = Detector(_network(0.25)).eval()
    norm = model.model[0].bn
    with torch.no_grad():
        norm.running_mean.fill_(123.0)
    batches = [torch.rand(2, 3, 64, 64) for _ in range(3)]
    recalibrate_batch_norm(model, batches)
    assert not model.training and norm.momentum is not None  # its own momentum back
    assert norm.running_mean.abs().max() < 10.0
    expected = nn.BatchNorm2d(norm.num_features, momentum=None).train()
    with torch.no_grad():
        for images in batches:
            expected(model.model[0].conv(images))
    assert torch.allclose(norm.running_mean, expected.running_mean, atol=1e-5)


def test_the_supernet_is_the_largest_point_and_sub_networks_come_from_the_space():
    spec = parse_job_spec(
        {
            "dataset": "data",
            "space": {
                "architecture": {
                    "family": ["large"],
                    "input_size": [64, 128],
                    "stages": [5],
                    "depth_multiple": {"low": 0.2, "high": 0.33},
                    "width_multiple": {"low": 0.125, "high": 0.375},
                }
            },
            "supernet": {"epochs": 1},
        }
    )
    largest, smallest_point = extreme_point(spec, largest=True), extreme_point(spec, largest=False)
    assert largest["arch/width_multiple"] == 0.375 and largest["arch/input_size"] == 128
    assert smallest_point["arch/width_multiple"] == 0.125 and smallest_point["arch/depth_multiple"] == 0.2
    smallest, sample = sub_network_sampler(spec, largest, 3)
    rng = random.Random(0)
    structures = {sample(rng).layers for _ in range(40)}
    assert len(structures) > 1 and smallest.num_classes == 3
    assert len(structures) <= 4 * 4 * 2  # width and depth at four levels: structures repeat and are cached
