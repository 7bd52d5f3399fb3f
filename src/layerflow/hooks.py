"""Forward hooks on named submodules: the one machinery behind capture, Jacobians and penalties.

:func:`layerflow.capture` (each layer's output), :func:`layerflow.maps.jacobian_diagnostics`
(each layer's input and output) and :class:`layerflow.TransportPenalty` (each block's input and
output, with their autograd graph) all read submodules through :class:`LayerHooks`:

    with LayerHooks(model, ["blocks.0", "blocks.1"], record, inputs=True,
                    needs="Jacobian diagnostics need", error=MapsError):
        model(x)        # record(name, input, output) is called once per layer call

:func:`record_layers` runs a model over a batched input with such hooks (eval mode, no
gradients) and returns each layer's concatenated input and/or output. Hooks are removed and every
module's train/eval flag restored even when the forward pass raises. :func:`model_input` turns
user inputs into what a model takes (token ids exactly, everything else in the model's dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from layerflow.errors import LayerflowError

__all__ = ["LayerHooks", "eval_mode", "model_input", "named_submodules", "record_layers",
           "takes_token_ids"]

Record = Callable[[str, "torch.Tensor | None", torch.Tensor], None]


def named_submodules(
    model: nn.Module, names: Sequence[str], error: type[LayerflowError], what: str = "layers"
) -> dict[str, nn.Module]:
    """``{name: submodule}`` for ``names`` (as in ``model.named_modules()``; the root ``""`` is not
    a layer). Repeated names raise ``error`` naming them (``what`` is how the message calls the
    names, e.g. ``"blocks"``); unknown names raise ``error`` listing the available ones."""
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise error(f"{what} must be distinct; repeated: {dup}")
    modules = dict(model.named_modules())
    modules.pop("", None)
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise error(
            f"unknown layers {unknown} in {type(model).__name__}; available: {list(modules)}"
        )
    return {n: modules[n] for n in names}


def takes_token_ids(model: nn.Module) -> bool:
    """Whether ``model`` holds an ``nn.Embedding`` / ``nn.EmbeddingBag`` (it takes token ids)."""
    return any(isinstance(m, nn.Embedding | nn.EmbeddingBag) for m in model.modules())


def model_input(model: nn.Module, x: Any, device: torch.device | str,
                dtype: torch.dtype) -> torch.Tensor:
    """``x`` (a NumPy array or tensor) as ``model`` takes it, on ``device``.

    For a model that takes token ids (:func:`takes_token_ids`), integer inputs become int64
    exactly, before any cast: a cast to a narrow model dtype would change them (bfloat16 holds
    the integers exactly only up to 256: 257 -> 256). So do floats that all hold whole numbers
    (a :class:`~layerflow.data.Dataset` stores ids as float32) when the model says it reads
    floats as ids (``model.float_token_ids``, layerflow's transformer): a model whose embedding
    is only, say, a position table and whose input is whole-valued pixels keeps float input.
    Every other input is cast to ``dtype`` as ``torch.as_tensor(x, dtype=dtype)``.
    """
    if takes_token_ids(model):
        t = torch.as_tensor(x)
        if not t.is_floating_point() and not t.is_complex():
            return t.to(device=device, dtype=torch.int64)
        if t.is_floating_point() and getattr(model, "float_token_ids", False):
            ids = t.long()
            if torch.equal(ids.to(t.dtype), t):  # whole and finite
                return ids.to(device)
    return torch.as_tensor(x, dtype=dtype, device=device)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` inside the block; every module's own flag restored afterwards (a frozen
    submodule kept in eval inside a training model stays in eval), also when the block raises."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _output_tensor(name: str, output: Any, who: str, needs: str,
                   error: type[LayerflowError]) -> torch.Tensor:
    """The output itself, or the first element of a tuple/list output, when it is a tensor."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list):
        if output and isinstance(output[0], torch.Tensor):
            return output[0]
        first = type(output[0]).__name__ if output else "nothing"
        raise error(
            f"layer {name!r} returned a {type(output).__name__} whose first element is {first}; "
            f"{who} takes the first element of a tuple output only when it is a tensor"
        )
    raise error(
        f"layer {name!r} returned {type(output).__name__}, not a tensor; {needs} "
        "tensor outputs (or tuples whose first element is a tensor)"
    )


class LayerHooks:
    """Forward hooks that hand each named submodule's (first) input and output to ``record``.

    Parameters
    ----------
    model
        Any ``nn.Module``.
    names
        Submodule names (as in ``model.named_modules()``); unknown ones raise ``error``.
    record
        Called as ``record(name, input, output)`` after every call of a named submodule:
        ``input`` is its first positional argument (``None`` unless ``inputs=True``), ``output``
        its output, or the first element of a tuple/list output. Tensors are passed as they are
        (with their autograd graph); detach them in ``record`` when that is what you want.
    inputs
        Whether the first positional input is wanted too (then it must be a tensor).
    who, needs
        How messages name the caller, e.g. ``"capture"`` and ``"capture needs"``.
    error
        The :class:`~layerflow.errors.LayerflowError` subclass raised for non-tensor inputs or
        outputs (from inside the forward pass) and unknown names.

    Use as a context manager, or call :meth:`remove`. ``calls[name]`` counts the calls since the
    hooks were attached or :meth:`reset_calls`. A deep copy of the model carries the hooks but
    they ignore its modules: the copy runs as a plain model.
    """

    def __init__(
        self,
        model: nn.Module,
        names: Sequence[str],
        record: Record,
        *,
        inputs: bool = False,
        who: str = "capture",
        needs: str = "capture needs",
        error: type[LayerflowError] = LayerflowError,
    ) -> None:
        self.names = [str(n) for n in names]
        self.modules = named_submodules(model, self.names, error)
        self.calls: dict[str, int] = dict.fromkeys(self.names, 0)
        self._record = record
        self._inputs = inputs
        self._who, self._needs, self._error = who, needs, error
        self._handles = [
            self.modules[n].register_forward_hook(self._make_hook(n, self.modules[n]))
            for n in self.names
        ]

    def _make_hook(self, name: str,
                   module: nn.Module) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        # a closure, not a bound method: ``copy.deepcopy(model)`` copies it as it is (functions
        # are atomic to deepcopy), so the copy's modules carry it too; it answers only the module
        # it was registered on, so a copy runs as a plain model and never touches these hooks
        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if mod is not module:
                return
            self.calls[name] += 1
            if self._inputs:
                inp = args[0] if args else None
                out = output[0] if isinstance(output, tuple | list) and output else output
                if not isinstance(inp, torch.Tensor) or not isinstance(out, torch.Tensor):
                    raise self._error(
                        f"layer {name!r} takes {type(inp).__name__} and returns "
                        f"{type(out).__name__}; {self._needs} a tensor -> tensor layer"
                    )
                self._record(name, inp, out)
            else:
                out = _output_tensor(name, output, self._who, self._needs, self._error)
                self._record(name, None, out)

        return hook

    def reset_calls(self) -> None:
        """Set every call count back to 0."""
        for n in self.names:
            self.calls[n] = 0

    def check_once(self) -> None:
        """Raise unless every layer ran exactly once since the last :meth:`reset_calls`."""
        for n in self.names:
            if self.calls[n] != 1:
                raise self._error(
                    f"layer {n!r} ran {self.calls[n]} times in one forward pass; "
                    f"{self._needs} each layer to run exactly once"
                )

    def remove(self) -> None:
        """Detach every hook (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> LayerHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def record_layers(
    model: nn.Module,
    names: Sequence[str],
    x: torch.Tensor,
    batch_size: int,
    *,
    inputs: bool = False,
    device: torch.device | str | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    who: str = "capture",
    needs: str = "capture needs",
    error: type[LayerflowError] = LayerflowError,
) -> dict[str, tuple[torch.Tensor | None, torch.Tensor]]:
    """Run ``model`` on the rows of ``x`` (``batch_size`` per pass) and record ``names``.

    The model runs in eval mode (:func:`eval_mode`) under ``torch.no_grad()``; each layer must run
    exactly once per pass and return a batch-first output (``(rows, …)``). Returns
    ``{name: (input or None, output)}``, each the concatenation over the batches of the detached
    tensors (each output passed through ``transform`` first, batch by batch, e.g. a pooling that
    keeps the batch dimension; then moved to ``device`` when given). Hooks and modes are restored
    even when a pass raises.
    """
    seen: dict[str, list[tuple[torch.Tensor | None, torch.Tensor]]] = {n: [] for n in names}

    def record(name: str, inp: torch.Tensor | None, out: torch.Tensor) -> None:
        a = None if inp is None else inp.detach()
        b = out.detach() if transform is None else transform(out.detach())
        if device is not None:
            a = None if a is None else a.to(device)
            b = b.to(device)
        seen[name].append((a, b))

    n = int(x.shape[0])
    with LayerHooks(model, names, record, inputs=inputs, who=who, needs=needs,
                    error=error) as hooks, eval_mode(model), torch.no_grad():
        for start in range(0, n, batch_size):
            batch = x[start : start + batch_size]
            model(batch)
            hooks.check_once()
            hooks.reset_calls()
            rows = int(batch.shape[0])
            for name in names:
                got = seen[name][-1][1]
                if got.ndim == 0 or got.shape[0] != rows:
                    raise error(
                        f"layer {name!r} returned shape {tuple(got.shape)} for a batch of "
                        f"{rows}; expected a batch-first output ({rows}, …)"
                    )

    out: dict[str, tuple[torch.Tensor | None, torch.Tensor]] = {}
    for name, parts in seen.items():
        ins = [a for a, _ in parts if a is not None]
        first = torch.cat(ins) if inputs else None
        out[name] = (first, torch.cat([b for _, b in parts]))
    return out
