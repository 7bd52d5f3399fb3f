"""The results store: Parquet files under ``OUT/store/``, written atomically, read deduplicated.

Layout (the one a user opens)::

    OUT/store/runs.parquet                                  one row per network (compacted view)
    OUT/store/layers.parquet                                the long per-layer table (compacted)
    OUT/store/coefficients.parquet                          one row per network, protocol and k
    OUT/store/parts/runs-<task>-<attempt>.parquet           one file per finished task attempt:
    OUT/store/parts/layers-<task>-<attempt>.parquet         the source of truth the views are
    OUT/store/parts/coefficients-<task>-<attempt>.parquet   built from

``pandas.read_parquet("OUT/store/runs.parquet")`` and DuckDB's
``select * from 'OUT/store/runs.parquet'`` read one row per run. While a task runs it holds a lock
file in ``OUT/store/.locks/`` (hidden); a finished sweep removes the free ones, so nothing but the
three tables and the parts stays behind.

Guarantees:

* Every file is written to a temporary name in its own folder (``.tmp-…``, which matches neither
  ``*.parquet`` nor pyarrow's dataset discovery, both of which skip dot-files), flushed, fsynced
  and moved into place with ``os.replace``. A reader never sees a half-written file, whatever
  moment a ``kill -9`` strikes.
* A task attempt commits by its ``runs-`` part. Its ``layers-`` and ``coefficients-`` parts are
  written first; their rows are only ever read for attempts whose runs part exists, so an attempt
  killed between the files leaves nothing a reader counts.
* Part names carry a random attempt id, so two runners never write the same file.
* :meth:`ResultStore.runs` reads every part and keeps one row per ``run_id``: a finished attempt
  (status ``ok`` or ``diverged``) beats a ``failed`` one whatever their order, and among equals the
  latest wins. :meth:`ResultStore.layers` and :meth:`ResultStore.coefficients` keep the rows of
  the winning attempts.
* :meth:`ResultStore.compact` writes that deduplicated view to ``runs.parquet``,
  ``layers.parquet`` and ``coefficients.parquet`` (under a store-wide lock, atomically). The runner compacts while it runs and
  when it ends; the compacted view holds every run finished before the last compaction.
* A task lock (``fcntl.flock``) is taken on a file that is checked, once locked, to still be the
  one at its path; :meth:`ResultStore.remove_free_locks` unlinks a lock file only while holding
  it, so removing locks never lets two runners hold one task.
* Parts written before the coefficients had their own table (each (protocol, k) coefficient a
  runs column ``ricci_rho[_<protocol>]_k<k>``, per-layer metrics ``eta_<protocol>``, …) are read
  through :mod:`layerflow.sweep._legacy`: the same values, as rows of the long tables.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerflow._atomic import atomic_path
from layerflow._atomic import atomic_write_bytes as atomic_write_bytes

FINISHED = ("ok", "diverged")  # statuses that count as a result (never re-run)
RUN_META = ("attempt", "task_id", "finished_at")
LAYER_COLUMNS = ("run_id", "layer", "layer_name", "metric", "k", "protocol", "value")
COEFFICIENT_COLUMNS = ("run_id", "protocol", "k", "rho", "first_pair", "reason")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding only numbers/None become float (parts disagree on null columns)."""
    for col in df.columns:
        if df[col].dtype == object:
            vals = df[col].dropna()
            if len(vals) and all(
                isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
                for v in vals
            ):
                df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


