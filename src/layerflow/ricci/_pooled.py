"""The authors' pooled Ricci coefficient over (layer, network) pairs.

Baptista et al.'s R code (anthbapt/Ricci-NN, ``fMNIST_kNN_RCoef_eval.r``) does not correlate per
network: it stacks, for every well-trained network m and every pair l = 1 … L−1, the point
``(η_{l,m}, Ric_{l,m})`` and computes one Pearson correlation over all of them::

    aa2 <- cor.test(msc$ssr[-which(msc$layer==1)], mfr$ssr[-which(mfr$layer==max(mfr$layer))])

with ``msc$ssr`` (layer l+1, network m) ``= 2·η_{l,m}`` (a sum over ordered pairs of points,
so twice ours; Pearson is unchanged by the factor) and ``mfr$ssr`` (layer l, network m)
``= Ric_{l,m}``. Before that, every network with an infinite geodesic mass is removed (R:
networks whose per-layer mean of ``msc$ssr`` is ``±Inf``). Which networks count as well-trained
(R: test accuracy above 0.98) is the caller's choice: pass those results.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow.ricci._coefficients import RicciCoefficient
from layerflow.stats._correlation import pearson_with_reason

# options that must agree between the pooled results
_SAME = ("protocol", "k", "curvature", "degree", "ties")


@dataclass(frozen=True)
class PooledCoefficient(ResultDisplay, headline=("coefficient", "n_pairs", "n_networks",
                                                "protocol", "k", "reason"),
                        rows=("eta", "scalar_curvature", "networks", "layers"), index="pair"):
    """R's pooled coefficient (:func:`pooled_coefficient`).

    Attributes
    ----------
    coefficient
        Pearson correlation of ``eta`` and ``scalar_curvature`` over all pooled pairs; NaN with
        ``reason`` when undefined (fewer than 3 pairs, zero variance).
    n_pairs
        Pooled (layer, network) pairs.
    n_networks
        Networks pooled (those not excluded).
    excluded
        Keys of the networks left out for an infinite geodesic mass (a disconnected kNN graph
        in some state): their position in ``results``, or their key when ``results`` is a
        mapping.
    excluded_reasons
        For each excluded network, which layers were disconnected (same order as ``excluded``).
    eta, scalar_curvature
        The pooled pairs ``η_l`` and ``Ric_l``, shape (n_pairs,), network by network, l
        increasing.
    networks, layers
        The network key and the l of each pooled pair, shape (n_pairs,).
    protocol, k, curvature, degree, ties
        The options shared by every pooled result.
    reason
        Why ``coefficient`` is NaN ("" when it is defined).
    """

    coefficient: float
    n_pairs: int
    n_networks: int
    excluded: tuple[Hashable, ...]
    excluded_reasons: tuple[str, ...]
    eta: np.ndarray
    scalar_curvature: np.ndarray
    networks: tuple[Hashable, ...]
    layers: np.ndarray
    protocol: str
    k: int
    curvature: str
    degree: str
    ties: str
    reason: str

    @property
    def n_excluded(self) -> int:
        return len(self.excluded)


def _keyed(results: Any) -> list[tuple[Hashable, Any]]:
    if isinstance(results, Mapping):
        return list(results.items())
    if isinstance(results, RicciCoefficient) or not isinstance(results, Sequence):
        raise ConfigError(
            f"results is a {type(results).__name__}; expected a sequence or a mapping of "
            "RicciCoefficient results (one per network)"
        )
    return list(enumerate(results))


def pooled_coefficient(
    results: Sequence[RicciCoefficient] | Mapping[Hashable, RicciCoefficient],
) -> PooledCoefficient:
    """One Pearson correlation over every (layer, network) pair, as the authors' R code computes.

    ``ρ_pooled = corr(η_{l,m}, Ric_{l,m})`` over the networks m whose geodesic masses are all
    finite and, in each, the pairs its protocol correlates (``result.pair_layers``: l = 1 … L−1
    under ``protocol="baptista"``, l = 0 … L−1 under ``"layerflow"``), concatenated network by
    network. Networks may have different depths.

    For results of ``ricci_coefficient(traj_m, k, protocol="baptista")`` (Forman curvature,
    exact geodesic mass) on the same activations the R code reads, ``.coefficient`` equals R's
    ``correlation_k_shift[[k]][1]`` (``cor.test(...)$estimate`` of ``aa2``) for the networks
    passed. One difference in what is left out: R removes a network when the per-layer mean of
    its row sums of ``d_l − d_{l−1}`` is ±Inf (a sum taken with ``na.rm = TRUE``), so a network
    whose graphs are disconnected in exactly the same way in consecutive layers (``Inf − Inf``
    dropped) stays in R; here every network with an infinite geodesic mass in any state is left
    out (its ρ is undefined) and named in ``.excluded``.

    Parameters
    ----------
    results
        :class:`~layerflow.ricci._coefficients.RicciCoefficient` results, one per network, as a
        sequence (networks named by position) or a mapping (named by key), all with the same
        protocol, k, curvature kind, degree mode and tie rule.

    Returns
    -------
    PooledCoefficient
        ``.coefficient``, ``.n_pairs``, ``.n_networks``, ``.excluded`` (and the pooled arrays).

    Raises
    ------
    ConfigError
        No results, an entry that is not a RicciCoefficient, or results that mix protocols,
        ks, curvature kinds, degree modes or tie rules.
    """
    items = _keyed(results)
    if not items:
        raise ConfigError("results is empty; expected at least one RicciCoefficient")
    for key, res in items:
        if not isinstance(res, RicciCoefficient):
            raise ConfigError(
                f"results[{key!r}] is a {type(res).__name__}; expected a RicciCoefficient "
                "(from ricci_coefficient or ricci_k_scan)"
            )
    key0, first = items[0]
    for name in _SAME:
        for key, res in items[1:]:
            if getattr(res, name) != getattr(first, name):
                raise ConfigError(
                    f"results mix {name}={getattr(first, name)!r} (results[{key0!r}]) and "
                    f"{name}={getattr(res, name)!r} (results[{key!r}]); pool results of one "
                    f"{name} at a time"
                )
    excluded = [(key, res.disconnected_description()) for key, res in items if not res.connected]
    kept = [(key, res) for key, res in items if res.connected]
    eta = np.concatenate([res.pair_eta for _, res in kept] or [np.zeros(0)])
    ric = np.concatenate([res.pair_curvature for _, res in kept] or [np.zeros(0)])
    layers = np.concatenate([res.pair_layers for _, res in kept] or [np.zeros(0, np.int64)])
    networks = tuple(key for key, res in kept for _ in range(res.pair_layers.shape[0]))
    rho, why = pearson_with_reason(eta, ric)
    if not kept:
        why = f"every network ({len(items)}) has an infinite geodesic mass"
    return PooledCoefficient(
        coefficient=rho,
        n_pairs=int(eta.shape[0]),
        n_networks=len(kept),
        excluded=tuple(key for key, _ in excluded),
        excluded_reasons=tuple(r for _, r in excluded),
        eta=eta,
        scalar_curvature=ric,
        networks=networks,
        layers=layers,
        protocol=first.protocol,
        k=first.k,
        curvature=first.curvature,
        degree=first.degree,
        ties=first.ties,
        reason=why,
    )
