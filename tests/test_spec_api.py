"""SPEC §7 line by line: the public names, their defaults and result fields, and the four commands.

Every line of the SPEC §7 code block is called literally (small sizes where SPEC leaves them
free), and each result is checked against an answer computed here independently (scipy's
assignment solver, plain NumPy loops, networkx), so the test fails if a name, a default or a
result field drifts from the contract.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from click.testing import CliRunner
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

import layerflow as lf
from layerflow.cli import cli


@pytest.fixture(scope="module")
def ds() -> lf.Dataset:
    return lf.load_dataset("moons", n=2000, noise=0.1, seed=0)


@pytest.fixture(scope="module")
def model(ds: lf.Dataset) -> torch.nn.Module:
    net = lf.build_model(lf.ModelSpec("resnet", width=4, depth=3), ds.n_features, ds.n_classes,
                         seed=0)
    res = lf.train(net, ds, lf.TrainConfig(epochs=1, lr=0.01, batch_size=64, device="cpu"))
    assert res.status == "ok"
    return res.model


def _assignment_ots(X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    C = cdist(X, Y, "sqeuclidean")
    rows, cols = linear_sum_assignment(C)
    return float(np.mean(cols[np.argsort(rows)] == np.arange(len(X)))), float(
        np.trace(C) / C[rows, cols].sum())


def _w2(X: np.ndarray, Y: np.ndarray) -> float:
    C = cdist(X, Y, "sqeuclidean")
    rows, cols = linear_sum_assignment(C)
    return math.sqrt(C[rows, cols].mean())


# --- ds = lf.load_dataset("moons", n=2000, noise=0.1, seed=0) -----------------------------------

def test_load_dataset(ds: lf.Dataset) -> None:
    assert isinstance(ds, lf.Dataset)
    assert ds.name == "moons"
    assert len(ds.X_train) + len(ds.X_test) == 2000
    assert ds.X_train.shape[1] == ds.X_test.shape[1] == 2
    assert ds.y_train.shape == (len(ds.X_train),) and ds.y_test.shape == (len(ds.X_test),)
    assert set(np.unique(ds.y_train)) == {0, 1}
    again = lf.load_dataset("moons", n=2000, noise=0.1, seed=0)
    np.testing.assert_array_equal(again.X_train, ds.X_train)


# --- traj = lf.capture(model, ds.X_test, layers=None) -------------------------------------------

def test_capture_default_layers(ds: lf.Dataset, model: torch.nn.Module) -> None:
    traj = lf.capture(model, ds.X_test, layers=None)
    assert isinstance(traj, lf.Trajectory)
    # the input, then the lift and every residual block (the whole residual stream)
    assert len(traj.states) == 1 + len(model.capture_layers)
    np.testing.assert_array_equal(traj.states[0], ds.X_test.reshape(len(ds.X_test), -1))
    # independent: run the lift and blocks by hand
    with torch.no_grad():
        x = torch.as_tensor(ds.X_test)
        for i, name in enumerate(model.capture_layers, start=1):
            x = model.get_submodule(name)(x)
            np.testing.assert_allclose(traj.states[i], x.numpy(), rtol=1e-5, atol=1e-6)


# --- traj = lf.Trajectory([X0, X1, X2], labels=y) and the transport lines -----------------------

@pytest.fixture(scope="module")
def arrays() -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    X0 = rng.normal(size=(60, 3))
    X1 = X0 + rng.normal(scale=0.3, size=X0.shape)
    X2 = np.tanh(X1) + 0.5
    return [X0, X1, X2], rng.integers(0, 2, size=60)


def test_trajectory_from_arrays(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    (X0, X1, X2), y = arrays
    traj = lf.Trajectory([X0, X1, X2], labels=y)
    assert len(traj.states) == 3 and traj.n_layers == 2 and traj.n_samples == 60
    np.testing.assert_array_equal(traj.labels, y)
    for got, want in zip(traj.states, (X0, X1, X2), strict=True):
        np.testing.assert_allclose(got, want)


def test_line_shape_score(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    states, y = arrays
    res = lf.transport.line_shape_score(lf.Trajectory(states, labels=y))
    want = np.empty(60)
    for i in range(60):  # plain loop over the SPEC §2 definition
        pos, steps = states[0][i].copy(), 0
        for a, b in itertools.pairwise(states):
            s = b[i] - a[i]
            if np.linalg.norm(s) > 0:
                pos += s / np.linalg.norm(s)
                steps += 1
        want[i] = steps / np.linalg.norm(pos - states[0][i])
    assert res.per_sample.shape == (60,)
    np.testing.assert_allclose(res.per_sample, want, rtol=1e-12)
    np.testing.assert_allclose(res.mean, want.mean(), rtol=1e-12)
    np.testing.assert_allclose(res.median, np.median(want), rtol=1e-12)
    assert res.skipped_steps == 0


def test_ot_score(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    states, y = arrays
    res = lf.transport.ot_score(lf.Trajectory(states, labels=y), m=1000, seed=0)
    # m=1000 on N=60 samples uses all 60 (SPEC §2: m = min(N, 1000))
    assert res.m == 60
    score, ratio = _assignment_ots(states[0], states[-1])
    assert res.score == pytest.approx(score)
    assert res.cost_ratio == pytest.approx(ratio, rel=1e-9)
    assert 0.0 <= res.score <= 1.0 and res.cost_ratio >= 1.0


def test_wasserstein_path(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    states, y = arrays
    res = lf.transport.wasserstein_path(lf.Trajectory(states, labels=y))
    w = np.array([_w2(a, b) for a, b in itertools.pairwise(states)])
    assert res.steps.shape == (2,)
    np.testing.assert_allclose(res.steps, w, rtol=1e-9)
    np.testing.assert_allclose(res.geodesic_ratio, w.sum() / _w2(states[0], states[-1]),
                               rtol=1e-9)
    np.testing.assert_allclose(res.speed_cv, w.std() / w.mean(), rtol=1e-9)


def test_kinetic_energy(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    states, y = arrays
    e = lf.transport.kinetic_energy(lf.Trajectory(states, labels=y))
    assert isinstance(e, float)
    want = sum(float(np.mean(np.sum((b - a) ** 2, axis=1)))
               for a, b in itertools.pairwise(states))
    assert e == pytest.approx(want, rel=1e-12)


# --- the Ricci lines ---------------------------------------------------------------------------

def test_knn_graph_and_curvature_and_mass(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    X = arrays[0][0]
    G = lf.ricci.knn_graph(X, k=30)
    assert sp.isspmatrix_csr(G) or isinstance(G, sp.csr_array)
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    A = np.zeros((60, 60))
    for i in range(60):
        A[i, np.argsort(D[i])[:30]] = 1
    A = np.maximum(A, A.T)
    np.testing.assert_array_equal(G.toarray(), A)
    F = lf.ricci.edge_curvature(G, kind="forman")
    deg = A.sum(axis=1)
    np.testing.assert_array_equal(F.toarray(), A * (4 - deg[:, None] - deg[None, :]))
    for kind in ("augmented", "ollivier"):
        assert (lf.ricci.edge_curvature(G, kind=kind) != 0).sum() <= G.nnz
    nxg = nx.from_numpy_array(A)
    want = sum(sum(d.values()) for _, d in nx.all_pairs_shortest_path_length(nxg)) / 2
    mass = lf.ricci.path_mass(G)
    assert float(mass.value) == want  # SPEC writes the number; the result carries it as .value


def test_ricci_coefficients(arrays: tuple[list[np.ndarray], np.ndarray]) -> None:
    states, y = arrays
    states = [*states, 2.0 * states[-1]]  # local coefficients need 3 layer pairs
    traj = lf.Trajectory(states, labels=y)
    rc = lf.ricci.ricci_coefficient(traj, k=30, curvature="forman")
    assert rc.scalar_curvature.shape == (4,) and rc.geodesic_mass.shape == (4,)
    assert rc.eta.shape == (3,)
    assert rc.connected and len(rc.disconnected_layers) == 0
    for layer, X in enumerate(states):  # independent: Forman sums and masses per layer
        G = lf.ricci.knn_graph(X, k=30)
        assert rc.scalar_curvature[layer] == lf.ricci.edge_curvature(G).sum() / 2
        assert rc.geodesic_mass[layer] == lf.ricci.path_mass(G).value
    np.testing.assert_allclose(rc.eta, np.diff(rc.geodesic_mass))
    want = np.corrcoef(rc.eta, rc.scalar_curvature[:-1])[0, 1]
    assert rc.coefficient == pytest.approx(want, rel=1e-9)
    local = lf.ricci.local_coefficients(traj, k=30)
    assert local.values.shape == (60,)  # SPEC: "per sample (N,)"; carried as .values
    layer_rc = lf.ricci.layer_coefficients(traj, k=30)
    assert layer_rc.values.shape == (3,)


# --- maps and training ---------------------------------------------------------------------------

def test_jacobian_diagnostics(ds: lf.Dataset, model: torch.nn.Module) -> None:
    X = ds.X_test[:20]
    res = lf.maps.jacobian_diagnostics(model, X)
    blocks = [lay for lay in res.layers if lay.applicable]
    assert len(blocks) == 3  # the three equal-width residual blocks
    block = model.get_submodule(blocks[0].name)
    x0 = model.get_submodule(model.capture_layers[0])(torch.as_tensor(X)).double()
    for i in range(3):  # independent: torch.autograd on one sample at a time
        J = torch.autograd.functional.jacobian(block.double(), x0[i])
        sign, logabs = torch.linalg.slogdet(J)
        assert blocks[0].logabsdet[i] == pytest.approx(float(logabs), rel=1e-9, abs=1e-12)
        assert bool(blocks[0].orientation_preserved[i]) == bool(sign > 0)
    block.float()
    assert 0.0 <= blocks[0].fraction_diffeomorphic <= 1.0


def test_train_returns_a_result(ds: lf.Dataset) -> None:
    net = lf.build_model(lf.ModelSpec("mlp", width=8, depth=2), 2, 2, seed=1)
    before = [p.detach().clone() for p in net.parameters()]
    res = lf.train(net, ds, lf.TrainConfig(epochs=2, lr=0.02, device="cpu", seed=1))
    assert isinstance(res, lf.TrainResult) and res.status == "ok"
    assert len(res.loss_curve) >= 2
    assert any(not torch.equal(a, b) for a, b in zip(before, res.model.parameters(),
                                                       strict=True))
    with torch.no_grad():
        pred = (res.model(torch.as_tensor(ds.X_test)).reshape(-1) > 0).numpy()
    assert res.test_acc == pytest.approx(float(np.mean(pred == ds.y_test)))


# --- the command line ------------------------------------------------------------------------------

def test_cli_datasets() -> None:
    res = CliRunner().invoke(cli, ["datasets"], terminal_width=200)
    assert res.exit_code == 0, res.output
    for name in ("moons", "circles", "spirals", "digits", "mnist1d"):
        assert name in res.output


def test_cli_analyze_json_matches_direct_calls(
    tmp_path: Path, arrays: tuple[list[np.ndarray], np.ndarray]
) -> None:
    states, y = arrays
    path = tmp_path / "traj.npz"
    lf.Trajectory(states, labels=y).save(path)
    res = CliRunner().invoke(cli, ["analyze", str(path), "--k", "10", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert {"transport", "ricci"} <= set(out)
    t, r = out["transport"], out["ricci"]
    traj = lf.Trajectory.load(path)
    lss = lf.transport.line_shape_score(traj)
    ots = lf.transport.ot_score(traj, m=1000, seed=0)
    w2 = lf.transport.wasserstein_path(traj)
    assert t["lss_mean"] == pytest.approx(lss.mean, rel=1e-12)
    assert t["lss_median"] == pytest.approx(lss.median, rel=1e-12)
    assert t["ots"] == pytest.approx(ots.score) and t["ot_m"] == ots.m == 60
    assert t["ot_cost_ratio"] == pytest.approx(ots.cost_ratio, rel=1e-12)
    assert t["w2_geodesic_ratio"] == pytest.approx(w2.geodesic_ratio, rel=1e-12)
    assert t["kinetic_energy"] == pytest.approx(lf.transport.kinetic_energy(traj), rel=1e-12)
    rc = lf.ricci.ricci_coefficient(traj, k=10)
    assert r["k"] == 10 and r["ricci_connected"] == rc.connected
    assert (r["ricci_rho"] is None and math.isnan(rc.coefficient)) or (
        r["ricci_rho"] == pytest.approx(rc.coefficient))


def _no_constants(token: str) -> None:
    raise AssertionError(f"{token} is not JSON")


def test_cli_analyze_json_is_strict_json_with_null_for_nan(tmp_path: Path) -> None:
    X = np.random.default_rng(1).normal(size=(40, 2))
    path = lf.Trajectory([X, X, X]).save(tmp_path / "still.npz")  # nothing moves
    res = CliRunner().invoke(cli, ["analyze", str(path), "--k", "5", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output, parse_constant=_no_constants)
    t = out["transport"]
    # every track has only zero-length steps: no LSS, no geodesic ratio (SPEC §2)
    assert t["lss_mean"] is None and t["w2_geodesic_ratio"] is None
    assert t["lss_nan"] == 40 and t["kinetic_energy"] == 0.0 and t["ots"] == 1.0


TINY = """
name: spec-tiny
seeds: 1
datasets:
  - {name: moons, n: 120, noise: 0.1}
models:
  - {kind: resnet, width: 4, depth: 3}
training: {optimizer: adam, lr: 0.02, epochs: 1, batch_size: 32}
analysis:
  metrics: [transport, ricci]
  ks: [5]
  k: 5
  test_points: 25
  m: 25
"""


def test_cli_run_then_report(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(cfg), "--out", str(out), "--backend", "local",
                                   "--workers", "1", "--no-report"])
    assert res.exit_code == 0, res.output
    runs = lf.sweep.ResultStore(out).runs()
    assert len(runs) == 1 and runs["status"].tolist() == ["ok"]
    assert not (out / "report.html").exists()
    res = CliRunner().invoke(cli, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file()
