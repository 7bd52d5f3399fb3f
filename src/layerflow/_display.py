"""Results that show themselves: a short ``repr``, a small HTML table for Jupyter, ``to_frame()``.

Every result class of layerflow opts in with one line, declaring which of its fields are the
headline numbers and which are per-sample / per-layer arrays::

    @dataclass(frozen=True)
    class LineShapeResult(ResultDisplay, headline=("mean", "median"), rows=("per_sample",),
                          index="sample"):
        ...

- ``repr(result)`` names the class and the headline values and gives each array only as its shape
  (``per_sample=<array (2000,)>``), so it stays a line or two whatever N is;
- ``result._repr_html_()`` is the same as a small table (Jupyter shows it), with the first rows of
  :meth:`~ResultDisplay.to_frame` beneath;
- ``result.to_frame()`` is a :class:`pandas.DataFrame` with one column per array named in
  ``rows`` (values equal to the field), or one row per element of ``records``, or — for a result
  with scalars only — one row of its headline values.

A class that defines its own ``__repr__`` keeps it; otherwise the one here replaces the repr that
``@dataclass`` would generate (a class that already defines ``__repr__`` is left alone by
``dataclass``, which is what makes the opt-in one line). pandas is imported on first use only.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

_MAX_TEXT = 80  # characters of a string value shown in a repr
_MAX_ITEMS = 6  # items of a tuple shown in a repr
_HTML_ROWS = 10  # rows of the frame shown under the HTML table

RowSpec = str | tuple[str, int]


def format_value(value: Any) -> str:
    """A short text for one value: 4 significant digits for floats, arrays as ``<array (shape)>``,
    strings and tuples cut to a bounded length (so a repr never grows with N)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        v = float(value)
        return repr(v) if (math.isnan(v) or math.isinf(v)) else f"{v:.4g}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, np.ndarray):
        return f"<array {tuple(value.shape)}>"
    if isinstance(value, str):
        text = value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 1] + "…"
        return repr(text)
    if isinstance(value, Mapping):
        return f"<{len(value)} entries>"
    if isinstance(value, tuple | list):
        items = [format_value(v) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"… ({len(value)} in all)")
        inner = ", ".join(items)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


