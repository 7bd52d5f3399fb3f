"""Progress of long library calls (``capture`` over many batches, ``train`` over many steps).

Shown on standard error when it is a terminal, or when asked (``progress=True``); never when
asked not to (``progress=False``). Off by default in pipes, logs and tests. Nothing else is
printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar", "wants_progress"]


def wants_progress(progress: bool | None) -> bool:
    """``progress`` itself when given, else whether standard error is a terminal."""
    if progress is not None:
        if not isinstance(progress, bool):
            from layerflow.errors import LayerflowError

            raise LayerflowError(f"progress={progress!r}: expected True, False or None")
        return progress
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _nothing(n: int = 1) -> None:
    """Progress not shown."""


@contextmanager
def progress_bar(description: str, total: int | None,
                 progress: bool | None) -> Iterator[Callable[[int], None]]:
    """A function ``advance(n)`` that moves a bar of ``total`` units (None: unknown) by n."""
    if not wants_progress(progress):
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=console.is_terminal) as bar:
        tid = bar.add_task(description, total=total)
        def advance(n: int = 1) -> None:
            bar.advance(tid, n)

        yield advance
