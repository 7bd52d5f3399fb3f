"""The transport cost of any residual network, read from its own forward pass.

Karkar et al. 2020 ("A principle of least action for the training of neural networks") train a
residual network ``x_{k+1} = x_k + h·r_k(x_k)`` with the data loss plus ``λ·C``, the kinetic
energy of its blocks' velocities. :class:`TransportPenalty` reads each block's velocity
``r_k = (x_{k+1} − x_k)/h`` with forward hooks while the user's own forward pass runs; ``cost()``
then returns ``C`` of that pass as a differentiable tensor::

    pen = lf.TransportPenalty(model, blocks=["layer1.0", "layer1.1"], h=1.0)
    for x, y in loader:
        loss = F.cross_entropy(model(x), y) + lam * pen.cost()
        ...

The cost formula (``reduction="mean"``, the authors' cost, or ``"sum"``) is
:func:`layerflow.models.velocity_cost`, the one that ``ResidualMLP`` and ensembles use.

Residual blocks as torchvision writes them (``BasicBlock``, ``Bottleneck``: ``relu(x + F(x))``)
apply an activation after the add; by default such a block's velocity is read before that
activation, ``r = F(x)/h`` (:data:`layerflow._hooks.POST_ADD_RULES`), and a block that changes
shape (a stage's first block, with its downsample shortcut) is refused when the penalty is
built.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow._hooks import LayerHooks, eval_mode, named_submodules, shape_change
from layerflow.models import check_reduction, displacement_cost


def _steps(h: Any, blocks: list[str], model: nn.Module) -> dict[str, float]:
    if h is None:
        h = getattr(model, "h", 1.0) if hasattr(model, "residual_blocks") else 1.0
    values = list(h) if isinstance(h, Sequence) and not isinstance(h, str) else [h] * len(blocks)
    if len(values) != len(blocks):
        raise ConfigError(f"h has {len(values)} values for {len(blocks)} blocks; give one step "
                           "size, or one per block")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ConfigError(f"h={h!r}: expected a finite step size > 0 (or one per block)")
    return {b: float(v) for b, v in zip(blocks, values, strict=True)}


def _shape_message(name: str, kind: str, change: str) -> str:
    return (
        f"block {name!r} ({kind}) maps {change}; a residual block x -> x + h·r(x) keeps the shape "
        "of its input, so it has no velocity: leave it out of blocks (name the blocks of a stage "
        "after its first, e.g. 'layer2.1'), or follow the data across stages of different widths "
        "with layerflow.transport.stage_transport"
    )


def _dry_run(model: nn.Module, names: list[str], example: Any, post_add: str) -> None:
    """Run ``model`` once on ``example`` and refuse every block whose shape changes."""
    if not isinstance(example, torch.Tensor):
        raise ConfigError(f"example is a {type(example).__name__}; expected a tensor that "
                           f"{type(model).__name__} takes")
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def record(name: str, inp: torch.Tensor | None, out: torch.Tensor) -> None:
        assert inp is not None
        shapes[name] = (tuple(inp.shape), tuple(out.shape))

    with LayerHooks(model, names, record, inputs=True, who="TransportPenalty",
                    needs="TransportPenalty needs", error=ConfigError, post_add=post_add), \
            eval_mode(model), torch.no_grad():
        model(example)
    modules = dict(model.named_modules())
    for name in names:
        if name not in shapes:
            raise ConfigError(f"block {name!r} did not run on the example input; name blocks "
                               "that the model's forward pass calls")
        a, b = shapes[name]
        if a != b:
            raise ConfigError(_shape_message(name, type(modules[name]).__name__,
                                              f"shape {a} to {b} on the example input"))


class TransportPenalty:
    """``C`` of a residual model's last forward pass, from forward hooks on its blocks.

    For every named block (a submodule mapping ``x_k`` to ``x_{k+1}`` of the same shape, e.g. a
    ResNet basic block), the hook records the velocity ``r_k = (x_{k+1} − x_k)/h`` (its first
    positional input and its output, or the first element of a tuple output), with its autograd
    graph. After ``model(x)``, :meth:`cost` returns

    .. math::  C = \\sum_k \\operatorname{mean}_{i, j}\\, r_k(x_i)_j^2  \\quad (``"mean"``), \\qquad
               C = \\sum_k \\operatorname{mean}_i \\lVert r_k(x_i) \\rVert^2 \\quad (``"sum"``),

    the mean over the batch and the coordinates (channels and positions of a conv block) being
    the authors' cost (skander-karkar/LAP, ``main.py``: ``sum(torch.mean(torch.abs(r) ** 2) for r
    in rs)``; Karkar et al. 2020).

    Each block's term is computed inside its hook, as one fused kernel on its input and output
    (:func:`layerflow.models.displacement_cost`: the mean of ``(x_{k+1} − x_k)²`` over ``h²``,
    without forming ``r_k``), so the penalty adds little to a training step
    (``benchmarks/bench_penalty.py``, figures in ``benchmarks/README.md``). Use as a context manager (hooks removed on exit) or call
    :meth:`remove`. The last pass's terms and the blocks' inputs and outputs are held (with their
    graph) until the next pass, :meth:`clear` or :meth:`remove`. Passes under
    ``torch.no_grad()`` are recorded too (their cost has no graph); passes inside
    :meth:`paused` are not. A deep copy of the model
    (``copy.deepcopy``) runs as a plain model: the hooks it carries ignore its modules.

    Parameters
    ----------
    model
        Any ``nn.Module``; a *pass* is one call of ``model(...)`` (root hooks mark its start and
        end).
    blocks
        Submodule names (as in ``model.named_modules()``) of the residual blocks; each must run
        exactly once per pass. Default: ``model.residual_blocks`` (layerflow's ``ResidualMLP``).
    h
        Step size of the blocks (one for all, or one per block). Default: ``model.h`` for
        layerflow models, else 1 (the usual ResNet ``x + r(x)``, LAP's default ``timestep``).
    reduction
        ``"mean"`` (default, the authors' cost) or ``"sum"`` (summed over the coordinates: d
        times stronger for blocks of width d).
    post_add
        The rule for a block that applies an activation after its residual add (torchvision's
        ``BasicBlock`` and ``Bottleneck``, ``relu(x + F(x))``, or a block declaring
        ``post_add_activation``; :func:`layerflow._hooks.post_add_activation`):
        ``"pre_activation"`` (default) reads the block's output before that activation, so
        ``r_k = F(x_k)/h``, the residual branch itself; ``"output"`` reads the block's output
        (``relu(x + F(x)) − x``, clipped units included); ``"refuse"`` raises at construction.
        ``pre_activation`` lists the blocks read before their activation.
    example
        Optional example input (what ``model(...)`` takes, one tensor): the model runs once on it
        at construction (eval mode, no gradients, hooks removed afterwards) and every block whose
        output shape differs from its input's is refused then. Without it, blocks whose
        structure says they change shape (:func:`layerflow._hooks.shape_change`: torchvision's
        blocks with a downsample shortcut) are refused at construction, other blocks at their
        first forward pass.

    Raises
    ------
    ConfigError
        Unknown or repeated block names, a bad ``h``, ``reduction`` or ``post_add``, a block that
        changes shape (named with its shapes), a post-add block with ``post_add="refuse"`` (at
        construction); a block whose output shape differs from its input's, or that does not run
        exactly once per pass (during the forward pass); :meth:`cost` before any complete pass
        or after :meth:`remove`.
    """

    def __init__(
        self,
        model: nn.Module,
        blocks: Sequence[str] | None = None,
        h: float | Sequence[float] | None = None,
        reduction: str = "mean",
        *,
        post_add: str = "pre_activation",
        example: Any = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
        if blocks is None:
            blocks = getattr(model, "residual_blocks", None)
            if blocks is None:
                raise ConfigError(
                    f"{type(model).__name__} has no residual_blocks; pass blocks=[…] naming its "
                    "residual blocks"
                )
        if isinstance(blocks, str):
            raise ConfigError(f"blocks={blocks!r}: expected a list of block names, not a string")
        names = [str(b) for b in blocks]
        if not names:
            raise ConfigError("blocks is empty; name at least one residual block")
        modules = named_submodules(model, names, ConfigError, what="blocks")  # repeated, unknown
        check_reduction(reduction, ConfigError)
        for name, module in modules.items():
            change = shape_change(module)
            if change is not None:
                raise ConfigError(_shape_message(name, type(module).__name__, change))
        if example is not None:
            _dry_run(model, names, example, post_add)
        self.model = model
        self.blocks = names
        self.h = _steps(h, names, model)
        self.reduction = reduction
        self._current: dict[str, tuple[Any, ...]] = {}
        self._last: dict[str, tuple[Any, ...]] | None = None
        self._removed = False
        self._paused = False
        self._hooks = LayerHooks(model, names, self._record, inputs=True, who="TransportPenalty",
                                 needs="TransportPenalty needs", error=ConfigError,
                                 post_add=post_add)
        self.pre_activation = dict(self._hooks.pre_activation)
        # closures, not bound methods: ``copy.deepcopy(model)`` would copy a bound method's
        # penalty along with the model, while the block hooks (closures) stay this penalty's;
        # these answer only ``model`` itself, so a copy runs as a plain model
        def begin(mod: nn.Module, _args: Any) -> None:
            if mod is model and not self._paused:
                self._begin()

        def end(mod: nn.Module, _args: Any, _output: Any) -> None:
            if mod is model and not self._paused:
                self._end()

        self._root = [model.register_forward_pre_hook(begin), model.register_forward_hook(end)]

    # ------------------------------------------------------------------ hooks
    def _begin(self) -> None:
        self._current = {}
        self._last = None
        self._hooks.reset_calls()

    def _record(self, name: str, inp: torch.Tensor | None, out: torch.Tensor) -> None:
        assert inp is not None
        if self._paused:
            return
        if out.shape != inp.shape:
            raise ConfigError(
                f"block {name!r} maps shape {tuple(inp.shape)} to {tuple(out.shape)}; a residual "
                "block x -> x + h·r(x) keeps the shape of its input"
            )
        # the block's term now (one fused kernel, right when the block ran), and the tensors
        # themselves (with their versions) for velocities()
        term = displacement_cost(out, inp, self.h[name], self.reduction)
        self._current[name] = (term, inp, out, inp._version, out._version)

    def _end(self) -> None:
        self._hooks.check_once()
        self._last = self._current
        self._current = {}

    # ---------------------------------------------------------------- results
    def _pass(self) -> dict[str, tuple[Any, ...]]:
        if self._removed:
            raise ConfigError("this TransportPenalty was removed; attach a new one")
        if self._last is None:
            raise ConfigError(
                f"no complete forward pass of {type(self.model).__name__} since the penalty was "
                "attached (or since clear()); call model(x) before cost()"
            )
        return self._last

    def cost(self) -> torch.Tensor:
        """``C`` of the last forward pass (a 0-d tensor, differentiable when that pass was)."""
        terms = [self._pass()[b][0] for b in self.blocks]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return cast(torch.Tensor, total)

    def velocities(self) -> list[torch.Tensor]:
        """The velocities ``r_k = (x_{k+1} − x_k)/h`` of the last pass, in ``blocks`` order (each
        ``(B, …)``), recomputed from the blocks' inputs and outputs (refused when one of them was
        changed in place after its block ran)."""
        out = []
        for b in self.blocks:
            _, x, y, vx, vy = self._pass()[b]
            if x._version != vx or y._version != vy:
                raise ConfigError(
                    f"block {b!r}: its input or output was modified in place after the block "
                    "ran, so its velocity cannot be recomputed (cost() is not affected)"
                )
            out.append((y - x) / self.h[b])
        return out

    @contextmanager
    def paused(self) -> Iterator[TransportPenalty]:
        """Passes inside the block are not recorded (e.g. evaluation passes under
        ``torch.no_grad()``, whose blocks' activations would otherwise be held until the next
        pass); the last recorded pass stays as it was. Nests; recording resumes on exit."""
        was = self._paused
        self._paused = True
        try:
            yield self
        finally:
            self._paused = was

    def clear(self) -> None:
        """Forget the last pass (frees its velocities and their graph)."""
        self._last = None
        self._current = {}

    def remove(self) -> None:
        """Detach every hook (idempotent); the model is as it was before."""
        self._hooks.remove()
        for handle in self._root:
            handle.remove()
        self._root = []
        self.clear()
        self._removed = True

    def __enter__(self) -> TransportPenalty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return (f"TransportPenalty({type(self.model).__name__}, blocks={self.blocks}, "
                f"reduction={self.reduction!r})")