class ResultDisplay:
    """Mixin: a short repr, ``_repr_html_`` and ``to_frame()`` from a declaration.

    Class keywords (all optional):

    headline
        Names of the fields or properties shown in the repr and the HTML table, in order. An
        empty string value is left out of the repr (e.g. a ``reason`` that is ``""``).
    rows
        Names of 1-D array fields that become the columns of :meth:`to_frame`; an entry
        ``(name, offset)`` places the array from row ``offset`` on. Arrays of different lengths
        are padded with NaN at the end (``RicciCoefficient.eta`` has L values, the curvature
        L+1); empty arrays are left out (a ``TrainResult`` without transport has no λ).
    index
        The name of the frame's index (``"sample"``, ``"layer"``, ``"step"``, ``"state"``).
    names
        A field of labels for the rows (e.g. ``"layer_names"``), added as a column ``name``
        when it has at least as many entries as the frame has rows.
    start
        A field holding a ``(start, stop)`` run; its start is added to the index, so the index
        is the state index in the trajectory.
    records
        A field holding a sequence (or mapping) of displayable results: :meth:`to_frame` then has
        one row per element with that element's headline values.
    """

    __slots__ = ()

    _headline: ClassVar[tuple[str, ...]] = ()
    _rows: ClassVar[tuple[RowSpec, ...]] = ()
    _index: ClassVar[str] = "row"
    _names: ClassVar[str | None] = None
    _start: ClassVar[str | None] = None
    _records: ClassVar[str | None] = None

    def __init_subclass__(
        cls,
        *,
        headline: Sequence[str] = (),
        rows: Sequence[RowSpec] = (),
        index: str = "row",
        names: str | None = None,
        start: str | None = None,
        records: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls._headline = tuple(headline)
        cls._rows = tuple(rows)
        cls._index = index
        cls._names = names
        cls._start = start
        cls._records = records
        if "__repr__" not in cls.__dict__:
            # set on the class itself, so that @dataclass (applied after) keeps it
            cls.__repr__ = ResultDisplay.__repr__  # type: ignore[method-assign]

    # --------------------------------------------------------------------------- values
    def headline(self) -> dict[str, Any]:
        """The headline values, by name (what the repr and the HTML table show)."""
        return {name: getattr(self, name) for name in self._headline}

    def _array_fields(self) -> dict[str, Any]:
        names = [r if isinstance(r, str) else r[0] for r in self._rows]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        parts = [f"{k}={format_value(v)}" for k, v in self.headline().items()
                 if not (isinstance(v, str) and v == "")]
        for name, value in self._array_fields().items():
            arr = np.asarray(value)
            parts.append(f"{name}=<array {tuple(arr.shape)}>")
        if self._records is not None:
            items = getattr(self, self._records)
            if isinstance(items, Mapping) and items:
                # {key: the first headline value of each element}, e.g. ρ per k of a sweep
                shown = [f"{k!r}: {format_value(next(iter(v.headline().values()), None))}"
                         for k, v in list(items.items())[:_MAX_ITEMS]]
                more = f", … ({len(items)} in all)" if len(items) > _MAX_ITEMS else ""
                parts.append(f"{self._records}={{{', '.join(shown)}{more}}}")
            else:
                parts.append(f"{self._records}=<{len(items)} results>")
        return f"{type(self).__name__}({', '.join(parts)})"

    # ---------------------------------------------------------------------------- frame
    def to_frame(self) -> Any:
        """The per-sample / per-layer values as a :class:`pandas.DataFrame`.

        Columns are the fields named in the class's ``rows`` (values equal to the field,
        NaN-padded to a common length), or one row per element of ``records`` with that
        element's headline values, or — for a result with scalars only — a single row of the
        headline values.
        """
        import pandas as pd

        if self._records is not None:
            items = getattr(self, self._records)
            elems = list(items.values()) if isinstance(items, Mapping) else list(items)
            return pd.DataFrame([e.headline() for e in elems])
        if not self._rows:
            return pd.DataFrame([self.headline()])
        cols: dict[str, np.ndarray] = {}
        offsets: dict[str, int] = {}
        for spec in self._rows:
            name, offset = (spec, 0) if isinstance(spec, str) else spec
            arr = np.asarray(getattr(self, name))
            if arr.ndim != 1:
                raise TypeError(f"{type(self).__name__}.{name} has shape {arr.shape}; rows "
                                "must be 1-D")
            if arr.size:
                cols[name] = arr
                offsets[name] = offset
        n = max((offsets[c] + cols[c].shape[0] for c in cols), default=0)
        data: dict[str, Any] = {}
        if self._names is not None:
            labels = tuple(getattr(self, self._names))
            if len(labels) >= n:
                data["name"] = list(labels[:n])
        for name, arr in cols.items():
            off = offsets[name]
            if off == 0 and arr.shape[0] == n:
                data[name] = arr
                continue
            dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
            padded = np.full(n, np.nan, dtype=dtype)
            padded[off:off + arr.shape[0]] = arr
            data[name] = padded
        first = int(getattr(self, self._start)[0]) if self._start is not None else 0
        index = pd.RangeIndex(first, first + n, name=self._index)
        return pd.DataFrame(data, index=index)

    # ----------------------------------------------------------------------------- html
    def _repr_html_(self) -> str:
        """A small table of the headline values, then the first rows of :meth:`to_frame`."""
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(format_value(v))}</td></tr>"
            for k, v in self.headline().items()
        )
        out = [f"<div><strong>{html.escape(type(self).__name__)}</strong>",
               f"<table>{rows}</table>"]
        if self._rows or self._records is not None:
            frame = self.to_frame()
            if len(frame):
                out.append(frame.to_html(max_rows=_HTML_ROWS, float_format=lambda v: f"{v:.4g}"))
        out.append("</div>")
        return "".join(out)