class ResultStore:
    """Read and write the Parquet results of a sweep under ``OUT/store/``.

    ``ResultStore(out).runs()`` is one row per network (config fields, status, error, train/test
    accuracy, every scalar metric, the primary Ricci coefficient); ``.layers()`` the long table
    ``run_id, layer, layer_name, metric, k, protocol, value``; ``.coefficients()`` the long table
    ``run_id, protocol, k, rho, first_pair, reason`` (every Ricci coefficient of every measured
    network, one row per protocol and k; ``reason`` is ``""`` when ρ is defined).
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.root = self.out / "store"
        self.parts = self.root / "parts"
        self.locks = self.root / ".locks"
        self.runs_file = self.root / "runs.parquet"
        self.layers_file = self.root / "layers.parquet"
        self.coefficients_file = self.root / "coefficients.parquet"

    # ------------------------------------------------------------------ writing
    def write_task(
        self,
        task_id: str,
        rows: Sequence[dict[str, Any]],
        layers: Sequence[dict[str, Any]] = (),
        coefficients: Sequence[dict[str, Any]] = (),
    ) -> str:
        """Commit one task attempt: its layer and coefficient rows, then its run rows (the
        commit). Returns the attempt id."""
        if not rows:
            raise ValueError(f"task {task_id}: no rows to write; a task attempt needs >= 1 run")
        attempt = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        finished = time.time()
        self.parts.mkdir(parents=True, exist_ok=True)
        if layers:
            ldf = pd.DataFrame(list(layers))
            ldf["attempt"] = attempt
            _write_parquet(ldf, self.parts / f"layers-{task_id}-{attempt}.parquet")
        if coefficients:
            cdf = pd.DataFrame(list(coefficients), columns=list(COEFFICIENT_COLUMNS))
            cdf["attempt"] = attempt
            _write_parquet(cdf, self.parts / f"coefficients-{task_id}-{attempt}.parquet")
        rdf = pd.DataFrame(list(rows))
        rdf["attempt"] = attempt
        rdf["task_id"] = task_id
        rdf["finished_at"] = finished
        _write_parquet(rdf, self.parts / f"runs-{task_id}-{attempt}.parquet")
        return attempt

    @contextlib.contextmanager
    def lock(self, task_id: str) -> Iterator[None]:
        """Hold the task's lock (``fcntl.flock``; released by the OS if the process dies)."""
        self.locks.mkdir(parents=True, exist_ok=True)
        path = self.locks / f"{task_id}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # still the file at the path? (remove_free_locks may have unlinked it)
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    break
            except FileNotFoundError:
                pass
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def remove_free_locks(self) -> int:
        """Unlink every task lock file no runner holds (each while holding it); returns how many.

        Called when a sweep ends, so a finished store holds no lock files.
        """
        if not self.locks.is_dir():
            return 0
        removed = 0
        for path in self.locks.glob("*.lock"):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        with contextlib.suppress(OSError):
            self.locks.rmdir()  # only when empty
        return removed

    # ------------------------------------------------------------------ reading
    def _part_files(self, kind: str, task_id: str | None = None) -> list[Path]:
        if not self.parts.is_dir():
            return []
        pattern = f"{kind}-{task_id}-*.parquet" if task_id else f"{kind}-*.parquet"
        return sorted(p for p in self.parts.glob(pattern) if not p.name.startswith("."))

    @staticmethod
    def _read(files: Sequence[Path]) -> pd.DataFrame:
        import pyarrow.parquet as pq

        frames = [pq.read_table(f).to_pandas() for f in files]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame()
        return _tidy(pd.concat(frames, ignore_index=True, sort=False))

    @staticmethod
    def _dedup(df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        rank = df["status"].isin(FINISHED).astype(int)
        order = (
            df.assign(_rank=rank)
            .sort_values(["_rank", "finished_at", "attempt"], kind="mergesort")
            .drop_duplicates("run_id", keep="last")
            .drop(columns="_rank")
        )
        return order.sort_values("run_id", kind="mergesort").reset_index(drop=True)

    def all_attempts(self) -> pd.DataFrame:
        """Every committed attempt row (not deduplicated), for audits."""
        return self._read_runs()[0]

    def _read_runs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every committed attempt row, and the coefficient rows of parts written with one runs
        column per (protocol, k) (those columns moved out, :mod:`layerflow.sweep._legacy`)."""
        import pyarrow.parquet as pq

        from layerflow.sweep._legacy import split_wide_runs

        frames, legacy = [], []
        for f in self._part_files("runs"):
            df = pq.read_table(f).to_pandas()
            if not len(df):
                continue
            df, coef = split_wide_runs(df)
            frames.append(df)
            if len(coef):
                legacy.append(coef)
        runs = _tidy(pd.concat(frames, ignore_index=True, sort=False)) if frames else \
            pd.DataFrame()
        coefs = pd.concat(legacy, ignore_index=True) if legacy else pd.DataFrame()
        return runs, coefs

    def runs(self) -> pd.DataFrame:
        """One row per ``run_id`` (the winning attempt), sorted by ``run_id``; the Ricci
        coefficient at other protocols and ks is in :meth:`coefficients`."""
        return self._dedup(self.all_attempts())

    def _committed(self, kind: str) -> list[Path]:
        """The ``kind`` parts of committed attempts (those whose runs part exists)."""
        committed = {p.name[len("runs-"):] for p in self._part_files("runs")}
        return [p for p in self._part_files(kind) if p.name[len(kind) + 1:] in committed]

    def layers(self, runs: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-layer rows of the winning attempts: ``run_id, layer, layer_name, metric, k,
        protocol, value`` (``protocol``: the Ricci protocol of a Ricci metric, else ``""``)."""
        runs = self.runs() if runs is None else runs
        df = self._read(self._committed("layers"))
        if df.empty or runs.empty:
            return pd.DataFrame(columns=list(LAYER_COLUMNS))
        keep = runs[["run_id", "attempt"]]
        out = df.merge(keep, on=["run_id", "attempt"], how="inner").drop(columns="attempt")
        from layerflow.sweep._legacy import split_layer_metrics

        out = split_layer_metrics(out, runs)
        out = out[list(LAYER_COLUMNS) + [c for c in out.columns if c not in LAYER_COLUMNS]]
        return out.sort_values(["run_id", "metric", "protocol", "k", "layer"],
                               kind="mergesort").reset_index(drop=True)

    def coefficients(self, runs: pd.DataFrame | None = None,
                     layers: pd.DataFrame | None = None) -> pd.DataFrame:
        """Every Ricci coefficient of the winning attempts: ``run_id, protocol, k, rho,
        first_pair, reason``, sorted by run, protocol and k. ``runs`` and ``layers`` (this
        store's, when given) save reading them again."""
        if runs is None:
            runs, legacy = self._read_runs()
            runs = self._dedup(runs)
        else:
            legacy = self._read_runs()[1] if self._has_legacy_runs() else pd.DataFrame()
        frames = [self._read(self._committed("coefficients"))]
        if len(legacy):
            from layerflow.sweep._legacy import legacy_reasons

            lay = self.layers(runs) if layers is None else layers
            frames.append(legacy_reasons(legacy, lay))
        frames = [f for f in frames if len(f)]
        if not frames or runs.empty:
            return pd.DataFrame(columns=list(COEFFICIENT_COLUMNS))
        df = pd.concat(frames, ignore_index=True, sort=False)
        out = df.merge(runs[["run_id", "attempt"]], on=["run_id", "attempt"], how="inner")
        out = out[list(COEFFICIENT_COLUMNS)].astype({"k": "int64", "rho": "float64",
                                                     "first_pair": "int64"})
        return out.sort_values(["run_id", "protocol", "k"], kind="mergesort").reset_index(
            drop=True)

    def _has_legacy_runs(self) -> bool:
        """Whether some runs part holds one column per (protocol, k) (read its schema only)."""
        import pyarrow.parquet as pq

        from layerflow.sweep._legacy import is_wide_column

        return any(any(is_wide_column(c) for c in pq.read_schema(f).names)
                   for f in self._part_files("runs"))

    def done_ids(self) -> set[str]:
        """Run ids with a finished result (``ok`` or ``diverged``)."""
        return self._finished(self._part_files("runs"))

    def task_done_ids(self, task_id: str) -> set[str]:
        """Finished run ids among the parts of one task (cheap: reads only that task's files)."""
        return self._finished(self._part_files("runs", task_id))

    def _finished(self, files: Sequence[Path]) -> set[str]:
        import pyarrow.parquet as pq

        done: set[str] = set()
        for f in files:
            t = pq.read_table(f, columns=["run_id", "status"]).to_pydict()
            done.update(r for r, s in zip(t["run_id"], t["status"], strict=True) if s in FINISHED)
        return done

    # ------------------------------------------------------------------ compaction
    def compact(self) -> tuple[int, int]:
        """Write the deduplicated view for plain Parquet/DuckDB readers (``runs.parquet``,
        ``layers.parquet``, ``coefficients.parquet``). Returns (runs, layers).

        Serialised by a store-wide lock, so the last compaction always holds every part that the
        earlier ones held. Part files are kept (they are the source of truth).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".compact.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            runs = self.runs()
            if runs.empty:
                return 0, 0
            layers = self.layers(runs)
            coefficients = self.coefficients(runs, layers)
            _write_parquet(runs, self.runs_file)
            _write_parquet(layers, self.layers_file)
            _write_parquet(coefficients, self.coefficients_file)
            for old in ("runs", "layers"):  # the layout before 0.2 kept them one folder down
                with contextlib.suppress(OSError):
                    (self.root / old / f"{old}.parquet").unlink()
                    (self.root / old).rmdir()
            return len(runs), len(layers)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def trajectories(self) -> Path:
        return self.out / "trajectories"


def read_coefficients(out: str | os.PathLike[str]) -> pd.DataFrame:
    """The coefficients table of the results folder ``out`` (:meth:`ResultStore.coefficients`):
    ``run_id, protocol, k, rho, first_pair, reason``, one row per measured network, protocol and
    k."""
    return ResultStore(out).coefficients()
