"""What the papers report, printed beside our numbers for orientation only: their
networks and data differ from ours (e.g. CIFAR-100 ResNets against small offline tasks), so these
ranges are never used to decide a verdict."""

from __future__ import annotations

#: Gai & Zhang 2021, CIFAR-100, over weight decays γ ∈ {0, 5e-4, 1e-3, 5e-3, 1e-2}:
#: (low, high) of each metric for ResNets and plain networks
GAI_ZHANG_CIFAR100: dict[str, dict[str, tuple[float, float]]] = {
    "residual": {"lss_mean": (1.28, 1.82), "ots": (0.86, 1.00)},
    "plain": {"lss_mean": (3.5, 4.6), "ots": (0.0, 0.22)},
}
