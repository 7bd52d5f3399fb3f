"""The report's figures: each a table of numbers and a pure function from that table to a Figure.

Every figure is drawn from exactly the table the report prints under it, so the picture and the
numbers cannot disagree. A ``*_table`` function turns the store (runs / layers / trajectories)
into that table; an empty table means the store lacks the data, and ``FigureSpec.needs`` says
what is missing. The runs every table function receives are the finished runs of the store's
runs table prepared once by the report (:func:`~layerflow.stats._tables.prepare_runs`).
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from layerflow.report.figures._common import collapse_equal_layers
from layerflow.report.figures._geodesic import figure_geodesic, geodesic_table
from layerflow.report.figures._least_action import figure_least_action, least_action_table
from layerflow.report.figures._maps import figure_jacobian, jacobian_table
from layerflow.report.figures._ricci import (
    curvature_table,
    figure_curvature,
    figure_ricci,
    ricci_table,
)
from layerflow.report.figures._ricci_paper import (
    eta_ric_table,
    figure_eta_ric,
    figure_rho_accuracy,
    rho_accuracy_table,
)
from layerflow.report.figures._tracks import figure_tracks, tracks_table
from layerflow.report.figures._transport import (
    figure_lss_ots,
    figure_w2,
    lss_ots_table,
    w2_table,
)

__all__ = ["FIGURES", "TABLES", "FigureSpec", "TableSpec"]


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: where its numbers come from, how it is drawn, why it may be absent.

    ``table(runs, layers, trajectories, coefficients) -> DataFrame`` (``coefficients``: the
    store's coefficients table, or None); ``plot(table) -> Figure``; ``needs`` explains what the
    store must hold when the table is empty; ``shown(table)``, when given, is the table as
    printed under the figure.
    """

    name: str
    view: str
    title: str
    table: Callable[[pd.DataFrame, pd.DataFrame, Mapping[str, Path], pd.DataFrame | None],
                    pd.DataFrame]
    plot: Callable[[pd.DataFrame], Any]
    needs: str
    caption: str = ""
    hidden_columns: tuple[str, ...] = field(default_factory=tuple)
    #: how the table is printed under the figure (``None``: as it is)
    shown: Callable[[pd.DataFrame], pd.DataFrame] | None = None


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "tracks", "geometry", "Data tracks through the layers",
        lambda r, lay, t, c: tracks_table(r, t), figure_tracks,
        "saved trajectories (OUT/trajectories/*.npz) of finished runs",
        "Rows: one residual and one plain network per data set (trained on all the data, no "
        "penalty or weight decay where available, lowest seed); for a study of one kind (a "
        "transformer's token tracks), a trained network and its untrained baseline. The table "
        "gives the share of variance the 2-D projection of each drawn layer keeps.",
        hidden_columns=("path",),
    ),
    FigureSpec(
        "lss_ots", "transport", "LSS and OTS: residual vs plain",
        lambda r, lay, t, c: lss_ots_table(r), figure_lss_ots,
        "run metrics lss_mean / ots (transport analysis)",
        "Mean over networks with 95 % bootstrap interval. LSS = 1 on a straight track; OTS = 1 "
        "when the network's own pairing of inputs and outputs is the optimal transport map.",
    ),
    FigureSpec(
        "geodesic", "transport", "Weight decay and the geodesic",
        lambda r, lay, t, c: geodesic_table(r), figure_geodesic,
        "networks of one data set and kind trained at three or more weight decays",
        "LSS, OTS, OT cost ratio and W2 geodesic ratio per weight decay γ, mean over seeds with "
        "95 % bootstrap intervals; the bands are Gai & Zhang's CIFAR-100 ranges (their networks "
        "and data differ from these: for orientation only).",
    ),
    FigureSpec(
        "w2_path", "transport", "W2 path per layer",
        lambda r, lay, t, c: w2_table(r, lay), figure_w2,
        "per-layer W2 steps in the layers table (transport analysis)",
        "W2 distance between the empirical measures of consecutive states, mean over networks; "
        "the band is its 95 % bootstrap interval.",
    ),
    FigureSpec(
        "curvature", "ricci", "Curvature and geodesic mass per layer",
        lambda r, lay, t, c: curvature_table(r, lay), figure_curvature,
        "per-layer scalar curvature / geodesic mass in the layers table (Ricci analysis)",
        "Scalar curvature Ric_l (the kind in the table's curvature column) and geodesic mass g_l of "
        "each layer's kNN graph, mean "
        "over networks; the band is its 95 % bootstrap interval.",
    ),
    FigureSpec(
        "ricci_rho", "ricci", "Ricci coefficients and accuracy",
        lambda r, lay, t, c: ricci_table(r), figure_ricci,
        "run metric ricci_rho (Ricci analysis)",
        "ρ = Pearson correlation over layers of η_l = g_{l+1} − g_l and Ric_l; untrained "
        "networks of the same shapes are the baseline.",
    ),
    FigureSpec(
        "ricci_eta_ric", "ricci", "η against Ric for one well-trained network",
        lambda r, lay, t, c: eta_ric_table(r, lay, c), figure_eta_ric,
        "per-layer η and scalar curvature of a well-trained network (Ricci analysis)",
        "Each point a pair of consecutive states (labelled l); filled points are the pairs the "
        "protocol correlates (the authors' protocol leaves the input pair out).",
    ),
    FigureSpec(
        "ricci_rho_accuracy", "ricci", "ρ against accuracy, per data set and k",
        lambda r, lay, t, c: rho_accuracy_table(r, c), figure_rho_accuracy,
        "coefficients at each protocol and k (Ricci analysis)",
        "Every network's global coefficient at each swept k against its test accuracy, a colour "
        "per protocol.",
    ),
    FigureSpec(
        "least_action", "least_action", "Least action: the low-data study",
        lambda r, lay, t, c: least_action_table(r), figure_least_action,
        "low-data study (runs of one data set and model kind at two or more train fractions)",
        "Mean test accuracy and kinetic energy with 95 % bootstrap intervals over seeds, per "
        "training arm and fraction of the training data.",
    ),
    FigureSpec(
        "jacobian", "maps", "Jacobian diagnostics",
        lambda r, lay, t, c: jacobian_table(r, lay), figure_jacobian,
        "per-layer Jacobian orientation fractions in the layers table (maps analysis)",
        "Fraction of samples at which an equal-width layer has det J > 0 (a local "
        "orientation-preserving diffeomorphism), mean over networks; the band is its 95 % "
        "bootstrap interval. The table lists consecutive layers with equal values as one row.",
        shown=collapse_equal_layers,
    ),
)


