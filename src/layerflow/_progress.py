"""Progress of long library calls (``capture`` over many batches, ``train`` over many steps).

Shown on standard error when it is a terminal, or when asked (``progress=True``); never when
asked not to (``progress=False``). Off by default in pipes, logs and tests. Nothing else is
printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def wants_progress(progress: bool | None) -> bool:
    """``progress`` itself when given, else whether standard error is a terminal."""
    if progress is not None:
        if not isinstance(progress, bool):
            from layerflow._errors import ConfigError

            raise ConfigError(f"progress={progress!r}: expected True, False or None")
        return progress
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _nothing(n: int = 1) -> None:
    """Progress not shown."""


def count_columns(rate: bool = False) -> tuple[Any, ...]:
    """The rich columns of a bar that counts units: description, bar, done/total, elapsed and
    remaining time; with ``rate``, also the task's ``rate`` field (before the elapsed time) and an
    "ETA" label (before the remaining time)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with_rate = (TextColumn("{task.fields[rate]}"),) if rate else ()
    eta = (TextColumn("ETA"),) if rate else ()
    return (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            *with_rate, TimeElapsedColumn(), *eta, TimeRemainingColumn())


@contextmanager
def progress_bar(description: str, total: int | None,
                 progress: bool | None) -> Iterator[Callable[[int], None]]:
    """A function ``advance(n)`` that moves a bar of ``total`` units (None: unknown) by n."""
    if not wants_progress(progress):
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(*count_columns(), console=console, transient=console.is_terminal) as bar:
        tid = bar.add_task(description, total=total)
        def advance(n: int = 1) -> None:
            bar.advance(tid, n)

        yield advance
