"""The results store: Parquet files under ``OUT/store/``, written atomically, read deduplicated.

Layout (the one a user opens)::

    OUT/store/runs.parquet                            one row per network (compacted view)
    OUT/store/layers.parquet                          the long per-layer table (compacted view)
    OUT/store/parts/runs-<task>-<attempt>.parquet     one file per finished task attempt: the
    OUT/store/parts/layers-<task>-<attempt>.parquet   source of truth the views are built from

``pandas.read_parquet("OUT/store/runs.parquet")`` and DuckDB's
``select * from 'OUT/store/runs.parquet'`` read one row per run. While a task runs it holds a lock
file in ``OUT/store/.locks/`` (hidden); a finished sweep removes the free ones, so nothing but the
two tables and the parts stays behind.

Guarantees:

* Every file is written to a temporary name in its own folder (``.tmp-…``, which matches neither
  ``*.parquet`` nor pyarrow's dataset discovery, both of which skip dot-files), flushed, fsynced
  and moved into place with ``os.replace``. A reader never sees a half-written file, whatever
  moment a ``kill -9`` strikes.
* A task attempt commits by its ``runs-`` part. Its ``layers-`` part is written first; layer rows
  are only ever read for attempts whose runs part exists, so an attempt killed between the two
  files leaves nothing a reader counts.
* Part names carry a random attempt id, so two runners never write the same file.
* :meth:`ResultStore.runs` reads every part and keeps one row per ``run_id``: a finished attempt
  (status ``ok`` or ``diverged``) beats a ``failed`` one whatever their order, and among equals the
  latest wins. :meth:`ResultStore.layers` keeps the layer rows of the winning attempts.
* :meth:`ResultStore.compact` writes that deduplicated view to ``runs.parquet`` and
  ``layers.parquet`` (under a store-wide lock, atomically). The runner compacts while it runs and
  when it ends; the compacted view holds every run finished before the last compaction.
* A task lock (``fcntl.flock``) is taken on a file that is checked, once locked, to still be the
  one at its path; :meth:`ResultStore.remove_free_locks` unlinks a lock file only while holding
  it, so removing locks never lets two runners hold one task.
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

from layerflow._atomic import atomic_path, atomic_write_bytes

__all__ = ["FINISHED", "ResultStore", "atomic_write_bytes", "atomic_write_text"]

FINISHED = ("ok", "diverged")  # statuses that count as a result (never re-run)
RUN_META = ("attempt", "task_id", "finished_at")


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
    accuracy, every scalar metric); ``.layers()`` the long table ``run_id, layer, layer_name,
    metric, k, value``.
    """

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(out)
        self.root = self.out / "store"
        self.parts = self.root / "parts"
        self.locks = self.root / ".locks"
        self.runs_file = self.root / "runs.parquet"
        self.layers_file = self.root / "layers.parquet"

    # ------------------------------------------------------------------ writing
    def write_task(
        self,
        task_id: str,
        rows: Sequence[dict[str, Any]],
        layers: Sequence[dict[str, Any]] = (),
    ) -> str:
        """Commit one task attempt: its layer rows, then its run rows. Returns the attempt id."""
        if not rows:
            raise ValueError(f"task {task_id}: no rows to write; a task attempt needs >= 1 run")
        attempt = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        finished = time.time()
        self.parts.mkdir(parents=True, exist_ok=True)
        if layers:
            ldf = pd.DataFrame(list(layers))
            ldf["attempt"] = attempt
            _write_parquet(ldf, self.parts / f"layers-{task_id}-{attempt}.parquet")
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
        return self._read(self._part_files("runs"))

    def runs(self) -> pd.DataFrame:
        """One row per ``run_id`` (the winning attempt), sorted by ``run_id``."""
        return self._dedup(self.all_attempts())

    def layers(self, runs: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per-layer rows of the winning attempts: ``run_id, layer, layer_name, metric, k, value``."""
        runs = self.runs() if runs is None else runs
        committed = {p.name[len("runs-"):] for p in self._part_files("runs")}
        files = [p for p in self._part_files("layers") if p.name[len("layers-"):] in committed]
        df = self._read(files)
        if df.empty or runs.empty:
            return pd.DataFrame(columns=["run_id", "layer", "layer_name", "metric", "k", "value"])
        keep = runs[["run_id", "attempt"]]
        out = df.merge(keep, on=["run_id", "attempt"], how="inner").drop(columns="attempt")
        return out.sort_values(["run_id", "metric", "k", "layer"], kind="mergesort").reset_index(
            drop=True
        )

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
        """Write the deduplicated view for plain Parquet/DuckDB readers. Returns (runs, layers).

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
            _write_parquet(runs, self.runs_file)
            _write_parquet(layers, self.layers_file)
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
