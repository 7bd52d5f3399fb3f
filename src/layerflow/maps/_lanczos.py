"""Batched symmetric Lanczos with full reorthogonalisation, and what its tridiagonal matrices give.

For B symmetric positive semi-definite operators ``A_r`` (here ``A_r = J_rᵀ J_r``, one per row r)
known only through products ``v ↦ A_r v`` and a start vector ``z_r`` per row, m steps of Lanczos
build an orthonormal basis ``Q_m`` of the Krylov space ``span{z, Az, …, A^{m−1}z}`` and the
tridiagonal ``T_m = Q_mᵀ A Q_m`` (diagonal ``α``, off-diagonal ``β``) (Golub & Van Loan,
*Matrix Computations*, 4th ed., ch. 10; Parlett, *The Symmetric Eigenvalue Problem*, 1998).
With ``T_m = S diag(θ) Sᵀ``:

* **Ritz values** ``θ_1 ≤ … ≤ θ_m`` lie in ``[λ_min(A), λ_max(A)]``, so ``θ_m ≤ λ_max`` and
  ``θ_1 ≥ λ_min`` always (Cauchy interlacing);
* **residuals** ``‖A y_i − θ_i y_i‖ = β_m |S_{m,i}|`` for the Ritz vector ``y_i = Q_m s_i``: some
  eigenvalue of A lies within that distance of ``θ_i`` (the residual bound);
* **Gauss quadrature**: ``zᵀ f(A) z ≈ ‖z‖² Σ_i S_{1,i}² f(θ_i)`` (Golub & Meurant 1994/2010),
  the core of stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017).

Rows are advanced together (one batched operator call per step) and leave the batch when a stop
rule says so or when the Krylov space becomes invariant (breakdown, ``β ≈ 0``: then ``T_m`` is
exact). Full reorthogonalisation (classical Gram–Schmidt, twice) keeps ``Q_m`` orthonormal to
rounding, so no spurious (ghost) Ritz values appear; it costs ``O(m d)`` memory per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Operator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``apply(rows, V)``: ``A_r v_r`` for the rows ``rows`` (shape ``(b,)``) and ``V`` ``(b, d)``."""

BREAKDOWN = 1e-14
"""A row stops when ``β_{j+1} ≤ BREAKDOWN · max(|α|, β)`` so far: its Krylov space is
invariant to rounding (float64 resolves ~1e-16; 1e-14, a hundred times that, leaves room for
the accumulated error of the reorthogonalisation). Our choice."""


