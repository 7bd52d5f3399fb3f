"""Finding sentences, each computed from the results table (never written in advance).

Every finding is a small :class:`Finding` record: the sentence plus the numbers it states, so a test
can recompute them from the store. The direction of each statement ("lower", "higher", "ρ < 0")
is chosen from the data: the same function says the opposite when the data say the opposite.
The numbers come from :mod:`layerflow.stats`; the sentences are written here, and only here.

:data:`FINDINGS` is the registry, grouped by paper (its ``view`` places a finding in the report):
each function takes the finished runs of a prepared runs table
(:func:`~layerflow.stats._tables.prepare_runs`) and the long layers table and returns a list of
findings (empty when its data are absent from the store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from layerflow.report._findings.base import Finding, fmt_fraction, fmt_percent
from layerflow.report._findings.least_action import least_action_findings
from layerflow.report._findings.maps import jacobian_orientation
from layerflow.report._findings.ricci import (
    protocol_findings,
    rho_by_protocol_and_k,
    rho_sign,
    rho_trained_vs_untrained,
    rho_vs_accuracy,
)
from layerflow.report._findings.transformer import token_findings
from layerflow.report._findings.transport import (
    geodesic_residual_vs_plain,
    lss_residual_vs_plain,
    ots_residual_vs_plain,
    weight_decay_sweep,
)
from layerflow.stats._tables import finished, require_prepared

__all__ = ["FINDINGS", "Finding", "FindingFn", "as_records", "compute_findings", "fmt_fraction",
           "fmt_percent", "protocol_findings"]


def _least_action(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    return least_action_findings(runs)


#: a finding function: (prepared runs table, long layers table) -> findings
FindingFn = Callable[[pd.DataFrame, pd.DataFrame], list[Finding]]

FINDINGS: dict[str, FindingFn] = {
    # Gai & Zhang 2021
    "lss_residual_vs_plain": lss_residual_vs_plain,
    "ots_residual_vs_plain": ots_residual_vs_plain,
    "w2_residual_vs_plain": geodesic_residual_vs_plain,
    "weight_decay_sweep": weight_decay_sweep,
    # Baptista et al. 2024
    "rho_sign": rho_sign,
    "rho_trained_vs_untrained": rho_trained_vs_untrained,
    "rho_vs_accuracy": rho_vs_accuracy,
    "rho_by_protocol_and_k": rho_by_protocol_and_k,
    # Dong et al. 2017
    "jacobian_orientation": jacobian_orientation,
    # Karkar et al. 2020
    "least_action": _least_action,
    # transformers' token trajectories (Hosseini & Fedorenko 2023; the views above on tokens)
    "token_trajectories": token_findings,
}


def compute_findings(runs: pd.DataFrame, layers: pd.DataFrame | None = None,
                     overrides: Mapping[str, FindingFn] | None = None,
                     coefficients: pd.DataFrame | None = None) -> list[Finding]:
    """Every finding the store supports, in registry order.

    ``runs`` is a prepared runs table (:func:`~layerflow.stats._tables.prepare_runs`; a raw
    one is a :class:`~layerflow._errors.ConfigError`); the findings read its finished runs.
    ``overrides`` replaces registry entries by name (the report passes sentences built from a
    table it computed once). A finding function that declares a ``coefficients`` parameter gets
    the store's coefficients table.
    """
    import inspect

    df = finished(require_prepared(runs, "compute_findings"))
    lay = layers if layers is not None else pd.DataFrame()
    out: list[Finding] = []
    for name, func in FINDINGS.items():
        fn = (overrides or {}).get(name, func)
        reads = "coefficients" in inspect.signature(fn).parameters
        out.extend(fn(df, lay, coefficients=coefficients) if reads  # type: ignore[call-arg]
                   else fn(df, lay))
    return out


def as_records(findings: list[Finding]) -> list[dict[str, Any]]:
    """Findings as JSON-ready dicts (what the report embeds for notebooks and tests)."""
    return [
        {"key": f.key, "view": f.view, "text": f.text, "numbers": dict(f.numbers)}
        for f in findings
    ]
