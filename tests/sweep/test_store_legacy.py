"""A store in the layout that kept one runs column per (protocol, k) reads as the current one.

A tiny real sweep (two protocols, three ks, one of them larger than the test set) is written;
its parts are then rewritten by hand in the old layout — ``ricci_rho[_<protocol>]_k<k>``,
``ricci_rho_<protocol>``, ``ricci_first_pair[_<protocol>]`` runs columns, per-layer metrics
``<metric>_<protocol>`` without a protocol column, no coefficients parts — and read back. The
comparison script ``benchmarks/compare_stores.py`` then checks the two stores value by value, as
it checks a store written by the old code against one written by this code.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from layerflow.sweep import ResultStore, run_sweep

CFG: dict[str, Any] = {
    "name": "legacy",
    "seeds": 2,
    "datasets": [{"name": "moons", "n": 160, "noise": 0.1, "seed": 3}],
    "models": [{"kind": "mlp", "width": 6, "depth": 3}],
    "training": {"optimizer": "adam", "lr": 0.02, "epochs": 2, "batch_size": 16},
    "analysis": {"metrics": ["ricci"], "ks": [5, 8, 60], "k": 5, "test_points": 200,
                 "protocols": ["layerflow", "baptista"]},
    "baselines": {"untrained": True, "seeds": 1},
}


def _compare_module() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_stores.py"
    spec = importlib.util.spec_from_file_location("compare_stores", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _to_old_layout(new: Path, old: Path) -> None:
    """Rewrite the parts of the store at ``new`` as the old code wrote them, into ``old``."""
    shutil.copytree(new, old)
    parts = old / "store" / "parts"
    for f in parts.glob("coefficients-*.parquet"):
        f.unlink()
    for f in (old / "store").glob("*.parquet"):
        f.unlink()
    coef = ResultStore(new).coefficients()
    for f in sorted(parts.glob("runs-*.parquet")):
        runs = pd.read_parquet(f)
        for i, r in runs.iterrows():
            if r["status"] != "ok":
                continue
            mine = coef[coef["run_id"] == r["run_id"]]
            for c in mine.itertuples():
                sfx = "" if c.protocol == r["ricci_protocol"] else f"_{c.protocol}"
                runs.loc[i, f"ricci_rho{sfx}_k{c.k}"] = c.rho
                if c.k == r["k"]:
                    runs.loc[i, f"ricci_first_pair{sfx}"] = float(c.first_pair)
                    if sfx:
                        runs.loc[i, f"ricci_rho{sfx}"] = c.rho
        runs.to_parquet(f, index=False)
    for f in sorted(parts.glob("layers-*.parquet")):
        lay = pd.read_parquet(f)
        primary = lay["protocol"] == "layerflow"
        lay.loc[~primary & (lay["protocol"] != ""), "metric"] = (
            lay["metric"] + "_" + lay["protocol"])
        lay.drop(columns="protocol").to_parquet(f, index=False)
    store = ResultStore(old)  # the old compacted files: the winning attempts, read raw
    raw = pd.concat([pd.read_parquet(f) for f in sorted(parts.glob("runs-*.parquet"))])
    raw = raw.set_index("run_id").loc[store.runs()["run_id"]].reset_index()
    raw.to_parquet(old / "store" / "runs.parquet", index=False)
    lay = pd.concat([pd.read_parquet(f) for f in sorted(parts.glob("layers-*.parquet"))])
    lay = lay.merge(store.runs()[["run_id", "attempt"]], on=["run_id", "attempt"])
    lay.drop(columns="attempt").to_parquet(old / "store" / "layers.parquet", index=False)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    new = tmp_path_factory.mktemp("new")
    run_sweep(CFG, new, backend="serial")
    old = tmp_path_factory.mktemp("old") / "out"
    _to_old_layout(new, old)
    return old, new


def test_the_new_store_has_every_coefficient_and_why(stores: tuple[Path, Path]) -> None:
    import layerflow as lf

    _, new = stores
    store = ResultStore(new)
    runs, coef = store.runs(), store.coefficients()
    assert not [c for c in runs.columns if c.startswith(("ricci_rho_", "ricci_first_pair"))]
    assert len(coef) == len(runs) * 2 * 3  # every network x protocol x k, once
    # k = 60 >= N: no graph; the authors' protocol on 3 layer pairs leaves 2: too few
    assert set(coef.loc[coef["k"] == 60, "reason"]) == {"k >= N"}
    bap = coef[(coef["protocol"] == "baptista") & (coef["k"] < 60)]
    assert set(bap["reason"]) <= {"too few pairs", "disconnected"} and bap["rho"].isna().all()
    assert set(bap["first_pair"]) == {1}
    # the primary coefficients against the library, on the network the store saved
    traj_dir = new / "trajectories"
    for path in traj_dir.glob("*.npz"):
        rid = path.stem.rsplit("-", 1)[-1]  # files are named by run, ending with its id
        traj = lf.Trajectory.load(path)
        for k in (5, 8):
            rc = lf.ricci.ricci_coefficient(traj, k=k)
            row = coef[(coef["run_id"] == rid) & (coef["protocol"] == "layerflow")
                       & (coef["k"] == k)].iloc[0]
            assert (math.isnan(rc.coefficient) and math.isnan(row["rho"])) or \
                row["rho"] == rc.coefficient


def test_an_old_store_reads_as_the_new_one(stores: tuple[Path, Path]) -> None:
    old, new = stores
    a, b = ResultStore(old), ResultStore(new)
    timings = ["seconds", "train_seconds", "analysis_seconds"]
    pd.testing.assert_frame_equal(a.runs().drop(columns=timings), b.runs().drop(columns=timings),
                                  check_exact=True)
    pd.testing.assert_frame_equal(a.layers(), b.layers(), check_exact=True)
    pd.testing.assert_frame_equal(a.coefficients(), b.coefficients(), check_exact=True)
    assert not any(c.startswith("ricci_rho_") for c in a.runs().columns)


def test_the_comparison_script_finds_the_stores_identical(stores: tuple[Path, Path],
                                                           capsys: pytest.CaptureFixture) -> None:
    old, new = stores
    compare = _compare_module().compare
    assert compare(old, new) == []
    out = capsys.readouterr().out
    assert "columns moved to the coefficients table" in out


def test_the_comparison_script_sees_a_changed_value(stores: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    """The script is not blind: one coefficient one ulp off is a difference."""
    old, new = stores
    bent = tmp_path / "bent"
    shutil.copytree(old, bent)
    runs = pd.read_parquet(bent / "store" / "runs.parquet")
    i = runs.index[runs["ricci_rho_k8"].notna()][0]
    runs.loc[i, "ricci_rho_k8"] = np.nextafter(runs.loc[i, "ricci_rho_k8"], 2.0)
    runs.to_parquet(bent / "store" / "runs.parquet", index=False)
    problems = _compare_module().compare(bent, new)
    assert any("rho" in p for p in problems)


def test_the_legacy_protocols_are_the_protocols_of_that_time() -> None:
    from layerflow.ricci import PROTOCOLS
    from layerflow.sweep._legacy import LEGACY_PROTOCOLS

    # the layout is frozen: the protocols it could hold still exist, with the same first pair
    assert {p: PROTOCOLS[p].first_pair for p in LEGACY_PROTOCOLS} == LEGACY_PROTOCOLS
