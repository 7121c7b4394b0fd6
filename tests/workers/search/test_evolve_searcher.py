"""The evolve searcher: default point first, children within the space, state survives save/restore."""

from __future__ import annotations

import pickle
from pathlib import Path

from search_spaces import load_job_spec
from search_spaces.mutation import FULL_FIDELITY, Evaluated, select_parents
from workers.search.evolve import EvolveSearcher
from workers.search.points import flatten


def _searcher(weights_dir: Path | None = None, **evolution) -> EvolveSearcher:
    spec = load_job_spec("tiny-cpu")
    return EvolveSearcher(
        spec.space.parameters(),
        ["ap", "latency_ms"],
        ["max", "min"],
        spec.evolution.model_copy(update=evolution),
        seed=3,
        weights_dir=weights_dir,
        child_epochs=2,
    )


def _finish(searcher: EvolveSearcher, trial_id: str, ap: float, latency: float) -> None:
    searcher.on_trial_complete(trial_id, {"status": "completed", "ap": ap, "latency_ms": latency})


def test_first_point_is_the_default_and_children_stay_in_the_space():
    searcher = _searcher()
    parameters = {p.name: p for p in searcher.parameters}
    first = flatten(searcher.suggest("t0"))
    assert first == {name: p.initial() for name, p in parameters.items()}
    _finish(searcher, "t0", 0.2, 10.0)
    seen = [first]
    for index in range(1, 12):
        point = flatten(searcher.suggest(f"t{index}"))
        for name, value in point.items():
            parameter = parameters[name]
            assert (
                value in parameter.choices
                if parameter.kind == "choice"
                else parameter.low <= value <= parameter.high
            )
        assert point not in seen  # no configuration twice
        seen.append(point)
        _finish(searcher, f"t{index}", 0.1 + 0.01 * index, 10.0 - 0.5 * index)


def test_failed_and_infeasible_trials_are_never_parents():
    searcher = _searcher()
    searcher.suggest("a")
    searcher.suggest("b")
    searcher.on_trial_complete("a", {"status": "failed", "error": "boom"})
    searcher.on_trial_complete("b", {"status": "infeasible", "ap": 0.0, "latency_ms": 99.0})
    assert searcher.history == []


def test_state_survives_save_and_restore(tmp_path):
    searcher = _searcher()
    for index in range(5):
        searcher.suggest(f"t{index}")
        _finish(searcher, f"t{index}", 0.1 * index, 5.0 + index)
    pending = searcher.suggest("live")
    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = _searcher()
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored.live == {"live": flatten(pending)}
    assert [restored.suggest(f"n{i}") for i in range(3)] == [searcher.suggest(f"n{i}") for i in range(3)]


def test_a_trial_stopped_at_a_rung_breeds_only_after_those_that_trained_longer(tmp_path):
    searcher = _searcher()
    for trial_id in ("full", "rung"):
        searcher.suggest(trial_id)
    searcher.on_trial_complete("full", {"status": "completed", "epoch": 17, "ap": 0.3, "latency_ms": 12.0})
    searcher.on_trial_complete("rung", {"status": "running", "epoch": 2, "ap": 0.01, "latency_ms": 3.0})
    assert [item.fidelity for item in searcher.history] == [FULL_FIDELITY, 3]
    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = _searcher()
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored.history == searcher.history
    parents, _ = select_parents(restored.history, top=1)
    assert parents[0].point == searcher.history[0].point


def test_a_state_saved_without_fidelities_restores_as_fully_trained(tmp_path):
    searcher = _searcher()
    point = flatten(searcher.suggest("old"))
    state = {**searcher.get_state(), "history": [(point, (-0.2, 10.0))], "live": {}}
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(state))
    restored = _searcher()
    restored.restore(str(tmp_path / "old.pkl"))
    assert restored.history == [Evaluated(point, (-0.2, 10.0), FULL_FIDELITY)]


def test_with_inheritance_a_child_starts_from_its_parents_saved_weights(tmp_path):
    searcher = _searcher(tmp_path / "weights", inherit_weights=True, initial_random=1)
    first, second = searcher.suggest("t0"), searcher.suggest("t1")
    for config in (first, second):  # the default point and the random one train from scratch
        assert config["lineage"]["inherit_from"] is None and config["lineage"]["epochs"] is None
    assert first["lineage"]["save_to"] == str(tmp_path / "weights" / "t0.pt")
    Path(first["lineage"]["save_to"]).parent.mkdir()
    Path(first["lineage"]["save_to"]).write_bytes(b"weights")  # t0 saved its weights, t1 did not
    searcher.on_trial_complete("t0", {"status": "completed", "epoch": 5, "ap": 0.3, "latency_ms": 9.0})
    searcher.on_trial_complete("t1", {"status": "completed", "epoch": 5, "ap": 0.1, "latency_ms": 8.0})
    assert searcher.weights == {"t0": first["lineage"]["save_to"]}
    lineages = [searcher.suggest(f"c{index}")["lineage"] for index in range(6)]
    from_t0 = [lineage for lineage in lineages if lineage["parent"] == "t0"]
    assert from_t0 and all(
        lineage["inherit_from"] == first["lineage"]["save_to"] and lineage["epochs"] == 2
        for lineage in from_t0
    )
    from_t1 = [lineage for lineage in lineages if lineage["parent"] != "t0"]
    assert all(lineage["inherit_from"] is None and lineage["epochs"] is None for lineage in from_t1)

    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = _searcher(tmp_path / "weights", inherit_weights=True, initial_random=1)
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert restored.weights == searcher.weights
    assert restored.suggest("next") == searcher.suggest("next")


def test_without_inheritance_a_config_carries_no_lineage(tmp_path):
    searcher = _searcher(tmp_path / "weights")
    assert "lineage" not in searcher.suggest("t0")
