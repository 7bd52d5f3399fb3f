"""The real task: train a group of seeds as one ensemble, then analyse every member.

For runs that share dataset, model shape and training config (everything but the seed):

1. load each member's data draw (:func:`load_run_dataset`, cached per worker process): the
   dataset with the loader seed of the draw, its labelled budget (``train_fraction < 1``: a
   stratified subset seeded by the draw) and the validation split carved from that budget (also
   seeded by the draw), so every arm of one draw sees the same training and validation samples;
2. ``train_ensemble(spec, datasets, cfg, seeds)`` — one batched module, each member identical to
   training it alone with its seed on its own draw (members whose draws differ in size train in
   separate ensembles); untrained baselines are ``build_model(spec, d, c, seed)``;
3. for each member: ``capture(model, X_test[:test_points])`` and every view of
   ``analysis.metrics`` (:mod:`layerflow.views`): its scalars become the run's columns, its
   per-layer rows the long table. With ``analysis.per_token`` the capture makes one point per
   token (:func:`token_trajectory`) and every view runs on the token tracks unchanged.

A diverged member gets status ``diverged`` and NaN for every numeric column of its views; an
exception while analysing one member records it ``failed`` with the message; the other members
are unaffected. Options (``ctx.options``): ``device`` (default ``"cpu"``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from layerflow.sweep._grid import RunSpec, canonical_json
from layerflow.sweep._tasks import MemberResult, TaskContext, torch_threads
from layerflow.views import get_view

_DATA_CACHE: dict[str, Any] = {}  # a run's draw, cut to its budget and validation split
_LOADED: dict[str, Any] = {}  # what the loader gave for a draw


def load_run_dataset(run: RunSpec) -> Any:
    """The data draw of a run (cached per process).

    The loader runs with :meth:`~layerflow.sweep._grid.RunSpec.draw_args`; ``train_fraction < 1``
    keeps a stratified share of the training split (the labelled budget,
    :meth:`~layerflow.data.Dataset.subset_train`), then ``val_fraction > 0`` carves the
    validation split out of that budget (:meth:`~layerflow.data.Dataset.hold_out_validation`),
    both seeded by ``data_seed``. The test split is the loader's.
    """
    from layerflow.data import load_dataset

    key = canonical_json({"dataset": run.dataset, "data_seed": run.data_seed})
    if key not in _DATA_CACHE:
        whole = canonical_json({"name": run.dataset["name"], "args": run.draw_args()})
        if whole not in _LOADED:  # every fraction of a draw cuts the same loaded set
            if len(_LOADED) > 64:
                _LOADED.clear()
            _LOADED[whole] = load_dataset(run.dataset["name"], **run.draw_args())
        ds = _LOADED[whole]
        if run.train_fraction < 1.0:
            ds = ds.subset_train(run.train_fraction, seed=run.data_seed)
        if run.val_fraction > 0:  # carved from the labelled budget: the same for every arm
            ds = ds.hold_out_validation(run.val_fraction, seed=run.data_seed)
        if len(_DATA_CACHE) > 64:
            _DATA_CACHE.clear()
        _DATA_CACHE[key] = ds
    return _DATA_CACHE[key]


def _view_options(analysis: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The resolved options of view ``name`` among a run's analysis settings."""
    return {k: analysis[k] for k in get_view(name).option_names if k in analysis}


def _nan_metrics(analysis: Mapping[str, Any]) -> dict[str, float]:
    """Every numeric column of the chosen views as NaN (a diverged or failed member's row)."""
    out: dict[str, float] = {}
    for name in analysis["metrics"]:
        out.update(get_view(name).nan_scalars(_view_options(analysis, name)))
    return out


def token_trajectory(model: Any, X: np.ndarray, labels: np.ndarray,
                     metadata: Mapping[str, Any]) -> Any:
    """One point per token (``capture(…, per_token=True)``), each sequence's label on its tokens.

    When ``X`` holds token ids (a model with an ``nn.Embedding``, 2-D inputs), the input state —
    the ids, one number per token, a label rather than a coordinate — is left out: the tracks
    start at the embedding, as a Hugging Face model's hidden states do
    (:meth:`~layerflow.Trajectory.from_hidden_states`).
    """
    from torch import nn

    from layerflow._capture import capture

    traj = capture(model, X, labels=labels, metadata=metadata, per_token=True)
    takes_ids = any(isinstance(m, nn.Embedding) for m in model.modules())
    if takes_ids and np.asarray(X).ndim == 2 and traj.n_layers >= 2:
        traj = traj.select(1, traj.n_layers)
    return traj


def trajectory_filename(run: RunSpec) -> str:
    """The file a run's saved trajectory gets: what the run is, then its id, e.g.
    ``moons-resnet-w16d4-plain-f0.05-seed0-3f2a9c0d1e4b5a6c.npz`` (``untrained`` for a baseline).
    The report finds the run by the trailing 16-hex-digit id."""
    m = run.model
    shape = f"w{m['width']}d{m['depth']}" if "width" in m and "depth" in m else ""
    parts = [str(run.dataset["name"]), str(m["kind"]), shape,
             str(run.arm) if run.trained else "untrained", f"f{run.train_fraction:g}",
             f"seed{run.seed}", run.run_id]
    name = "-".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".npz"