@dataclass(frozen=True)
class LanczosRun:
    """The tridiagonal matrices of a batched Lanczos run.

    Attributes
    ----------
    alpha
        Shape ``(B, k)``: ``α_1…α_m`` of each row in its first ``steps[r]`` entries.
    beta
        Shape ``(B, k)``: ``beta[r, j] = β_{j+1} = ‖w_j‖``, the coupling ``T[j, j+1]`` for
        ``j < steps[r] − 1``; ``beta[r, steps[r] − 1]`` is the residual norm ``β_m`` (0 after a
        breakdown).
    steps
        Shape ``(B,)``: ``m``, the Lanczos steps (products with A) each row took.
    stopped
        Shape ``(B,)`` bool: True when the row left by the stop rule or a breakdown, False when
        it ran out of steps.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    steps: torch.Tensor
    stopped: torch.Tensor


StopRule = Callable[[torch.Tensor, torch.Tensor, LanczosRun], torch.Tensor]
"""``stop(rows, steps, run)``: called every few steps on the working rows (global indices) with
their step counts and the run so far (coefficients filled up to each row's step count); returns a
bool mask, shape ``(b,)``, of the rows to retire."""


def lanczos(
    apply: Operator,
    Z: torch.Tensor,
    max_steps: int,
    *,
    stop: StopRule | None = None,
    check_every: int = 5,
) -> LanczosRun:
    """Run Lanczos on B operators at once, from the start vectors ``Z`` (shape ``(B, d)``).

    ``apply(rows, V)`` returns ``A_r v`` for global row indices ``rows`` and vectors ``V``
    (float64, shape ``(b, d)``). Every ``check_every`` steps, ``stop(rows, steps, run)`` is called
    with the working rows, their step counts and the run so far; the rows it marks leave the
    batch. At most ``min(max_steps, d)`` steps. Memory: ``B · k · d`` floats for the bases.
    """
    B, d = Z.shape
    k = min(int(max_steps), d)
    alpha = Z.new_zeros(B, k)
    beta = Z.new_zeros(B, k)
    dev = Z.device
    steps = torch.full((B,), k, dtype=torch.long, device=dev)
    stopped = torch.zeros(B, dtype=torch.bool, device=dev)
    run = LanczosRun(alpha, beta, steps, stopped)
    rows = torch.arange(B, device=dev)
    basis = Z.new_empty(B, k, d)  # slot j is written at step j before any read
    q = Z / Z.norm(dim=1, keepdim=True)
    broken = torch.zeros(B, dtype=torch.bool, device=dev)
    m_broken = torch.zeros(B, dtype=torch.long, device=dev)
    scale = Z.new_zeros(B)
    for j in range(k):
        basis[:, j] = q
        w = apply(rows, q)
        a = (q * w).sum(dim=1)
        w = w - a[:, None] * q
        if j:
            w = w - beta[rows, j - 1][:, None] * basis[:, j - 1]
        Qj = basis[:, : j + 1]
        for _ in range(2):
            w = w - torch.einsum("bk,bkd->bd", torch.einsum("bkd,bd->bk", Qj, w), Qj)
        b = w.norm(dim=1)
        scale = torch.maximum(scale, torch.maximum(a.abs(), b))
        newly = ~broken & (b <= BREAKDOWN * scale)
        alpha[rows, j] = torch.where(broken, 0.0, a)
        beta[rows, j] = torch.where(broken, 0.0, b)
        m_broken = torch.where(newly, j + 1, m_broken)
        broken = broken | newly
        q = torch.where(broken[:, None], 0.0, w / torch.where(broken, 1.0, b)[:, None])
        last = j + 1 == k
        if (j + 1) % check_every and not last:
            continue
        m_rows = torch.where(broken, m_broken, j + 1)
        done = broken.clone()
        if stop is not None:
            done |= stop(rows, m_rows, run)
        if last:
            steps[rows] = m_rows
            stopped[rows] = done
            break
        if done.any():
            steps[rows[done]] = m_rows[done]
            stopped[rows[done]] = True
            keep = ~done
            rows, basis, q = rows[keep], basis[keep], q[keep]
            broken, m_broken, scale = broken[keep], m_broken[keep], scale[keep]
            if rows.numel() == 0:
                break
    return run


def ritz(
    alpha: torch.Tensor, beta: torch.Tensor, steps: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ritz values, Gauss weights and residuals of rows of different lengths, in one batch.

    Row r's ``T_m`` (``m = steps[r]``) is padded to the common size ``k`` by a decoupled diagonal
    block equal to ``α_1`` (a Rayleigh quotient, so inside ``[θ_1, θ_m]``): the padding moves
    neither extreme Ritz value and gets zero Gauss weight (its eigenvectors vanish on ``e_1``).

    Returns ``theta`` (B, k) ascending, ``weights = S_{1,i}²`` (B, k) and
    ``residual = β_m |S_{m,i}|`` (B, k).
    """
    B, k = alpha.shape
    idx = torch.arange(k, device=alpha.device)
    valid = idx[None, :] < steps[:, None]
    diag = torch.where(valid, alpha, alpha[:, :1])
    off = torch.where(idx[None, 1:] < steps[:, None], beta[:, : k - 1], 0.0)
    T = torch.diag_embed(diag) + torch.diag_embed(off, 1) + torch.diag_embed(off, -1)
    theta, S = torch.linalg.eigh(T)
    weights = S[:, 0, :] ** 2
    r = torch.arange(B, device=alpha.device)
    residual = beta[r, steps - 1][:, None] * S[r, steps - 1, :].abs()
    return theta, weights, residual
