"""The claims, declared before any data are read: :data:`DECLARATIONS`.

A declaration fixes what a claims row tests — the estimand, the unit of analysis, the cells,
the null value, the predicted direction, the smallest effect of interest (SESOI), the family
whose rows share a Holm adjustment, whether the row is a claim or a manipulation check, the
fewest independent units that may give a verdict, and the estimator (by name, from
:data:`~layerflow.stats.claims._estimators.ESTIMATORS`). Nothing here reads a store: no k, no
threshold, no train fraction is chosen from results. Where a row is made per (protocol, k),
the ks are those the study's config declared (every k the store was analysed at), never one
picked by looking at the coefficients. Of those rows, the one at the study's primary protocol
and k (its config's first protocol and ``analysis.k``; for the authors' pooled coefficient their
smallest k, 30) is the confirmatory row and shares the claim's family; the rows at the other
protocols and ks are sensitivity rows, Holm-adjusted in a family of their own
(``"<family> · sensitivity"``). A changed definition is a visible change of this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerflow._errors import ConfigError
from layerflow.stats._accuracy import WELL_TRAINED
from layerflow.stats.claims._estimators import ESTIMATORS

PAPERS = {
    "gai-zhang": "Gai & Zhang 2021",
    "baptista": "Baptista et al. 2024",
    "dong": "Dong et al. 2017",
    "karkar": "Karkar et al. 2020",
    "hosseini-fedorenko": "Hosseini & Fedorenko 2023",
}
KINDS = ("claim", "check")

#: the fewest independent units (cells or data draws) a cell- or draw-level claim may be judged
#: on: a verdict needs both the t-test and the exact sign-flip test to reject, and with m units
#: the smallest two-sided sign-flip p-value is 2 / 2^m (0.0625 with 5 units, 0.03125 with 6), so
#: fewer than 6 could never reach a verdict
MIN_UNITS = 6

#: the low-data regime: the train fractions the study's config declared low data (the runs'
#: ``low_data`` column); without that declaration every fraction below 1.0 (the full data) of a
#: task that also ran the full data
LOW_DATA = ("the train fractions the config declared low data (else every fraction below the "
            "full data, 1.0, of a task that ran it)")
#: the smallest train fraction the least-action claims are also reported at alone (1 %),
#: declared here, not chosen from the data
SMALLEST_FRACTION = 0.01


@dataclass(frozen=True)
class ClaimDeclaration:
    """One claim (or manipulation check), fixed before the data: see the module docstring.

    ``predicted``: +1 when the paper predicts the estimate above ``null``, −1 below.
    ``min_units``: fewer independent units than this give the verdict ``too few``.
    """

    key: str
    paper: str
    wording: str
    estimand: str
    unit: str
    cells: str
    null: float
    predicted: int
    sesoi: float
    family: str
    kind: str
    min_units: int
    estimator: str

    def __post_init__(self) -> None:
        if self.paper not in PAPERS:
            raise ConfigError(f"paper={self.paper!r}: expected one of {sorted(PAPERS)}")
        if self.kind not in KINDS:
            raise ConfigError(f"kind={self.kind!r}: expected one of {KINDS}")
        if self.predicted not in (-1, 1):
            raise ConfigError(f"predicted={self.predicted!r}: expected +1 or -1")
        if self.estimator not in ESTIMATORS:
            raise ConfigError(f"estimator={self.estimator!r}: expected one of "
                             f"{sorted(ESTIMATORS)}")
        if not self.sesoi > 0:
            raise ConfigError(f"sesoi={self.sesoi!r}: expected a positive smallest effect")
        if self.min_units < 2:
            raise ConfigError(f"min_units={self.min_units!r}: an interval needs at least 2 units")

    @property
    def definition(self) -> str:
        """The sentence the report prints under the claim: estimand, unit, null, direction."""
        side = "above" if self.predicted > 0 else "below"
        return (f"{self.estimand}; unit: {self.unit}; cells: {self.cells}; null {self.null:g}, "
                f"predicted {side}; no effect within ±{self.sesoi:g}; at least "
                f"{self.min_units} units; estimator {self.estimator}")


_WT = (f"well-trained: validation accuracy ≥ {WELL_TRAINED:g} (test accuracy, labelled, when "
       "the store has no validation accuracy)")
_CELL = ("data draw (data set spec, data_seed; without data_seed a data set is one draw), its "
         "(data set, shape) cells nested and averaged within it, networks nested in the cells")
_DRAW = ("data draw (data set spec, data_seed): the draw of the training subset and "
         "validation split, seeds nested; without data_seed a data set is one draw")

DECLARATIONS: tuple[ClaimDeclaration, ...] = (
    # ------------------------------------------------------------------ Gai & Zhang 2021
    ClaimDeclaration(
        "lss_residual_vs_plain", "gai-zhang",
        "Residual networks move data along straighter tracks than plain ones (lower line-shape "
        "score)",
        "mean over matched settings of mean LSS(plain) − mean LSS(residual)", _CELL,
        "data set × width × depth × training setting", 0.0, +1, 0.05, "gai-zhang", "claim", MIN_UNITS,
        "cluster_t"),
    ClaimDeclaration(
        "ots_residual_vs_plain", "gai-zhang",
        "Residual networks are closer to the optimal transport map than plain ones (higher OT "
        "score)",
        "mean over matched settings of mean OTS(residual) − mean OTS(plain)", _CELL,
        "data set × width × depth × training setting", 0.0, +1, 0.05, "gai-zhang", "claim", MIN_UNITS,
        "cluster_t"),
    ClaimDeclaration(
        "lss_weight_decay", "gai-zhang",
        "Weight decay pulls residual networks' tracks toward the geodesic (lower LSS)",
        "per cell Spearman ρ(γ, LSS) over residual networks (three or more weight decays γ), "
        "combined as the mean Fisher z over cells",
        "data draw, its (data set, shape) cells of residual networks nested",
        "data set × width × depth",
        0.0, -1, 0.1, "gai-zhang", "claim", MIN_UNITS, "cluster_z_t"),
    # ------------------------------------------------------------- Baptista et al. 2024
    ClaimDeclaration(
        "rho_negative", "baptista",
        "Most well-trained networks have a negative global Ricci coefficient",
        f"mean over cells of the share of well-trained networks with ρ < 0 ({_WT}); one row "
        "per (protocol, k) the study declared", _CELL, "data set × model × width × depth", 0.5,
        +1, 0.1, "baptista", "claim", MIN_UNITS, "cluster_share"),
    ClaimDeclaration(
        "rho_negative_vs_untrained", "baptista",
        "Negative coefficients come from training: more common in well-trained than in "
        "untrained networks of the same shapes",
        "mean over cells of (share ρ < 0 among well-trained − share ρ < 0 among untrained), "
        "both taken within the cell; one row per (protocol, k)", _CELL,
        "data set × model × width × depth, cells with both groups", 0.0, +1, 0.1, "baptista",
        "claim", MIN_UNITS, "cluster_t"),
    ClaimDeclaration(
        "rho_vs_accuracy", "baptista",
        "The more negative the coefficient, the higher the accuracy (within a data set and "
        "shape)",
        f"Pearson r(ρ, test accuracy) over well-trained networks within each cell ({_WT}), "
        "combined by a random-effects meta-analysis of Fisher z; the between-cell association "
        "is reported apart and never judged; one row per (protocol, k)",
        "data draw: its cells' within-cell z averaged (weights n − 3) within it, then meta-analysed "
        "over draws; networks are the observations of a cell's r",
        "data set × model × width × depth, cells with ≥ 4 networks", 0.0, -1, 0.1, "baptista",
        "claim", MIN_UNITS, "meta_fisher_z"),
    ClaimDeclaration(
        "rho_pooled", "baptista",
        "The pooled Ricci coefficient of well-trained networks is negative (the authors' "
        "estimate)",
        "R's pooled coefficient (one Pearson r of η_l and Ric_l over the (layer, network) pairs "
        "of one cell's well-trained networks, as the authors' script does per file; well-"
        f"trained > {WELL_TRAINED:g}, their rule), combined as the mean Fisher z over cells; "
        "protocol baptista, at each of the authors' ks (30, 120, 300) the study declared",
        "data draw, its (data set, shape) cells nested, (layer, network) pairs nested in them",
        "data set × model × width × depth", 0.0, -1, 0.1, "baptista", "claim",
        MIN_UNITS, "cluster_z_t"),
    ClaimDeclaration(
        "rho_pooled_vs_untrained", "baptista",
        "Training makes the pooled coefficient more negative than in untrained networks of the "
        "same shapes",
        "mean over cells of z(pooled, well-trained) − z(pooled, untrained), both within the "
        "cell; back-transformed with tanh", "data draw, (data set, shape) cells nested",
        "data set × model × width × depth, cells with both groups", 0.0, -1, 0.1, "baptista",
        "claim", MIN_UNITS, "cluster_z_t"),
    # ------------------------------------------------------------------ Dong et al. 2017
    ClaimDeclaration(
        "diffeomorphism_smooth", "dong",
        "Residual layers preserve orientation more often than plain layers with smooth or leaky "
        "activations (a manipulation check, not a test of the paper: a plain layer σ(Wx + b) "
        "with σ' > 0 has det J = det W · Π σ', whose sign is the sign of det W, and a residual "
        "step I + hJ with small h preserves orientation by construction, so this cannot fail)",
        "mean over matched settings of share(det J > 0, residual) − share(det J > 0, plain), "
        "settings whose activation is not ReLU", _CELL,
        "data set × width × depth × activation", 0.0, +1, 0.05, "checks", "check", MIN_UNITS,
        "cluster_t"),
    ClaimDeclaration(
        "diffeomorphism", "dong",
        "Residual layers preserve orientation more often than plain ReLU layers (a sanity "
        "check: a plain ReLU layer's Jacobian is singular whenever a unit is off, and a "
        "residual step is I + hJ with small h, so this cannot fail)",
        "mean over matched settings of share(det J > 0, residual) − share(det J > 0, plain), "
        "ReLU settings", _CELL, "data set × width × depth", 0.0, +1, 0.05, "checks", "check",
        MIN_UNITS, "cluster_t"),
    # ---------------------------------------------------------------- Karkar et al. 2020
    ClaimDeclaration(
        "penalty_low_data", "karkar",
        "The transport penalty improves test accuracy when data are scarce",
        f"test accuracy, transport penalty − plain, paired by seed within each draw, at {LOW_DATA}",
        _DRAW, "task (data set spec, model) × train fraction", 0.0, +1, 0.01, "karkar", "claim",
        MIN_UNITS, "cluster_t"),
    ClaimDeclaration(
        "penalty_smallest_fraction", "karkar",
        "The transport penalty improves test accuracy at the smallest declared fraction of the "
        "data",
        f"test accuracy, transport penalty − plain, paired by seed within each draw, at "
        f"{100 * SMALLEST_FRACTION:g} % of the data (when it is low data)",
        _DRAW, "task (data set spec, model)", 0.0, +1, 0.01, "karkar", "claim", MIN_UNITS,
        "cluster_t"),
    ClaimDeclaration(
        "penalty_most_low_data", "karkar",
        "The penalty helps most in low-data regimes",
        "per draw: the mean gain (penalty − plain) at the low-data fractions − the gain with the "
        "full data", _DRAW, "task (data set spec, model)", 0.0, +1, 0.01, "karkar", "claim",
        MIN_UNITS, "cluster_t"),
    ClaimDeclaration(
        "penalty_vs_weight_decay", "karkar",
        "The transport penalty beats weight decay when data are scarce",
        f"test accuracy, transport penalty − weight decay, paired by seed within each draw, at "
        f"{LOW_DATA}", _DRAW, "task (data set spec, model) × train fraction", 0.0, +1, 0.01,
        "karkar", "claim", MIN_UNITS, "cluster_t"),
    ClaimDeclaration(
        "penalty_kinetic_energy", "karkar",
        "Training with the transport penalty lowers the networks' kinetic energy (a "
        "manipulation check: the penalty minimises it)",
        "mean log10(kinetic energy, penalty / plain), paired by seed within each draw, every "
        "fraction", _DRAW, "task (data set spec, model) × train fraction", 0.0, -1, 0.05,
        "checks", "check", MIN_UNITS, "cluster_t"),
    # ----------------------------------------------------------------------- transformers
    ClaimDeclaration(
        "token_lss_trained", "hosseini-fedorenko",
        "Training straightens token trajectories: trained transformers' token tracks have a "
        "lower line-shape score than untrained ones'",
        "mean LSS of token tracks, trained − untrained, within each shape (Welch), averaged "
        "over shapes", "network (trained and untrained networks are independent)",
        "data set × width × depth", 0.0, -1, 0.05, "hosseini-fedorenko", "claim", 6,
        "welch_strata"),
    ClaimDeclaration(
        "token_rho_trained", "baptista",
        "Training makes a transformer's token flow Ricci-flow-like: a lower global Ricci "
        "coefficient than untrained transformers",
        "mean ρ of token graphs, trained − untrained, within each shape (Welch), averaged over "
        "shapes; one row per (protocol, k) the study declared",
        "network (trained and untrained networks are independent)", "data set × width × depth",
        0.0, -1, 0.1, "baptista", "claim", 6, "welch_strata"),
    ClaimDeclaration(
        "token_geodesic_trained", "gai-zhang",
        "Trained transformers move the token distribution closer to a W2 geodesic than "
        "untrained ones (lower geodesic ratio)",
        "mean W2 geodesic ratio of token clouds, trained − untrained, within each shape (Welch), "
        "averaged over shapes", "network (trained and untrained networks are independent)",
        "data set × width × depth", 0.0, -1, 0.05, "gai-zhang", "claim", 6, "welch_strata"),
)


def declaration(key: str) -> ClaimDeclaration:
    """The declaration of claim ``key`` (:class:`ConfigError` for an unknown key)."""
    for d in DECLARATIONS:
        if d.key == key:
            return d
    raise ConfigError(f"claim {key!r}: expected one of {[d.key for d in DECLARATIONS]}")
