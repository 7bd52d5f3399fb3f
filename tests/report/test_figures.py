"""The report's figures are drawn by lf.plot's functions from exactly the numbers of their
tables: the artists' data are checked against the table rows, and the tracks figure against a
PCA computed here independently (eigen-decomposition of the covariance)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow._trajectory import Trajectory
from layerflow.report import ReportInput
from layerflow.report._data import select_k
from layerflow.report.figures import FIGURES
from layerflow.stats._tables import finished, prepare_runs


def _spec(name: str):
    (spec,) = [s for s in FIGURES if s.name == name]
    return spec


def _table(store: ReportInput, name: str) -> pd.DataFrame:
    return _spec(name).table(finished(prepare_runs(store.runs)),
                             select_k(store.layers, store.runs), store.trajectories,
                             store.coefficients)


def _pca(states: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    flat = np.concatenate(states).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    vals, vecs = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(vals)[::-1][:2]
    coords = centred @ vecs[:, order]
    return coords.reshape(len(states), states[0].shape[0], 2), vals[order] / vals.sum()


def _same_up_to_sign(got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got).reshape(-1, 2), want.reshape(-1, 2)
    for c in range(2):
        sign = 1.0 if got[:, c] @ want[:, c] >= 0 else -1.0
        np.testing.assert_allclose(sign * got[:, c], want[:, c], rtol=1e-9, atol=1e-9)


def test_per_layer_lines_are_the_tables_means(store: ReportInput) -> None:
    for name in ("w2_path", "curvature", "jacobian"):
        table = _table(store, name)
        fig = _spec(name).plot(table)
        datasets = list(dict.fromkeys(table["dataset"]))
        quantities = list(dict.fromkeys(table["quantity"]))
        axes = [a for a in fig.axes if a.lines]
        assert len(axes) == len(datasets) * len(quantities)
        checked = 0
        for i, q in enumerate(quantities):
            for j, ds in enumerate(datasets):
                ax = axes[i * len(datasets) + j]
                bands = [c for c in ax.collections if c.get_gid() == "interval"]
                assert len(bands) == len(ax.lines)  # every variant has n = 3 networks
                for line, band in zip(ax.lines, bands, strict=True):
                    rows = table[(table["dataset"] == ds) & (table["quantity"] == q)
                                 & (table["variant"] == line.get_label())]
                    np.testing.assert_array_equal(line.get_xdata(), rows["layer"])
                    np.testing.assert_array_equal(line.get_ydata(), rows["mean"])
                    pts = {(float(x), float(y)) for p in band.get_paths() for x, y in p.vertices}
                    for x, lo, hi in zip(rows["layer"], rows["low"], rows["high"], strict=True):
                        assert (x, lo) in pts and (x, hi) in pts
                    checked += 1
                assert len(ax.lines) == table[(table["dataset"] == ds)
                                              & (table["quantity"] == q)]["variant"].nunique()
        assert checked >= 8


def test_lss_ots_bars_are_the_tables_means_and_intervals(store: ReportInput) -> None:
    table = _table(store, "lss_ots")
    fig = _spec("lss_ots").plot(table)
    datasets = list(dict.fromkeys(table["dataset"]))
    assert len(fig.axes) == 2 * len(datasets)  # rows LSS, OTS; one column per data set
    checked = 0
    for n, ax in enumerate(fig.axes):
        ds, metric = datasets[n % len(datasets)], ("lss_mean", "ots")[n // len(datasets)]
        names = [t.get_text() for t in ax.get_xticklabels()]
        rows = table[(table["dataset"] == ds) & (table["metric"] == metric)].set_index(
            "variant").loc[names]
        bars, whiskers = ax.containers
        np.testing.assert_array_equal([p.get_height() for p in bars], rows["mean"])
        segs = np.array([np.asarray(s) for s in whiskers.lines[2][0].get_segments()])
        np.testing.assert_allclose(segs[:, :, 1], rows[["low", "high"]].to_numpy(), rtol=1e-12)
        checked += 1
    assert checked == 4  # two data sets × (LSS, OTS)


def test_tracks_figure_draws_the_tables_layers_on_their_own_pca(store: ReportInput) -> None:
    table = _table(store, "tracks")
    fig = _spec("tracks").plot(table)
    runs = list(dict.fromkeys(table["run_id"]))
    ncols = 1 + int(table.groupby("run_id").size().max())
    grid = np.array(fig.axes).reshape(len(runs), ncols)
    for i, rid in enumerate(runs):
        sub = table[table["run_id"] == rid]
        traj = Trajectory.load(store.trajectories[rid])  # 60 samples: no subsample
        # the tracks: 40 seeded samples through the equal-width run, one projection for all
        start, stop = traj.equal_width_run()
        idx = np.sort(np.random.default_rng(0).choice(traj.n_samples, 40, replace=False))
        want, _ = _pca(list(traj.states[start:stop + 1]))
        segs = np.stack(grid[i][0].collections[0].get_segments())
        _same_up_to_sign(np.transpose(segs, (1, 0, 2)), want[:, idx])
        # each listed layer on its own top-2 axes, whose variance share is the table's number
        for a, (layer, share) in zip(grid[i][1:], zip(sub["layer"], sub["pca2_explained"],
                                                      strict=True), strict=False):
            coords, explained = _pca([traj.states[int(layer)]])
            _same_up_to_sign(a.collections[0].get_offsets(), coords[0])
            np.testing.assert_allclose(share, explained.sum(), rtol=1e-12)


def test_per_layer_interval_is_the_bootstrap_of_the_networks_values(store: ReportInput) -> None:
    """The W2 table's interval, recomputed by a plain loop: the residual networks (trained, no
    weight decay or penalty) of each data set, their W2 step at each layer, and the report's rule
    (seeded percentile bootstrap of the mean, 2000 resamples) written out here."""
    table = _table(store, "w2_path")
    runs, lay = store.runs, store.layers
    checked = 0
    for r in table[table["variant"] == "residual"].itertuples():
        ids = runs[(runs["dataset"] == r.dataset) & (runs["model_kind"] == "resnet")
                   & (runs["weight_decay"] == 0) & runs["trained"]
                   & (runs["transport_weight"] == 0) & ~runs["uzawa"]]["run_id"]
        v = lay[(lay["metric"] == "w2_step") & (lay["layer"] == r.layer)
                & lay["run_id"].isin(ids)]["value"].to_numpy()
        idx = np.random.default_rng(0).integers(0, v.size, size=(2000, v.size))
        lo, hi = np.quantile(v[idx].mean(axis=1), [0.025, 0.975])
        assert v.min() - 1e-12 <= lo <= hi <= v.max() + 1e-12  # inside the range (to rounding)
        assert r.n == v.size
        np.testing.assert_allclose([r.mean, r.low, r.high], [v.mean(), lo, hi], rtol=1e-12)
        checked += 1
    assert checked == 2 * 4  # two data sets, four steps


def test_infinite_geodesic_masses_are_counted_not_averaged(store) -> None:  # type: ignore[no-untyped-def]
    """A disconnected layer has an infinite geodesic mass: the per-layer table counts it in
    n_infinite and averages the finite values (no inf mean, no warning)."""
    import numpy as np

    from layerflow.report.figures._ricci import curvature_table

    layers = store.layers.copy()
    sel = layers.index[layers["metric"] == "geodesic_mass"][0]
    rid, layer = layers.at[sel, "run_id"], layers.at[sel, "layer"]
    layers.loc[sel, "value"] = np.inf
    tab = curvature_table(finished(prepare_runs(store.runs)), layers)
    mass = tab[tab["quantity"] == "geodesic_mass"]
    assert np.isfinite(mass["mean"]).all() and mass["n_infinite"].sum() == 1
    row = store.runs.set_index("run_id").loc[rid]
    hit = mass[(mass["layer"] == layer) & (mass["dataset"] == row["dataset"])
               & (mass["n_infinite"] == 1)]
    assert len(hit) == 1
