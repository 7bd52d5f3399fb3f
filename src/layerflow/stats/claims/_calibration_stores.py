"""Calibration of claims rows end to end: simulated stores run through :func:`compute_claims`.

Where :mod:`layerflow.stats.claims._calibration` calibrates each estimator on the observations
it is handed, this module simulates whole stores — the runs table with the column names a
study writes (``dataset``, ``model_kind``, ``width``, ``depth``, ``seed``, ``trained``,
``status``, ``val_acc``, ``test_acc``, ``ricci_rho``, ``weight_decay``, ``transport_weight``,
``train_fraction``, ``arm``, ``data_seed``, ``lss_mean``, …) — with a known truth, and reads
the row of one claim from the real pipeline: the builders (which networks are eligible, the
cells, the data draws), the estimator, Holm within the family and the verdict. One design per
claim whose inference the studies lean on (:data:`STORE_DESIGNS`), each at the fewest units a
verdict may come from (``MIN_UNITS``):

- ``rho_vs_accuracy``: within-cell r(ρ, test accuracy) spread between cells about the truth,
  with a strong association between the cells' means that the estimand excludes;
- ``rho_negative_vs_untrained``: trained − untrained share of ρ < 0 within cells;
- ``penalty_low_data``: transport penalty − plain test accuracy, paired by seed over data draws
  (each draw moves every arm and the gain);
- ``lss_weight_decay``: per cell Spearman ρ(γ, LSS) over three weight decays × three seeds
  (ties in γ and in LSS), combined as the mean Fisher z.

:func:`calibrate_store` reports the coverage of the row's 95 % interval (under an effect), the
share of rows under the null read ``supported`` or ``contradicted`` (false verdicts), and the
share of rows at null + SESOI read ``no effect`` (false "no effect").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from layerflow.stats.claims import Claim

from layerflow._errors import ConfigError
from layerflow.stats.claims._calibration import spearman_lss, spearman_slope, spearman_truth
from layerflow.stats.claims._registry import MIN_UNITS, declaration

#: a simulated store: the runs table (raw, as a store holds it) and the truth
Store = tuple[pd.DataFrame, float]


@dataclass(frozen=True)
class StoreDesign:
    """A simulated store design: ``simulate(rng, effect) -> (runs, truth)``; the claims row it
    calibrates (``key``, a row of claim ``claim``); the effect used for coverage; the units
    per simulation. The null and SESOI are the claim's declared ones."""

    name: str
    claim: str
    key: str
    simulate: Callable[[np.random.Generator, float], Store]
    effect: float
    units: int

    @property
    def null(self) -> float:
        return declaration(self.claim).null

    @property
    def sesoi(self) -> float:
        return declaration(self.claim).sesoi


def _net(**cols: object) -> dict[str, object]:
    base: dict[str, object] = {"status": "ok", "trained": True, "width": 8, "depth": 4,
                               "weight_decay": 0.0, "transport_weight": 0.0, "uzawa": False,
                               "train_fraction": 1.0, "n_points": 200}
    return {**base, **cols}


def rho_accuracy_store(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
                       tau: float = 0.15) -> Store:
    """m data sets × one shape, 5–12 well-trained networks each (validation accuracy 0.99);
    within data set c, (ρ, test accuracy) correlate at tanh(atanh(effect) + 0.15·N(0, 1));
    the data sets' mean ρ and mean accuracy move together (between-cell r near 1). Truth:
    ``effect`` (tanh of the mean within-cell Fisher z)."""
    rows = []
    for c in range(m):
        r = math.tanh(math.atanh(effect) + tau * rng.normal())
        n = int(rng.integers(5, 13))
        shift = rng.normal()
        x = rng.normal(size=n)
        y = r * x + math.sqrt(1 - r * r) * rng.normal(size=n)
        for s in range(n):
            rho = 0.3 * shift + 0.05 * x[s]
            rows.append(_net(run_id=f"d{c}-{s}", dataset=f"set{c}", model_kind="mlp", width=25,
                             depth=5, seed=s, val_acc=0.99,
                             test_acc=0.99 + 0.004 * shift + 0.001 * y[s], k=30,
                             ricci_rho=rho, ricci_connected=1))
    return pd.DataFrame(rows), effect


def trained_untrained_store(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
                            concentration: float = 2.0, base: float = 0.4) -> Store:
    """m data sets × one shape; untrained networks' chance of ρ < 0 p_u ~ Beta(mean 0.4,
    concentration 2), well-trained networks' p_t = p_u + effect·(1 − p_u) / 0.6; 2–8 networks
    of each group per cell. Truth: ``effect`` (the mean over cells of p_t − p_u)."""
    rows = []
    for c in range(m):
        pu = rng.beta(base * concentration, (1 - base) * concentration)
        pt = pu + effect * (1 - pu) / (1 - base)
        for trained, p in ((True, pt), (False, pu)):
            for s in range(int(rng.integers(2, 9))):
                neg = rng.random() < p
                rho = (-1.0 if neg else 1.0) * (0.05 + 0.1 * rng.random())
                acc = 0.99 if trained else 0.5
                rows.append(_net(run_id=f"d{c}-{trained}-{s}", dataset=f"set{c}",
                                 model_kind="mlp", width=25, depth=5, seed=s, trained=trained,
                                 val_acc=acc, test_acc=acc, k=30, ricci_rho=rho,
                                 ricci_connected=1))
    return pd.DataFrame(rows), effect


