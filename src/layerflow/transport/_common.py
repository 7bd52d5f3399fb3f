"""Shared plumbing of the transport view: input checks, the equal-width run, errors, memory guard."""

from __future__ import annotations

import math

import numpy as np

from layerflow._errors import BudgetError, ConfigError
from layerflow._memory import available_bytes as available_bytes
from layerflow._memory import format_bytes
from layerflow._trajectory import Trajectory


def check_trajectory(traj: object, func: str) -> Trajectory:
    """Refuse anything but a :class:`Trajectory` with a message saying how to build one."""
    if not isinstance(traj, Trajectory):
        raise TypeError(
            f"{func}() expects a layerflow.Trajectory, got {type(traj).__name__}; "
            "wrap arrays with layerflow.Trajectory([X0, X1, ...])"
        )
    return traj


def run_indices(traj: Trajectory, run: tuple[int, int] | None, func: str,
                final_norm: bool = False) -> tuple[int, int]:
    """The equal-width run ``(start, stop)`` (inclusive) that a transport metric uses.

    ``run=None`` picks the longest run of consecutive equal-width states among those the views
    read (token ids left out, and a final-norm state unless ``final_norm``; see
    ``Trajectory.equal_width_run``); a named ``run`` is used as it is. Widths that do not match
    raise :class:`ConfigError` naming the runs that do have equal width.
    """
    try:
        return traj.equal_width_run(run, final_norm=final_norm)
    except ConfigError as exc:
        raise ConfigError(
            f"{func}: {exc}. Transport metrics compare states of equal width; for the OT score "
            "between states of different widths use layerflow.transport.gw_ot_score "
            "(Gromov–Wasserstein, an isometry-invariant notion), and for every transition of a "
            "trajectory whose widths change (each metric listing the transitions it used) "
            "layerflow.transport.stage_transport"
        ) from exc


def resolve_run(
    traj: Trajectory, run: tuple[int, int] | None, func: str
) -> tuple[tuple[int, int], np.ndarray]:
    """:func:`run_indices` and the run's states stacked as float64, shape ``(n+1, N, d)``."""
    start, stop = run_indices(traj, run, func)
    stacked = np.stack([np.asarray(s, dtype=np.float64) for s in traj.states[start : stop + 1]])
    return (start, stop), stacked


def run_label(traj: Trajectory, run: tuple[int, int]) -> str:
    """Human-readable run, e.g. ``"1..5 (layer1..layer5)"``."""
    a, b = run
    return f"{a}..{b} ({traj.layer_names[a]}..{traj.layer_names[b]})"


def check_memory(n: int, n_matrices: int, what: str, max_bytes: int | None = None) -> None:
    """Refuse an exact O(n²) computation that would not fit in memory.

    The estimate is ``n_matrices · n² · 8`` bytes (float64 cost matrix, plan, temporaries). The
    budget is ``max_bytes`` or, by default, half of the memory currently available. The message
    names the estimate, the budget and the largest sample size that fits the budget.
    """
    need = n_matrices * n * n * 8
    budget = max_bytes if max_bytes is not None else available_bytes() // 2
    if need > budget:
        fits = math.isqrt(max(budget, 0) // (n_matrices * 8))
        alternative = (
            f"analyse a sampled subset instead: at most {fits} samples fit, e.g. "
            f"traj.subsample({fits}, seed=0) (or m={fits} for ot_score / gw_ot_score)"
            if fits >= 2
            else "not even 2 samples fit this budget; give a larger max_bytes"
        )
        source = "max_bytes" if max_bytes is not None else "half the available memory"
        raise BudgetError(
            f"{what} on N={n} samples needs about {format_bytes(need)} for {n_matrices} {n}×{n} "
            f"float64 matrices but the budget is {format_bytes(budget)} ({source}); {alternative}"
        )
