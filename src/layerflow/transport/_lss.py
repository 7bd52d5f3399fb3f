"""Line-shape score (LSS) of each sample's track (Gai & Zhang 2021)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.transport._common import check_trajectory, run_indices


@dataclass(frozen=True)
class LineShapeResult(ResultDisplay, headline=("mean", "median", "n_nan", "n_inf",
                                              "skipped_steps", "n_steps", "run"),
                      rows=("per_sample",), index="sample"):
    """LSS of every track.

    Attributes
    ----------
    per_sample
        Shape ``(N,)``; NaN for a track whose steps all vanish, ``inf`` for a track whose unit
        steps sum to zero (it returns to its start after normalisation).
    mean, median
        Over the finite-or-infinite values (NaN tracks left out); NaN if every track is NaN.
    skipped_steps
        Zero-length steps skipped, over all tracks (of ``N · n``).
    n_nan
        Tracks with no LSS because all their steps vanish.
    n_inf
        Tracks with infinite LSS.
    n_steps
        n, the number of steps of each track in the run.
    run
        The equal-width run ``(start, stop)`` of state indices (inclusive) that was used.
    """

    per_sample: np.ndarray
    mean: float
    median: float
    skipped_steps: int
    n_nan: int
    n_inf: int
    n_steps: int
    run: tuple[int, int]


def unit_steps(stacked: np.ndarray, atol: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps ``s_l = x^(l+1) − x^(l)`` of stacked states ``(n+1, N, d)``, with norms and unit steps.

    Returns ``(norms (n, N), units (n, N, d), nonzero (n, N) bool)``. Norms are computed with
    per-step scaling (``‖s‖ = max|s| · ‖s / max|s|‖``), so tiny steps neither underflow nor give
    unit vectors of the wrong length. Steps with ``‖s‖ <= atol`` are "zero" and get a zero unit
    vector.
    """
    steps = np.diff(stacked, axis=0)
    scale = np.abs(steps).max(axis=2)
    nonzero = scale > 0
    safe = np.where(nonzero, scale, 1.0)
    u = steps / safe[..., None]
    un = np.sqrt(np.einsum("lnd,lnd->ln", u, u))
    un = np.where(nonzero, un, 1.0)
    norms = np.where(nonzero, scale * un, 0.0)
    if atol > 0:
        nonzero &= norms > atol
    u /= un[..., None]
    u[~nonzero] = 0.0
    return norms, u, nonzero


def nan_mean_median(values: np.ndarray) -> tuple[float, float]:
    ok = values[~np.isnan(values)]
    if ok.size == 0:
        return float("nan"), float("nan")
    return float(ok.mean()), float(np.median(ok))


def lss_from_units(units: np.ndarray, nonzero: np.ndarray) -> np.ndarray:
    """``LSS = n' / ‖Σ_l ŝ_l‖`` per track from unit steps ``(n, N, d)`` and mask ``(n, N)``."""
    k = nonzero.sum(axis=0).astype(np.float64)
    total = units.sum(axis=0)
    dist = np.sqrt(np.einsum("nd,nd->n", total, total))
    with np.errstate(divide="ignore", invalid="ignore"):
        lss = k / dist
    lss[k == 0] = np.nan
    return cast(np.ndarray, lss)


def line_shape_score(
    traj: Trajectory, run: tuple[int, int] | None = None, *, atol: float = 0.0
) -> LineShapeResult:
    """Line-shape score of every sample's track (Gai & Zhang 2021, "A mathematical principle of
    deep learning: learn the geodesic curve in the Wasserstein space").

    For a track ``x^(0), …, x^(n)`` of the equal-width run with steps ``s_l = x^(l+1) − x^(l)``,
    walk unit steps ``x̃^(0) = x^(0)``, ``x̃^(l+1) = x̃^(l) + s_l/‖s_l‖`` over the n' steps with
    ``‖s_l‖ > atol`` (zero-length steps are skipped and counted), and

    .. math::  \\mathrm{LSS} = \\frac{n'}{\\lVert \\tilde x^{(n)} - \\tilde x^{(0)} \\rVert}
                             = \\frac{n'}{\\lVert \\sum_l s_l/\\lVert s_l\\rVert \\rVert} \\ge 1,

    with equality iff all (non-zero) steps point the same way. A track whose steps all vanish has
    no LSS (NaN, counted in ``n_nan``); one whose unit steps cancel has LSS = inf (``n_inf``).
    In floating point a straight track can come out at ``1 − 1e-16``; values are not clipped.

    Parameters
    ----------
    traj
        Trajectory with N samples; the states of ``run`` have shape ``(N, d)``.
    run
        ``(start, stop)`` state indices (inclusive) of equal width; default the longest such run.
    atol
        Steps with ``‖s_l‖ <= atol`` count as zero-length (default 0: only exact zeros).
    """
    traj = check_trajectory(traj, "line_shape_score")
    if not (np.isfinite(atol) and atol >= 0):
        raise ConfigError(f"atol={atol!r}: expected a finite number >= 0")
    start, stop = run_indices(traj, run, "line_shape_score")
    states = traj.states[start : stop + 1]
    n, d = traj.n_samples, int(np.asarray(states[0]).shape[1])
    # every sample's LSS depends on its own track only: blocks of samples (about 64 MB of
    # float64 steps each) give the same numbers as one block, without stacking all N at once
    block = max(1, min(n, (64 << 20) // max(1, 8 * d * len(states))))
    parts, skipped = [], 0
    for i in range(0, n, block):
        stacked = np.stack([np.asarray(s[i : i + block], dtype=np.float64) for s in states])
        _, units, nonzero = unit_steps(stacked, atol)
        parts.append(lss_from_units(units, nonzero))
        skipped += int(nonzero.size - np.count_nonzero(nonzero))
    return lss_result(np.concatenate(parts), skipped, len(states) - 1, (start, stop))


def lss_result(lss: np.ndarray, skipped: int, n_steps: int,
               used: tuple[int, int]) -> LineShapeResult:
    """The :class:`LineShapeResult` of per-sample scores ``lss`` (N,)."""
    mean, median = nan_mean_median(lss)
    lss.setflags(write=False)
    return LineShapeResult(
        per_sample=lss,
        mean=mean,
        median=median,
        skipped_steps=skipped,
        n_nan=int(np.isnan(lss).sum()),
        n_inf=int(np.isinf(lss).sum()),
        n_steps=n_steps,
        run=used,
    )
