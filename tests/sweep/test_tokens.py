"""Per-token sweeps: the analysis switch, run identity, and a transformer sweep end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerflow._errors import ConfigError
from layerflow.sweep import ResultStore, expand_runs, load_config, run_sweep
from layerflow.sweep._grid import make_run

CFG: dict[str, Any] = {
    "name": "tokens",
    "seeds": [0, 1],
    "datasets": [{"name": "tokens:sorted", "n": 80, "length": 4, "vocab": 6, "seed": 2}],
    "models": [{"kind": "transformer", "width": 4, "depth": 3, "heads": 2, "vocab": 6}],
    "training": {"optimizer": "adam", "lr": 0.01, "steps": 5, "batch_size": 16},
    "analysis": {"metrics": ["transport", "ricci"], "per_token": True, "test_points": 10,
                 "k": 12, "m": 40},
    "baselines": {"untrained": True, "seeds": [0]},
}


def _mlp(**analysis: Any) -> dict[str, Any]:
    return {"datasets": ["moons"], "models": [{"kind": "mlp", "width": 4, "depth": 2}],
            "analysis": {"metrics": ["transport"], **analysis}}


def test_per_token_is_part_of_a_runs_identity_only_when_on() -> None:
    off = expand_runs(load_config(_mlp()))
    off2 = expand_runs(load_config(_mlp(per_token=False)))
    on = expand_runs(load_config(_mlp(per_token=True)))
    assert [r.run_id for r in off] == [r.run_id for r in off2]
    assert "per_token" not in off[0].analysis and on[0].analysis["per_token"] is True
    assert not {r.run_id for r in on} & {r.run_id for r in off}
    assert "per_token" not in load_config(_mlp(per_token=False)).to_dict()["analysis"]


def test_runs_of_earlier_configs_keep_their_ids() -> None:
    """The transformer's optional fields (heads, vocab) stay out of other kinds' runs."""
    (run,) = expand_runs(load_config(_mlp()))
    assert set(run.model) == {"kind", "width", "depth", "h", "activation", "bottleneck_width",
                              "widths"}
    want = make_run({"name": "moons", "train_fraction": 1.0},
                    {"kind": "mlp", "width": 4, "depth": 2, "h": None, "activation": "relu",
                     "bottleneck_width": None, "widths": None},
                    run.training, "default", 0, True, run.analysis)
    assert run.run_id == want.run_id


def test_per_token_must_be_a_bool() -> None:
    with pytest.raises(ConfigError, match=r"analysis.per_token: expected true or false, got "
                                          r"str 'yes'"):
        load_config(_mlp(per_token="yes"))


def test_per_token_counts_sequences_so_the_point_check_waits_for_the_data() -> None:
    cfg = {**CFG, "analysis": {**CFG["analysis"], "test_points": 10, "k": 12}}
    assert load_config(cfg).analysis["k"] == 12  # 10 sequences of 4 tokens carry k = 12
    with pytest.raises(ConfigError, match=r"analysis\.test_points"):
        load_config({**cfg, "analysis": {**cfg["analysis"], "per_token": False}})


def test_transformer_sweep_measures_token_tracks(tmp_path: Path) -> None:
    import torch

    from layerflow._capture import capture
    from layerflow._trajectory import Trajectory
    from layerflow.data import load_dataset
    from layerflow.models import ModelSpec, build_model
    from layerflow.training import TrainConfig, train
    from layerflow.transport import line_shape_score

    res = run_sweep(CFG, tmp_path, backend="serial")
    assert res.statuses == {"ok": 3}
    df = ResultStore(tmp_path).runs()
    assert set(df["model_kind"]) == {"transformer"} and set(df["vocab"]) == {6}
    assert (df["n_points"] == 40).all() and (df["n_sequences"] == 10).all()
    assert set(df["transport_run"]) == {"0..3 (embed..blocks.2)"}
    ds = load_dataset("tokens:sorted", n=80, length=4, vocab=6, seed=2)
    spec = ModelSpec("transformer", width=4, depth=3, heads=2, vocab=6)
    trained = df[df["trained"]].set_index("seed")
    for seed in (0, 1):
        solo = train(build_model(spec, 4, 2, seed=seed), ds,
                     TrainConfig(optimizer="adam", lr=0.01, steps=5, batch_size=16, seed=seed,
                                 device="cpu"))
        assert trained.loc[seed, "test_acc"] == solo.test_acc
        with torch.no_grad():  # tokens by hand: the embedding, then each block, row (i, t)
            ids = torch.as_tensor(ds.X_test[:10]).long()
            h = [solo.model.embed(ids)]
            for block in solo.model.blocks:
                h.append(block(h[-1]))
        states = [s.reshape(40, 4).numpy() for s in h]
        want = line_shape_score(Trajectory(states)).mean
        np.testing.assert_allclose(trained.loc[seed, "lss_mean"], want, rtol=1e-6)
        full = capture(solo.model, ds.X_test[:10], per_token=True)
        assert full.n_layers == 4  # input ids + embed + 3 blocks; the sweep starts at embed
    layers = ResultStore(tmp_path).layers()
    w2 = layers[layers["metric"] == "w2_step"]
    assert sorted(set(w2["layer_name"])) == ["blocks.0", "blocks.1", "blocks.2"]
    saved = sorted((tmp_path / "trajectories").glob("*.npz"))
    assert saved
    t = Trajectory.load(saved[0])
    assert list(t.layer_names) == ["embed", "blocks.0", "blocks.1", "blocks.2"]
    assert t.sample_index is not None and t.position is not None and t.n_samples == 40