def least_action_store(rng: np.random.Generator, effect: float, tasks: int = 2,
                       draws: int = 3, seeds: int = 3) -> Store:
    """2 tasks × 3 data draws (``data_seed``) = 6 units, fractions 5 % and 100 %, 3 seeds, arms
    plain and transport penalty. A draw moves every arm's accuracy (sd 0.02 per fraction) and
    its gain at 5 % (``effect`` + 0.02·N(0, 1)); each run adds noise (sd 0.01). Truth:
    ``effect``."""
    rows = []
    for t in range(tasks):
        for d in range(draws):
            gain = effect + 0.02 * rng.normal()
            for frac in (0.05, 1.0):
                shift = 0.02 * rng.normal()
                for s in range(seeds):
                    for arm, tw in (("plain", 0.0), ("transport", 1.0)):
                        acc = 0.8 + shift + (gain if tw and frac < 1 else 0.0) \
                            + 0.01 * rng.normal()
                        rows.append(_net(run_id=f"t{t}d{d}f{frac}s{s}{arm}", dataset=f"task{t}",
                                         model_kind="resnet", seed=s, train_fraction=frac,
                                         arm=arm, transport_weight=tw, data_seed=d,
                                         test_acc=acc, val_acc=acc))
    return pd.DataFrame(rows), effect


def weight_decay_store(rng: np.random.Generator, effect: float, m: int = MIN_UNITS) -> Store:
    """m data sets × one shape of residual networks at weight decays 0, 1e-4, 1e-3 × 3 seeds,
    LSS from :func:`~layerflow.stats.claims._calibration.spearman_lss` (ties in γ and in LSS),
    the slope chosen so that the estimand (tanh of the mean Fisher z of a cell's Spearman ρ) is
    ``effect``."""
    slope = spearman_slope(round(effect, 12))
    lss = 2.0 + spearman_lss(rng, slope, m)
    gammas = np.repeat([0.0, 1e-4, 1e-3], 3)
    rows = [_net(run_id=f"d{c}-{j}", dataset=f"set{c}", model_kind="resnet", seed=j % 3,
                 weight_decay=float(gammas[j]), lss_mean=float(lss[c, j]), test_acc=0.9)
            for c in range(m) for j in range(gammas.size)]
    return pd.DataFrame(rows), spearman_truth(slope)


_M = MIN_UNITS
STORE_DESIGNS: tuple[StoreDesign, ...] = (
    StoreDesign(f"ρ–accuracy, within-cell r by meta-analysis ({_M} data sets)",
                "rho_vs_accuracy", "rho_vs_accuracy_k30", rho_accuracy_store, -0.4, _M),
    StoreDesign(f"trained − untrained share of ρ < 0 within cells ({_M} data sets)",
                "rho_negative_vs_untrained", "rho_negative_vs_untrained_k30",
                trained_untrained_store, 0.3, _M),
    StoreDesign(f"transport penalty − plain, paired by seed over draws ({_M} draws)",
                "penalty_low_data", "penalty_low_data", least_action_store, 0.01, _M),
    StoreDesign(f"Spearman ρ(γ, LSS) per cell, ties ({_M} data sets)", "lss_weight_decay",
                "lss_weight_decay", weight_decay_store, -0.3, _M),
)


def _row(design: StoreDesign, runs: pd.DataFrame) -> Claim:
    from layerflow.stats._tables import prepare_runs
    from layerflow.stats.claims import compute_claims

    rows = [c for c in compute_claims(prepare_runs(runs)) if c.key == design.key]
    if len(rows) != 1:
        raise ConfigError(f"design {design.name!r}: its store gave {len(rows)} rows "
                         f"{design.key!r}; expected exactly one")
    return rows[0]


def calibrate_store(design: StoreDesign, n_sims: int, seed: int = 0,
                    parts: tuple[str, ...] = ("coverage", "false_verdicts", "false_no_effect")
                    ) -> dict[str, float | int | str]:
    """Coverage (under ``design.effect``), false verdicts (under the null) and false "no
    effect" (at null ± SESOI on the predicted side) of one claims row from simulated stores
    (``n_sims`` each, seeded); ``parts`` picks which (the others are NaN)."""
    rng = np.random.default_rng(seed)
    d = declaration(design.claim)
    counts = {"coverage": 0, "false_verdicts": 0, "false_no_effect": 0}
    for _ in range(n_sims if "coverage" in parts else 0):
        runs, truth = design.simulate(rng, design.effect)
        c = _row(design, runs)
        lo, hi = c.interval
        counts["coverage"] += bool(math.isfinite(lo) and lo <= truth <= hi)
    for _ in range(n_sims if "false_verdicts" in parts else 0):
        runs, _t = design.simulate(rng, d.null)
        counts["false_verdicts"] += _row(design, runs).verdict in ("supported", "contradicted")
    edge = d.null + d.predicted * d.sesoi
    for _ in range(n_sims if "false_no_effect" in parts else 0):
        runs, _t = design.simulate(rng, edge)
        counts["false_no_effect"] += _row(design, runs).verdict == "no effect"
    return {"design": design.name, "estimator": f"{d.estimator} ({design.key})",
            "units": design.units, "n_sims": n_sims,
            **{k: (v / n_sims if k in parts else math.nan) for k, v in counts.items()}}


def store_calibration_table(n_sims: int, seed: int = 0,
                            designs: tuple[StoreDesign, ...] = STORE_DESIGNS) -> pd.DataFrame:
    """:func:`calibrate_store` of every design, one row each."""
    return pd.DataFrame([calibrate_store(d, n_sims, seed) for d in designs])
