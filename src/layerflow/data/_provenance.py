"""Which data a study ran on: the papers' own data sets or substitutes, and why.

A sweep config's dataset entry may name a substitute for a data set that has to be fetched::

    - {name: "mnist:7,1", substitute: {name: "mnist5k:7,1", test_fraction: 0.5}}

:func:`resolve_entry` picks the entry itself when its files are in the cache (verified) or when
the caller fetches them (``fetch=True``), and otherwise the substitute, recording what it stands
for under ``stands_for``. :func:`data_source` labels any dataset entry ``"authors"`` (one of the
papers' data sets — MNIST, Fashion-MNIST, CIFAR-10/100 — from its official files) or
``"substitute"``, with a note saying what the data is and why it stands in; the sweep writes both
into every run's row (columns ``data_source`` and ``data_note``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from layerflow._errors import ConfigError

#: dataset-entry keys that say where the data comes from (never passed to a loader)
SOURCE_KEYS = ("substitute", "stands_for")


def remote_of(entry: Mapping[str, Any]) -> str | None:
    """The fetched set (``"mnist"``, …) a dataset entry reads, ``None`` when it needs no fetch
    (a generated or bundled set, or IDX files in a folder, ``"mnist:7,1@DIR"``)."""
    from layerflow.data._registry import check_dataset

    reg, arg = check_dataset(str(entry["name"]))
    if reg.remote is None or (arg is not None and "@" in arg):
        return None
    return reg.remote


def _cached(entry: Mapping[str, Any]) -> tuple[bool, str]:
    from layerflow.data._remote import cache_status, data_home

    remote = remote_of(entry)
    if remote is None:
        return True, ""
    status = cache_status(remote, root=entry.get("root"))
    bad = {f: s for f, s in status.items() if s != "verified"}
    if not bad:
        return True, ""
    folder = data_home(entry.get("root")) / remote
    return False, (f"{', '.join(f'{f} {s}' for f, s in bad.items())} in {str(folder)!r}")


def fetch_entries(entries: Iterable[Mapping[str, Any]], progress: Any = None) -> list[str]:
    """Fetch (and verify) the files of every entry that names a fetched set — the entry itself,
    or the data set a ``substitute`` stands in for. Returns the sets fetched; raises
    :class:`~layerflow._errors.DataError` as :func:`~layerflow.data._remote.fetch` does."""
    from layerflow.data._remote import fetch

    done: list[str] = []
    for e in entries:
        primary = {k: v for k, v in e.items() if k not in SOURCE_KEYS}
        remote = remote_of(primary)
        if remote is None or e.get("download") is False:
            continue
        fetch(remote, root=primary.get("root"), mirror=primary.get("mirror"), progress=progress)
        done.append(remote)
    return done


def uncached_entries(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The entries that name a fetched set whose files are not all in the cache, verified
    (an entry with ``download: false`` is left to its loader, which then says what is missing)."""
    return [dict(e) for e in entries
            if e.get("download") is not False and not _cached(
                {k: v for k, v in e.items() if k not in SOURCE_KEYS})[0]]


def resolve_entry(entry: Mapping[str, Any], *, fetch: bool = False,
                  progress: Any = None) -> dict[str, Any]:
    """The dataset entry a study runs: ``entry`` without its ``substitute`` when its files are
    in the cache (after fetching them when ``fetch``), else the substitute with
    ``stands_for`` set to ``entry``'s name. An entry without a substitute is returned as is."""
    out = dict(entry)
    if "substitute" not in out:
        return out
    sub = out.pop("substitute")
    if not isinstance(sub, Mapping):
        raise ConfigError(f"substitute of {out.get('name')!r}: {sub!r}; expected a dataset entry")
    if fetch:
        fetch_entries([out], progress=progress)
    ok, _why = _cached(out)
    if ok:
        return out
    return {**dict(sub), "stands_for": str(out["name"])}


def data_source(entry: Mapping[str, Any]) -> dict[str, str]:
    """``{"data_source": "authors" | "substitute", "data_note": why}`` for a dataset entry (a
    run's ``dataset`` mapping, or ``{"name": NAME}``)."""
    from layerflow.data._registry import check_dataset

    name = str(entry.get("name", ""))
    try:
        reg, arg = check_dataset(name)
    except ConfigError:
        return {"data_source": "substitute", "data_note": f"{name}: not a registered data set"}
    if entry.get("stands_for"):
        return {"data_source": "substitute",
                "data_note": f"{reg.origin or reg.kind}, standing in for "
                             f"{entry['stands_for']}, whose official files were not in the data "
                             "cache (`layerflow run CONFIG --fetch-data` fetches them)"}
    if reg.paper_data:
        if arg is not None and "@" in arg:
            return {"data_source": "authors",
                    "data_note": "IDX files from the folder given, not checked against the "
                                 "published checksums"}
        return {"data_source": "authors",
                "data_note": "the official files, SHA-256 verified against the published values"}
    return {"data_source": "substitute",
            "data_note": f"not one of the papers' data sets: {reg.origin or reg.kind}"}


def data_sources_text(runs: Any) -> str:
    """The data sets of a runs table with their source, e.g. ``"mnist:7,1 (authors'),
    mnist5k:6,8 (substitute)"``; the bare names when the table has no ``data_source`` column."""
    names = list(dict.fromkeys(runs["dataset"].astype(str)))
    if "data_source" not in runs.columns:
        return ", ".join(names)
    src = runs.drop_duplicates("dataset").set_index("dataset")["data_source"].astype(str)
    label = {"authors": "authors'", "substitute": "substitute"}
    return ", ".join(f"{n} ({label.get(src.get(n, ''), src.get(n, '?'))})" for n in names)


def data_source_table(runs: Any) -> Any:
    """One row per data set of a runs table: ``data_source``, ``data_note``, the networks
    (trained / untrained) and the test points each network was analysed on. A store written
    without the ``data_source`` column gets it from the data set's name."""
    import pandas as pd

    if runs is None or len(runs) == 0 or "dataset" not in runs.columns:
        return pd.DataFrame()
    rows = []
    for name, g in runs.groupby(runs["dataset"].astype(str), sort=False):
        first = g.iloc[0]
        src = (str(first["data_source"]), str(first["data_note"])) \
            if "data_source" in g.columns and pd.notna(first.get("data_source")) \
            else tuple(data_source({"name": name}).values())
        trained = g["trained"].fillna(True).astype(bool) if "trained" in g.columns \
            else pd.Series(True, index=g.index)
        points = pd.to_numeric(g["n_points"], errors="coerce").dropna() \
            if "n_points" in g.columns else pd.Series(dtype=float)
        rows.append({"dataset": name, "data_source": src[0], "data_note": src[1],
                     "networks trained": int(trained.sum()),
                     "networks untrained": int((~trained).sum()),
                     "test points": (f"{int(points.min())}" if points.min() == points.max()
                                     else f"{int(points.min())}–{int(points.max())}")
                     if len(points) else ""})
    return pd.DataFrame(rows)
