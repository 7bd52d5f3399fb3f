"""How a run ran: threads, device and library versions, recorded with every result.

Floating-point results depend on more than the seed: the number of threads (a reduction split
over 2 threads adds in another order than over 1), the device and the library versions. Every
training result (``TrainResult.environment``), every captured trajectory (its metadata) and every
row of a results store carries :func:`environment`, so two numbers can be told apart.

Bit-reproducible runs: the same seed, device, versions and thread count, with deterministic
kernels. :func:`reproducible` sets the last two for a block::

    with lf.reproducible(threads=1):
        result = lf.train(model, ds, lf.TrainConfig(seed=0))
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

_DISTRIBUTIONS = ("torch", "numpy", "scipy", "transformers")


def environment(device: Any = None) -> dict[str, str | int | bool]:
    """``{"threads", "device", "deterministic", "python", "layerflow", "torch", "numpy",
    "scipy"[, "transformers"]}``: torch's intra-op thread count now, the device (``device``, or
    where ``device="auto"`` would run: ``"cuda"`` when available, else ``"cpu"``), whether torch's deterministic algorithms are on, and the versions (a library
    that is not installed is left out)."""
    import torch

    from layerflow._version import __version__

    env: dict[str, str | int | bool] = {
        "threads": int(torch.get_num_threads()),
        "device": str(device) if device is not None else (
            "cuda" if torch.cuda.is_available() else "cpu"),
        "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
        "python": platform.python_version(),
        "layerflow": __version__,
    }
    for dist in _DISTRIBUTIONS:
        try:
            env[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return env


@contextmanager
def reproducible(threads: int = 1) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads and torch's deterministic algorithms
    (``torch.use_deterministic_algorithms(True)``), restoring both afterwards. With the same
    seed, device and library versions, a run inside gives the same bits every time."""
    import torch

    from layerflow._errors import ConfigError

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads={threads!r}: expected an int >= 1")
    before = torch.get_num_threads()
    was = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(was)
