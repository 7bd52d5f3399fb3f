"""The claims table: one row per declared claim (or manipulation check) a store can speak to.

Each claim is declared before any data are read (:data:`DECLARATIONS`, in
:mod:`layerflow.stats.claims._registry`): its estimand, unit of analysis, cells, null value,
predicted direction, smallest effect of interest (SESOI), family, kind and the estimator that
computes it (:data:`~layerflow.stats.claims._estimators.ESTIMATORS`). :func:`compute_claims`
gathers each claim's observations (:mod:`layerflow.stats.claims._observations`), runs its
estimator, adjusts the p-values by Holm within each family, and reads a verdict off them:

- ``too few``: fewer independent units than the declaration's ``min_units``;
- ``supported`` / ``contradicted``: the Holm-adjusted two-sided p-value against the null is
  below 0.05, with the estimate on the side the paper predicts / the other side. For a claim
  over cells or data draws the row's p-value is the larger of the t-test's and the exact
  sign-flip (randomisation) test's on the units' summaries, so both must reject; the unit of a
  cell-level claim is the data draw (data set spec and data_seed), its cells averaged within
  it;
- ``no effect``: otherwise, when the Holm-adjusted equivalence test (TOST) puts the effect
  within ± the SESOI of the null;
- ``inconclusive``: neither, or a row that may give no verdict whatever its estimate (its
  reason says why: e.g. an arm run at several settings with no declared tuning seeds, so the
  setting was chosen on the seeds the row reports).

Each row also carries ``p_reachable``, a lower bound on the Holm-adjusted p its design can give
whatever the data: the exact sign-flip test over ``m`` units cannot give less than ``2 / 2^m``,
and Holm multiplies the family's smallest p by the family's size. Where that is at least 0.05,
``supported`` and ``contradicted`` cannot be reached, and an inconclusive row's reason says so
(more independent units are needed, not more networks).

Manipulation checks (``kind == "check"``) are judged the same way in their own family and
listed apart: they are never support for a paper's claim. Nothing is written in advance: the
same code gives the opposite verdict on data that say the opposite.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from layerflow.stats._intervals import Interval
from layerflow.stats.claims._estimators import (
    ESTIMATORS,
    SIGN_FLIP_DRAWS,
    SIGN_FLIP_EXACT,
    CellEstimate,
    Estimate,
    holm,
)
from layerflow.stats.claims._observations import BUILDERS, Observations
from layerflow.stats.claims._registry import DECLARATIONS, PAPERS, ClaimDeclaration

__all__ = [
    "ALPHA",
    "CLAIMS",
    "DECLARATIONS",
    "VERDICTS",
    "Claim",
    "ClaimDeclaration",
    "compute_claims",
    "judge",
    "p_floor",
    "verdict",
]

ALPHA = 0.05
VERDICTS = ("supported", "contradicted", "no effect", "inconclusive", "too few")
#: every declared claim by key, in registry order
CLAIMS: dict[str, ClaimDeclaration] = {d.key: d for d in DECLARATIONS}


@dataclass(frozen=True)
class Claim:
    """One row of the claims table (the fields of ``findings.json``'s ``claims``).

    ``estimate`` and ``interval`` (95 %, unadjusted) are NaN with ``reason`` saying why when
    undefined; ``p_adjusted`` is the Holm-adjusted two-sided p-value within ``family``;
    ``n_units`` independent units (``unit``), ``n_networks`` networks used of ``n_eligible``,
    ``left_out`` why the rest were left out; ``cells`` the per-unit estimates (forest plot);
    ``notes`` what else the row must say (the between-cell association, which accuracy decided
    well-trained); ``heterogeneity`` τ², I², Q of a meta-analysis.
    """

    key: str
    paper: str
    claim: str
    definition: str
    protocol: str
    quantity: str
    estimate: float
    interval: tuple[float, float]
    unit: str
    n_units: int
    n_networks: int
    n_eligible: int
    family: str
    p_adjusted: float
    kind: str
    verdict: str
    null: float = 0.0
    p: float = math.nan
    p_equivalence: float = math.nan
    left_out: str = ""
    reason: str = ""
    notes: str = ""
    base_key: str = ""
    cells: tuple[CellEstimate, ...] = ()
    heterogeneity: dict[str, float] = field(default_factory=dict)
    n_cells: int = 0
    p_t: float = math.nan
    p_signflip: float = math.nan
    p_reachable: float = math.nan

    @property
    def n(self) -> int:
        """The number of independent units (what the row's interval is over)."""
        return self.n_units

    @property
    def counts(self) -> str:
        """``"9 data sets, 45 cells, 20 of 50 networks; 30 disconnected at k = 10"``: the row's
        one count (the cells when the units are data draws holding several)."""
        cells = (f"{self.n_cells} cells, " if self.n_cells and self.unit_word != "networks"
                 else "")
        text = (f"{self.n_units} {self.unit_word}, {cells}{self.n_networks} of "
                f"{self.n_eligible} networks")
        return text + (f"; {self.left_out}" if self.left_out else "")

    @property
    def unit_word(self) -> str:
        return self.unit.split(":", 1)[0] if self.unit else "units"

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval)
        out["cells"] = [asdict(c) for c in self.cells]
        out["counts"] = self.counts
        out["interval_level"] = "95 %, unadjusted (the verdict reads the Holm-adjusted p)"
        return out


def verdict(iv: Interval, null: float, predicted: int) -> str:
    """``supported`` / ``contradicted`` / ``inconclusive`` from a 95 % interval alone (no
    multiplicity adjustment, no equivalence): the rule for a single interval."""
    if math.isnan(iv.low) or math.isnan(iv.high):
        return "inconclusive"
    if iv.low > null:
        return "supported" if predicted > 0 else "contradicted"
    if iv.high < null:
        return "supported" if predicted < 0 else "contradicted"
    return "inconclusive"


def judge(estimate: float, null: float, predicted: int, p_adjusted: float,
          p_equivalence_adjusted: float, n_units: int, min_units: int,
          alpha: float = ALPHA) -> str:
    """The verdict of one row (see the module docstring)."""
    if n_units < min_units:
        return "too few"
    if math.isfinite(p_adjusted) and p_adjusted < alpha and math.isfinite(estimate):
        above = estimate > null
        return "supported" if above == (predicted > 0) else "contradicted"
    if math.isfinite(p_equivalence_adjusted) and p_equivalence_adjusted < alpha:
        return "no effect"
    return "inconclusive"


@dataclass(frozen=True)
class _Row:
    decl: ClaimDeclaration
    obs: Observations
    est: Estimate


def _estimate(decl: ClaimDeclaration, obs: Observations) -> Estimate:
    if obs.obs.empty:
        return Estimate(math.nan, math.nan, math.nan, math.nan, math.nan, 0, math.nan, (),
                        "no unit holds the data this claim needs")
    return ESTIMATORS[decl.estimator](obs.obs, decl.null, decl.sesoi)


def p_floor(est: Estimate) -> float:
    """The smallest p-value the row's test can give whatever the data: ``2 / 2^m`` for the
    exact sign-flip test over ``m`` units (the observed flip and its mirror), ``1 / (1 + draws)``
    for its Monte Carlo form; 0 where the row has no sign-flip test."""
    if not math.isfinite(est.p_signflip) or est.n_units < 1:
        return 0.0
    if est.n_units <= SIGN_FLIP_EXACT:
        return min(1.0, 2.0 / 2.0 ** est.n_units)
    return 1.0 / (1 + SIGN_FLIP_DRAWS)


def _family(r: _Row) -> str:
    """The Holm family of a row: its claim's declared family, or that family's sensitivity
    family for a row at another protocol or k than the confirmatory one."""
    return r.decl.family + (" · sensitivity" if r.obs.sensitivity else "")


def compute_claims(runs: pd.DataFrame, layers: pd.DataFrame | None = None,
                   coefficients: pd.DataFrame | None = None) -> list[Claim]:
    """Every declared claim the store can speak to, in registry order (``runs`` prepared by
    :func:`~layerflow.stats._tables.prepare_runs`; ``layers`` the long per-layer table;
    ``coefficients`` the store's coefficients table, one row per network, protocol and k —
    without it only each run's primary coefficient is known)."""
    from layerflow.stats._tables import require_prepared

    df = require_prepared(runs, "compute_claims")
    lay = layers if layers is not None else pd.DataFrame()
    rows: list[_Row] = []
    for decl in DECLARATIONS:
        for obs in BUILDERS[decl.key](df, lay, coefficients):
            rows.append(_Row(decl, obs, _estimate(decl, obs)))
    # Holm within each family, over the rows that reach a verdict (enough units); a claim's
    # rows at other protocols or ks than the confirmatory one form a sensitivity family apart
    p_adj: dict[int, tuple[float, float]] = {}
    reach: dict[int, tuple[float, float, int]] = {}
    for fam in dict.fromkeys(_family(r) for r in rows):
        idx = [i for i, r in enumerate(rows) if _family(r) == fam
               and r.est.n_units >= r.decl.min_units and not r.obs.no_verdict]
        adj_p = holm([rows[i].est.p for i in idx])
        adj_e = holm([rows[i].est.p_equivalence for i in idx])
        p_adj.update({i: (a, e) for i, a, e in zip(idx, adj_p, adj_e, strict=True)})
        # Holm's adjusted p of a row is at least its own p and at least m times the family's
        # smallest: with the tests' floors, the smallest adjusted p the design can reach
        # (the family's size as Holm counts it: the rows with a p)
        finite = [i for i in idx if math.isfinite(rows[i].est.p)]
        floors = {i: p_floor(rows[i].est) for i in finite}
        lowest = min(floors.values(), default=0.0)
        reach.update({i: (min(1.0, max(f, len(finite) * lowest)), f, len(finite))
                      for i, f in floors.items()})
    out = []
    for i, r in enumerate(rows):
        d, o, e = r.decl, r.obs, r.est
        pa, pe = p_adj.get(i, (math.nan, math.nan))
        v = judge(e.estimate, d.null, d.predicted, pa, pe, e.n_units, d.min_units)
        reason = e.reason
        if o.no_verdict and v != "too few":
            v, reason = "inconclusive", _join(f"no verdict: {o.no_verdict}", reason)
        if v == "too few":
            reason = _join(f"{e.n_units} {o.unit_word} of the {d.min_units} a verdict needs",
                           reason, o.notes if "no data_seed" in o.notes else "")
        reachable, floor, m = reach.get(i, (math.nan, math.nan, 0))
        if v == "inconclusive" and reachable >= ALPHA:
            reason = _join(reason, (
                f"this design cannot reach supported or contradicted: with {e.n_units} "
                f"{o.unit_word} the sign-flip test gives p ≥ {floor:.3g}, and Holm over "
                f"the {m} rows of its family makes that ≥ {reachable:.3g} (α = {ALPHA:g}); "
                "more independent units are needed, not more networks"))
        claim_text = d.wording + (f" ({o.label})" if o.label else "")
        out.append(Claim(
            key=d.key + o.suffix, paper=PAPERS[d.paper], claim=claim_text,
            definition=d.definition, protocol=o.protocol, quantity=d.estimand,
            estimate=float(e.estimate), interval=(float(e.low), float(e.high)),
            unit=f"{o.unit_word}: {d.unit}", n_units=int(e.n_units),
            n_networks=int(o.n_networks), n_eligible=int(o.n_eligible), family=_family(r),
            p_adjusted=float(pa), kind=d.kind, verdict=v, null=d.null, p=float(e.p),
            p_equivalence=float(pe), left_out=o.left_out, reason=reason, notes=o.notes,
            base_key=d.key, cells=e.cells, heterogeneity=dict(e.heterogeneity),
            n_cells=int(e.n_cells), p_t=float(e.p_t), p_signflip=float(e.p_signflip),
            p_reachable=float(reachable)))
    return out


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