def analyse_member(model: Any, ds: Any, run: RunSpec, ctx: TaskContext) -> tuple[
        dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Capture ``model`` on the first ``test_points`` test samples and run the analyses
    (``analysis.per_token``: on their tokens, ``n_points`` then counting tokens and
    ``n_sequences`` the sequences). Returns the run's scalars, its per-layer rows and its
    coefficient rows."""
    from layerflow._capture import capture

    a = run.analysis
    n = min(int(a["test_points"]), len(ds.X_test))
    X, y = ds.X_test[:n], ds.y_test[:n]
    meta = {"run_id": run.run_id, "dataset": ds.name, "model": run.model["kind"],
            "seed": run.seed}
    metrics: dict[str, Any] = {}
    if a.get("per_token"):
        traj = token_trajectory(model, X, y, meta)
        metrics["n_sequences"] = n
    else:
        traj = capture(model, X, labels=y, metadata=meta)
    metrics["n_points"] = traj.n_samples
    layers: list[dict[str, Any]] = []
    coefficients: list[dict[str, Any]] = []
    for name in a["metrics"]:
        res = get_view(name).measure(traj, model=model, inputs=X, **_view_options(a, name))
        metrics.update(res.scalars)
        layers.extend({"run_id": run.run_id, **row} for row in res.layers)
        coefficients.extend({"run_id": run.run_id, **row} for row in res.coefficients)
    if run.run_id in ctx.save_ids:
        traj.save(ctx.trajectories / trajectory_filename(run))
    return metrics, layers, coefficients


def run_task(runs: list[RunSpec], ctx: TaskContext) -> list[MemberResult]:
    import torch  # noqa: F401  (loaded before torch_threads, which only acts on a loaded torch)

    with torch_threads(max(1, int(ctx.threads))):
        return _run_task(runs, ctx)


def _run_task(runs: list[RunSpec], ctx: TaskContext) -> list[MemberResult]:
    from layerflow.models import ModelSpec, build_model
    from layerflow.training import TrainConfig, accuracy, train_ensemble

    r0 = runs[0]
    data = {r.run_id: load_run_dataset(r) for r in runs}
    spec = ModelSpec(**r0.model)
    t0 = time.perf_counter()
    members: list[tuple[RunSpec, Any, str, str | None, dict[str, float], float]] = []
    if r0.trained:
        assert r0.training is not None
        # members whose draws hold as many training rows train as one ensemble
        parts: dict[int, list[RunSpec]] = {}
        for r in runs:
            parts.setdefault(len(data[r.run_id].y_train), []).append(r)
        trained: dict[str, Any] = {}
        for part in parts.values():
            cfg = TrainConfig(**r0.training, seed=part[0].seed,
                              device=str(ctx.options.get("device", "cpu")))
            sets = [data[r.run_id] for r in part]
            shared = all(d is sets[0] for d in sets)
            results = train_ensemble(spec, sets[0] if shared else sets, cfg,
                                     [r.seed for r in part])
            trained.update({r.run_id: res for r, res in zip(part, results, strict=True)})
        for r in runs:
            res = trained[r.run_id]
            accs = {"train_acc": res.train_acc, "test_acc": res.test_acc,
                    "val_acc": res.val_acc}
            members.append((r, res.model, res.status, res.message or None, accs, res.seconds))
    else:
        for r in runs:
            ds = data[r.run_id]
            model = build_model(spec, ds.n_features, ds.n_classes, seed=r.seed).eval()
            accs = {"train_acc": accuracy(model, ds.X_train, ds.y_train),
                    "val_acc": accuracy(model, ds.X_val, ds.y_val),
                    "test_acc": accuracy(model, ds.X_test, ds.y_test)}
            members.append((r, model, "ok", None, accs, 0.0))
    train_s = (time.perf_counter() - t0) / max(1, len(runs))
    out: list[MemberResult] = []
    for r, model, status, message, accs, seconds in members:
        ds = data[r.run_id]
        base = {**{k: float(v) for k, v in accs.items()},
                "train_seconds": float(seconds or train_s)}
        if status != "ok":
            out.append(MemberResult(r, status, message, {**_nan_metrics(r.analysis), **base},
                                    [], float(seconds or train_s)))
            continue
        t1 = time.perf_counter()
        try:
            metrics, layers, coefficients = analyse_member(model, ds, r, ctx)
        except Exception as exc:  # one member's analysis must not lose the others
            out.append(MemberResult(r, "failed", f"{type(exc).__name__}: {exc}",
                                    {**_nan_metrics(r.analysis), **base}, [],
                                    train_s + time.perf_counter() - t1))
            continue
        metrics.update(base)
        metrics["analysis_seconds"] = time.perf_counter() - t1
        out.append(MemberResult(r, "ok", None, metrics, layers,
                                train_s + metrics["analysis_seconds"], coefficients))
    return out
