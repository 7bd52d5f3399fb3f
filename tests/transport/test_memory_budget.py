"""Issue 8: an exact O(N²) transport computation that would not fit is refused before it is
allocated, and the message names the size, the budget and a sample size that does fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from layerflow import Trajectory
from layerflow._errors import BudgetError
from layerflow._memory import format_bytes
from layerflow.transport import _common, gw_ot_score, ot_score, summary, wasserstein_path


def _fits(budget: int, n_matrices: int) -> int:
    """Largest m with n_matrices · m² · 8 <= budget, by counting up (no isqrt)."""
    m = 0
    while n_matrices * (m + 1) ** 2 * 8 <= budget:
        m += 1
    return m


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1.00 KiB"), (1536, "1.50 KiB"),
     (5 * 2**20, "5.00 MiB"), (3 * 2**30 + 2**29, "3.50 GiB"), (2**40, "1.00 TiB"),
     (2**52, "4096.00 TiB")],
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


def test_ot_score_refuses_and_names_size_budget_and_a_sample_that_fits(
    rng: np.random.Generator,
) -> None:
    X = rng.standard_normal((300, 2))
    traj = Trajectory([X, X + 1.0])
    budget = 100_000
    need = 3 * 300 * 300 * 8  # cost matrix, plan, temporaries (float64)
    fits = _fits(budget, 3)
    assert fits == 64  # 3·64²·8 = 98 304 <= 100 000 < 3·65²·8
    with pytest.raises(BudgetError) as info:
        ot_score(traj, m=300, max_bytes=budget)
    msg = str(info.value)
    assert msg.startswith("ot_score on N=300 samples")
    assert f"needs about {need / 2**20:.2f} MiB" in msg  # 2.06 MiB
    assert "3 300×300 float64 matrices" in msg
    assert f"budget is {budget / 1024:.2f} KiB (max_bytes)" in msg
    assert f"traj.subsample({fits}, seed=0)" in msg and f"m={fits}" in msg
    # the advertised alternative really fits the same budget
    assert ot_score(traj, m=fits, max_bytes=budget).m == fits
    with pytest.raises(BudgetError, match=r"on N=65 samples"):
        ot_score(traj, m=fits + 1, max_bytes=budget)


def test_default_budget_is_half_the_available_memory(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    X = rng.standard_normal((200, 3))
    traj = Trajectory([X, np.tanh(X), X * 2.0])
    monkeypatch.setattr(_common, "available_bytes", lambda: 2 * 50_000)
    for call in (lambda: ot_score(traj), lambda: wasserstein_path(traj)):
        with pytest.raises(BudgetError) as info:
            call()
        msg = str(info.value)
        assert "on N=200 samples" in msg
        assert "budget is 48.83 KiB (half the available memory)" in msg
        assert f"traj.subsample({_fits(50_000, 3)}, seed=0)" in msg
    # the summary reports every metric it can: the OT score fails alone, with the same reason,
    # and the W2 path runs on the largest seeded subsample that fits, said in the note
    values = summary(traj, m=200)
    note = str(values["transport_note"])
    assert np.isnan(values["ots"]) and "no OT score: " in note and "on N=200 samples" in note
    assert values["w2_m"] == _fits(50_000, 3)
    assert f"W2 path on a subsample of {_fits(50_000, 3)} of the 200 samples (seed 0)" in note
    assert np.isfinite(values["lss_mean"]) and np.isfinite(values["kinetic_energy"])
    fits = _fits(50_000, 3)
    sub = traj.subsample(fits, seed=0)
    assert wasserstein_path(sub).steps.shape == (2,)


def test_wasserstein_path_and_gw_refuse_before_allocating(rng: np.random.Generator) -> None:
    X = rng.standard_normal((50, 2))
    with pytest.raises(BudgetError, match=r"wasserstein_path on N=50 samples needs about "
                       r"58\.59 KiB .*budget is 1000 bytes .*traj\.subsample\(6, seed=0\)"):
        wasserstein_path(Trajectory([X, X + 1]), max_bytes=1000)  # 3·6²·8 = 864 <= 1000
    traj = Trajectory([X, rng.standard_normal((50, 4))])
    # GW keeps 6 m×m matrices (two distance matrices, coupling, gradient, temporaries)
    with pytest.raises(BudgetError, match=r"gw_ot_score on N=40 samples needs about "
                       r"75\.00 KiB for 6 40×40 .*m=" + str(_fits(10_000, 6))):
        gw_ot_score(traj, m=40, max_bytes=10_000)
    assert math.isqrt(10_000 // 48) == _fits(10_000, 6)
    assert gw_ot_score(traj, m=_fits(10_000, 6), max_bytes=10_000).m == _fits(10_000, 6)