@dataclass(frozen=True)
class TableSpec:
    """A table the report prints without a figure: ``table(runs, layers, coefficients) ->
    DataFrame`` (left out when empty); ``runs`` holds the finished runs, or every run of the
    store with ``every_run``."""

    name: str
    view: str
    title: str
    table: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame | None], pd.DataFrame]
    every_run: bool = False


def _choices(runs: pd.DataFrame, layers: pd.DataFrame,
             coefficients: pd.DataFrame | None = None) -> pd.DataFrame:
    from layerflow.stats._least_action import ok_trained_arms, select_on_validation

    return select_on_validation(ok_trained_arms(runs))[1]


def _ricci_protocols(runs: pd.DataFrame, layers: pd.DataFrame,
                     coefficients: pd.DataFrame | None = None) -> pd.DataFrame:
    from layerflow.stats._ricci import protocol_table

    return protocol_table(runs, layers, coefficients)


def _data_sources(runs: pd.DataFrame, layers: pd.DataFrame,
                  coefficients: pd.DataFrame | None = None) -> pd.DataFrame:
    from layerflow.data._provenance import data_source_table

    if "ricci_rho" not in runs.columns:
        return pd.DataFrame()
    return data_source_table(runs)


TABLES: tuple[TableSpec, ...] = (
    TableSpec("data_sources", "ricci",
              "Data: the papers' own data sets (authors) and the ones standing in for them "
              "(substitute), with the networks and test points of each", _data_sources,
              every_run=True),
    TableSpec("ricci_protocols", "ricci",
              "Per protocol and k: ρ < 0 (Wilson), the pooled coefficient (networks "
              "resampled), r(ρ, accuracy), networks left out for a disconnected graph",
              _ricci_protocols),
    TableSpec("least_action_choices", "least_action",
              "Settings chosen on the validation split (each arm, data set and train fraction)",
              _choices),
)
