"""The real task: ensemble rows equal solo training; divergence and analysis failures; Dask."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from layerflow.sweep import ResultStore, expand_runs, load_config, run_sweep

CFG: dict[str, Any] = {
    "name": "real",
    "seeds": [0, 1, 2],
    "datasets": [{"name": "moons", "n": 160, "noise": 0.1, "seed": 3}],
    "models": [{"kind": "mlp", "width": 6, "depth": 3}],
    "training": {"optimizer": "adam", "lr": 0.02, "epochs": 3, "batch_size": 16},
    "analysis": {"metrics": ["ricci"], "ks": [5, 8], "k": 5, "test_points": 30},
}


def test_ensemble_rows_equal_solo_training(tmp_path: Path) -> None:
    import torch

    from layerflow._capture import capture
    from layerflow.data import load_dataset
    from layerflow.models import ModelSpec, build_model
    from layerflow.ricci import ricci_coefficient
    from layerflow.ricci import summary as ricci_summary
    from layerflow.training import TrainConfig, train

    res = run_sweep(CFG, tmp_path, backend="serial")
    assert res.statuses == {"ok": 3}
    df = ResultStore(tmp_path).runs().set_index("seed")
    coef = ResultStore(tmp_path).coefficients().set_index(["run_id", "protocol", "k"])
    assert len(coef) == 3 * 2  # one row per network and k
    ds = load_dataset("moons", n=160, noise=0.1, seed=3)
    spec = ModelSpec("mlp", width=6, depth=3)
    for seed in (0, 1, 2):
        model = build_model(spec, ds.n_features, ds.n_classes, seed=seed)
        solo = train(model, ds, TrainConfig(optimizer="adam", lr=0.02, epochs=3, batch_size=16,
                                            seed=seed, device="cpu"))
        assert df.loc[seed, "test_acc"] == solo.test_acc
        assert df.loc[seed, "train_acc"] == solo.train_acc
        with torch.no_grad():
            traj = capture(solo.model, ds.X_test[:30])
        rid = df.loc[seed, "run_id"]
        for k in (5, 8):
            rc = ricci_coefficient(traj, k=k)
            row = coef.loc[(rid, "layerflow", k)]
            np.testing.assert_allclose(row["rho"], rc.coefficient, rtol=1e-6, atol=1e-9)
            assert row["first_pair"] == rc.first_pair
            assert row["reason"] == ("" if np.isfinite(rc.coefficient) else "disconnected")
        np.testing.assert_array_equal(df.loc[seed, "ricci_rho"],
                                      coef.loc[(rid, "layerflow", 5), "rho"])  # NaN == NaN
        flat = ricci_summary(traj, k=5)  # the store's columns read like `layerflow analyze`
        assert bool(df.loc[seed, "ricci_connected"]) == flat["ricci_connected"]
        assert df.loc[seed, "ricci_disconnected_layers"] == flat["ricci_disconnected_layers"]
    layers = ResultStore(tmp_path).layers()
    # depth 3 -> states input + 3 blocks; per k: scalar curvature and mass at 4 states, eta at 3
    assert len(layers) == 3 * 2 * (4 + 4 + 3)


def test_analysis_failure_of_one_member_keeps_siblings(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from layerflow.sweep._tasks import train as train_task

    real = train_task.analyse_member

    def flaky(model: Any, ds: Any, run: Any, ctx: Any) -> Any:
        if run.seed == 1:
            raise ValueError("k=5 needs more than 5 points; layer 3 has 4")
        return real(model, ds, run, ctx)

    monkeypatch.setattr(train_task, "analyse_member", flaky)
    res = run_sweep(CFG, tmp_path, backend="serial")
    assert res.statuses == {"ok": 2, "failed": 1}
    df = ResultStore(tmp_path).runs().set_index("seed")
    assert df.loc[1, "error"] == "ValueError: k=5 needs more than 5 points; layer 3 has 4"
    assert (df.loc[[0, 2], "status"] == "ok").all()
    assert df.loc[[0, 2], "ricci_connected"].notna().all()
    monkeypatch.undo()
    res = run_sweep(CFG, tmp_path, backend="serial")  # retried
    assert res.statuses == {"ok": 1} and res.n_skipped == 2


def test_diverged_network_is_a_result_not_a_failure(tmp_path: Path) -> None:
    cfg = {**CFG, "training": {"optimizer": "sgd", "lr": 1e30, "epochs": 2, "batch_size": 16}}
    res = run_sweep(cfg, tmp_path, backend="serial")
    df = ResultStore(tmp_path).runs()
    assert set(df["status"]) <= {"diverged", "ok"} and (df["status"] == "diverged").any()
    div = df[df["status"] == "diverged"]
    assert div["test_acc"].isna().all() and div["ricci_rho"].isna().all()
    assert div["error"].str.len().gt(0).all()
    again = run_sweep(cfg, tmp_path, backend="serial")
    assert again.n_skipped == res.n_runs  # diverged is final: not retried


def test_untrained_baselines(tmp_path: Path) -> None:
    cfg = {**CFG, "seeds": [0], "baselines": {"untrained": True, "seeds": [0, 1]}}
    run_sweep(cfg, tmp_path, backend="serial")
    df = ResultStore(tmp_path).runs()
    base = df[~df["trained"]]
    assert sorted(base["seed"]) == [0, 1] and (base["arm"] == "untrained").all()
    assert (base["epochs"] == 0).all() and base["optimizer"].isna().all()
    assert np.isfinite(base["ricci_rho"]).all()
    assert base["test_acc"].between(0, 1).all()


def test_bad_dataset_fails_before_training(tmp_path: Path) -> None:
    from layerflow._errors import ConfigError

    cfg = {**CFG, "datasets": ["moons", "digits:6,6"]}
    with pytest.raises(ConfigError, match=r"^datasets\[1\]: 'digits:6,6' cannot be loaded"):
        run_sweep(cfg, tmp_path, backend="serial")
    assert not (tmp_path / "store").exists()


def _dask_vs(tmp_path: Path, other: str) -> None:
    pytest.importorskip("distributed")
    cfg = {**CFG, "backend": {"chunk_size": 2}}
    run_sweep(cfg, tmp_path / "dask", backend="dask", workers=2,
              backend_options={"processes": False})
    run_sweep(cfg, tmp_path / other, backend=other, workers=2)
    cols = ["run_id", "status", "train_acc", "test_acc", "ricci_rho"]
    a = ResultStore(tmp_path / "dask").runs()[cols]
    b = ResultStore(tmp_path / other).runs()[cols]
    assert sorted(a["run_id"]) == sorted(r.run_id for r in expand_runs(load_config(cfg)))
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
    pd.testing.assert_frame_equal(ResultStore(tmp_path / "dask").coefficients(),
                                  ResultStore(tmp_path / other).coefficients(),
                                  check_exact=False, rtol=1e-6)


def test_dask_backend_gives_the_same_rows(tmp_path: Path) -> None:
    """A real LocalCluster (2 in-process workers) against the in-process serial backend."""
    _dask_vs(tmp_path, "serial")


@pytest.mark.slow
def test_dask_backend_gives_the_same_rows_as_local_processes(tmp_path: Path) -> None:
    _dask_vs(tmp_path, "local")


def test_serial_sweep_leaves_the_callers_torch_threads_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from layerflow.sweep._tasks import train as train_task

    inside: list[int] = []
    real = train_task.analyse_member

    def spy(*args: Any) -> Any:
        inside.append(torch.get_num_threads())
        return real(*args)

    monkeypatch.setattr(train_task, "analyse_member", spy)
    monkeypatch.setenv("LAYERFLOW_THREADS", "1")  # the task gets 1 thread
    prev = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        cfg = {**CFG, "seeds": [0], "analysis": {**CFG["analysis"], "ks": [5]}}
        assert run_sweep(cfg, tmp_path, backend="serial").statuses == {"ok": 1}
        assert inside == [1]
        assert torch.get_num_threads() == 3  # the caller's setting is back
    finally:
        torch.set_num_threads(prev)
