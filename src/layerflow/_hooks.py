"""Forward hooks on named submodules: the one machinery behind capture, Jacobians and penalties.

:func:`layerflow.capture` (each layer's output), :func:`layerflow.maps.jacobian_diagnostics`
(each layer's input and output) and :class:`layerflow.TransportPenalty` (each block's input and
output, with their autograd graph) all read submodules through :class:`LayerHooks`:

    with LayerHooks(model, ["blocks.0", "blocks.1"], record, inputs=True,
                    needs="Jacobian diagnostics need", error=ConfigError):
        model(x)        # record(name, input, output) is called once per layer call

:func:`record_layers` runs a model over a batched input with such hooks (eval mode, no
gradients) and returns each layer's concatenated input and/or output. Hooks are removed and every
module's train/eval flag restored even when the forward pass raises. :func:`model_input` turns
user inputs into what a model takes (token ids exactly, everything else in the model's dtype).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from layerflow._errors import ConfigError, LayerflowError

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
        The :class:`~layerflow._errors.LayerflowError` subclass raised for non-tensor inputs or
        outputs (from inside the forward pass) and unknown names.
    post_add
        The rule for a named block that applies an activation after its residual add
        (:func:`post_add_activation`, e.g. torchvision's ``BasicBlock``): one of
        :data:`POST_ADD_RULES`. With ``"pre_activation"`` (default) ``record`` gets the input of
        that activation's last call (the sum ``x + F(x)``) in place of the block's output;
        ``pre_activation`` lists those layers (``{name: activation path}``).

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
        error: type[LayerflowError] = ConfigError,
        post_add: str = "pre_activation",
    ) -> None:
        self.names = [str(n) for n in names]
        self.modules = named_submodules(model, self.names, error)
        self.pre_activation = _post_add_rule(model, self.names, post_add, needs, error)
        self.calls: dict[str, int] = dict.fromkeys(self.names, 0)
        self._record = record
        self._inputs = inputs
        self._who, self._needs, self._error = who, needs, error
        self._taps = {n: _tap_of(self.modules[n], act) for n, act in self.pre_activation.items()}
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
                if name in self._taps:
                    out = self._taps[name].take(name, out, self._error)
                self._record(name, inp, out)
            else:
                out = _output_tensor(name, output, self._who, self._needs, self._error)
                if name in self._taps:
                    out = self._taps[name].take(name, out, self._error)
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
                    f"{self._needs} each layer to run exactly once" + _way_forward(n, self.calls[n])
                )

    def remove(self) -> None:
        """Detach every hook (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for tap in self._taps.values():
            tap.remove()

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
    error: type[LayerflowError] = ConfigError,
    post_add: str = "pre_activation",
) -> dict[str, tuple[torch.Tensor | None, torch.Tensor]]:
    """Run ``model`` on the rows of ``x`` (``batch_size`` per pass) and record ``names``.

    The model runs in eval mode (:func:`eval_mode`) under ``torch.no_grad()``; each layer must run
    exactly once per pass and return a batch-first output (``(rows, …)``). Returns
    ``{name: (input or None, output)}``, each the concatenation over the batches of the detached
    tensors (each output passed through ``transform`` first, batch by batch, e.g. a pooling that
    keeps the batch dimension; then moved to ``device`` when given). Hooks and modes are restored
    even when a pass raises. A block with an activation after its residual add is recorded by
    the ``post_add`` rule (:data:`POST_ADD_RULES`; default: the sum before that activation).
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
                    error=error, post_add=post_add) as hooks, eval_mode(model), torch.no_grad():
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


# ------------------------------------------------------- inputs, layer selection and state kinds
#: the state entering the first block of a language model (the first of its hidden states)
EMBEDDINGS = "embeddings"
#: the state after a language model's final normalisation (the last of GPT-2's hidden states)
FINAL_NORM = "final_norm"


@dataclass(frozen=True)
class LayerSpec:
    """One state to capture: its ``name`` in the trajectory, the ``module`` (a name as in
    ``model.named_modules()``) whose output it is (or whose first input, with ``at="input"``),
    and its ``kind`` (:data:`layerflow._trajectory.KINDS`)."""

    name: str
    module: str
    kind: str
    at: str = "output"


@dataclass(frozen=True)
class ResidualStream:
    """A Hugging Face-style language model's residual stream: its ``blocks`` (module names, in
    order) and the ``final_norm`` applied after the last block (a module name, or None)."""

    blocks: tuple[str, ...]
    final_norm: str | None


def _n_hidden_layers(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    n = getattr(config, "num_hidden_layers", None) if config is not None else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def residual_stream(model: nn.Module) -> ResidualStream | None:
    """The residual stream of a model configured as Hugging Face's are, or ``None``.

    The blocks are the first ``nn.ModuleList`` (in ``named_modules`` order) holding exactly
    ``model.config.num_hidden_layers`` modules (GPT-2's ``transformer.h``, BERT's
    ``encoder.layer``, Llama's ``model.layers``). The final norm is the first normalisation
    module (a class whose name contains "Norm") registered after the block list in the block
    list's parent or one of its ancestors (GPT-2's ``ln_f``, Llama's ``norm``; BERT has none).
    """
    n = _n_hidden_layers(model)
    if n is None:
        return None
    blocks = next((name for name, m in model.named_modules()
                   if isinstance(m, nn.ModuleList) and len(m) == n and name), None)
    if blocks is None:
        return None
    modules = dict(model.named_modules())
    final = None
    path = blocks
    while path and final is None:
        parent_name, _, child = path.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        after = False
        for name, m in parent.named_children():
            if name == child:
                after = True
                continue
            if after and "norm" in type(m).__name__.lower():
                final = f"{parent_name}.{name}" if parent_name else name
                break
        path = parent_name
    return ResidualStream(tuple(f"{blocks}.{i}" for i in range(n)), final)


def state_kind(model: nn.Module, name: str, stream: ResidualStream | None) -> str:
    """The kind of the output of submodule ``name``: ``final_norm`` for the stream's final norm,
    ``embedding`` for embeddings (an ``nn.Embedding`` or a module whose class name says
    Embedding), ``pooled`` for a pooler, else ``block``."""
    if stream is not None and name == stream.final_norm:
        return "final_norm"
    module = dict(model.named_modules()).get(name)
    cls = type(module).__name__.lower()
    if isinstance(module, nn.Embedding | nn.EmbeddingBag) or "embedding" in cls:
        return "embedding"
    if "pooler" in cls:
        return "pooled"
    return "block"


def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` matches within one dotted part, ``**`` across parts, ``?`` one character."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": r"[^.]*", "?": r"[^.]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + r"\Z")


def default_layers(model: nn.Module, error: type[LayerflowError]) -> list[LayerSpec]:
    """What :func:`layerflow.capture` records without ``layers``: ``model.capture_layers`` for
    layerflow models; for a Hugging Face-style language model (:func:`residual_stream`) the
    residual stream — ``embeddings`` (the input of the first block, Hugging Face's first hidden
    state), every block's output and, when the model has one, ``final_norm`` (the final norm's
    output, Hugging Face's last hidden state); else the top-level children."""
    stream = residual_stream(model)
    names = getattr(model, "capture_layers", None)
    if names is not None:
        return [LayerSpec(str(n), str(n), state_kind(model, str(n), stream)) for n in names]
    if stream is not None:
        specs = [LayerSpec(EMBEDDINGS, stream.blocks[0], "embedding", at="input")]
        specs += [LayerSpec(b, b, "block") for b in stream.blocks]
        if stream.final_norm is not None:
            specs.append(LayerSpec(FINAL_NORM, stream.final_norm, "final_norm"))
        return specs
    children = [name for name, _ in model.named_children()]
    if not children:
        raise error(
            f"{type(model).__name__} has no submodules and no capture_layers; pass layers=[…] "
            "naming submodules to capture"
        )
    return [LayerSpec(c, c, state_kind(model, c, stream)) for c in children]


def resolve_layers(model: nn.Module, layers: Sequence[str | int] | None,
                   error: type[LayerflowError]) -> list[LayerSpec]:
    """The states to capture, from ``layers``: ``None`` (:func:`default_layers`), or a list of
    submodule names (as in ``model.named_modules()``; a ``ModuleList`` or ``ModuleDict``, which
    never runs itself, stands for its children), globs (``"transformer.h.*"``: ``*``
    within one dotted part, ``**`` across parts; matches in module order) and ints (indices,
    negative from the end, into :func:`default_layers`). For a language model, ``"embeddings"``
    and ``"final_norm"`` name those states of its residual stream unless a submodule has that
    name. Unknown names, globs that match nothing, indices out of range and repeated states
    raise ``error``."""
    if isinstance(layers, str):
        raise error(f"layers={layers!r}: expected a list of layer names, not a string")
    if layers is None:
        return default_layers(model, error)
    stream = residual_stream(model)
    modules = [n for n, _ in model.named_modules() if n]
    known = set(modules)
    specs: list[LayerSpec] = []
    defaults: list[LayerSpec] | None = None
    for item in layers:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise error(f"layers: {item!r} is a {type(item).__name__}; expected a submodule "
                        "name, a glob or an int index")
        if isinstance(item, int):
            defaults = defaults if defaults is not None else default_layers(model, error)
            if not -len(defaults) <= item < len(defaults):
                raise error(f"layers: index {item} is out of range for the {len(defaults)} "
                            f"default layers {[s.name for s in defaults]}")
            specs.append(defaults[item])
        elif item in known and isinstance(dict(model.named_modules())[item],
                                          nn.ModuleList | nn.ModuleDict):
            # a container never runs itself: its children are the layers (``"transformer.h"``)
            children = [f"{item}.{c}" for c, _ in
                        dict(model.named_modules())[item].named_children()]
            specs += [LayerSpec(c, c, state_kind(model, c, stream)) for c in children]
        elif item in known:
            specs.append(LayerSpec(item, item, state_kind(model, item, stream)))
        elif stream is not None and item == EMBEDDINGS:
            specs.append(LayerSpec(EMBEDDINGS, stream.blocks[0], "embedding", at="input"))
        elif stream is not None and item == FINAL_NORM and stream.final_norm is not None:
            specs.append(LayerSpec(FINAL_NORM, stream.final_norm, "final_norm"))
        elif any(c in item for c in "*?"):
            rx = _glob(item)
            hits = [n for n in modules if rx.match(n)]
            if not hits:
                raise error(f"layers: the glob {item!r} matches no submodule of "
                            f"{type(model).__name__}; available: {modules}")
            specs += [LayerSpec(n, n, state_kind(model, n, stream)) for n in hits]
        else:
            extra = (f" (or {EMBEDDINGS!r} / {FINAL_NORM!r} for the residual stream)"
                     if stream is not None else "")
            raise error(f"unknown layers [{item!r}] in {type(model).__name__}; available: "
                        f"{modules}{extra}")
    if not specs:
        raise error("layers is empty; name at least one submodule to capture")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise error(f"layers must be distinct; repeated: {dup}")
    return specs


#: the keys of a model's keyword inputs that hold the model's input itself, in order of
#: preference (the first present becomes the trajectory's input state)
INPUT_KEYS = ("input_ids", "inputs_embeds", "pixel_values", "input_values", "x")


def input_key(inputs: Mapping[str, Any], error: type[LayerflowError]) -> str:
    """Which entry of keyword inputs is the model's input (:data:`INPUT_KEYS`, else the first
    tensor that is not a mask or an index)."""
    for key in INPUT_KEYS:
        if key in inputs and inputs[key] is not None:
            return key
    skip = {"attention_mask", "token_type_ids", "position_ids", "head_mask"}
    for key, value in inputs.items():
        if key not in skip and hasattr(value, "shape") and len(value.shape) >= 1:
            return str(key)
    raise error(f"the inputs {sorted(inputs)} hold no tensor to use as the input state; "
                f"expected one of {', '.join(INPUT_KEYS)}")


def keyword_input(model: nn.Module, inputs: Mapping[str, Any], device: torch.device | str,
                  dtype: torch.dtype) -> dict[str, Any]:
    """Keyword inputs as ``model`` takes them, on ``device``: integer and boolean tensors (token
    ids, masks) unchanged, floating ones in the model's ``dtype``, other values as they are."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor) or (hasattr(value, "__array__") and not isinstance(
                value, str | bytes)):
            t = torch.as_tensor(value)
            out[str(key)] = (t.to(device=device, dtype=dtype) if t.is_floating_point()
                             else t.to(device))
        else:
            out[str(key)] = value
    return out


def accepts_keyword(model: nn.Module, name: str) -> bool:
    """Whether ``model.forward`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD
                                 for p in params.values())


# ----------------------------------------------------------------------------- residual blocks
#
# A residual block written ``relu(x + F(x))`` (torchvision's ``BasicBlock`` and ``Bottleneck``)
# applies an activation after its residual add: its output is not on the residual stream
# ``x -> x + F(x)``, its "velocity" ``relu(x + F(x)) − x`` is not ``F(x)``, and its Jacobian
# ``diag(relu' ) (I + ∂F/∂x)`` is singular wherever a unit is clipped. The rule below is the one
# capture, :class:`layerflow.TransportPenalty` and :func:`layerflow.maps.jacobian_diagnostics`
# share: such a block is measured at the input of that activation (the sum ``x + F(x)``).

POST_ADD_RULES = ("pre_activation", "output", "refuse")
"""How a block with an activation after its residual add is measured:

* ``"pre_activation"`` (default): at the input of that activation's last call, the residual sum
  ``x + F(x)`` (the velocity of the penalty is then ``F(x)/h``, the Jacobian ``I + ∂F/∂x``);
* ``"output"``: at the block's output, activation included (``relu(x + F(x))``), as asked;
* ``"refuse"``: such a block is refused when the hooks are attached, naming the block, its
  activation and the two other rules.
"""

#: blocks known to end with ``activation(x + F(x))``: qualified class name -> activation attribute
POST_ADD_BLOCKS: dict[str, str] = {
    "torchvision.models.resnet.BasicBlock": "relu",
    "torchvision.models.resnet.Bottleneck": "relu",
}


def _known_block(module: nn.Module) -> str | None:
    for klass in type(module).__mro__:
        attr = POST_ADD_BLOCKS.get(f"{klass.__module__}.{klass.__qualname__}")
        if attr is not None:
            return attr
    return None


def post_add_activation(module: nn.Module) -> tuple[str, nn.Module] | None:
    """``(path, activation)`` of the activation ``module`` applies after its residual add, or
    ``None``.

    Known: a block of a class in :data:`POST_ADD_BLOCKS` (torchvision's ``BasicBlock`` and
    ``Bottleneck``, whose forward ends ``out += identity; out = self.relu(out)``); any module
    that declares ``post_add_activation = "<attribute>"`` naming its activation submodule; an
    ``nn.Sequential`` whose last child is one of these (its output is that child's). ``path`` is
    the activation's name relative to ``module``. An activation applied as a function
    (``F.relu``) has no module to hook and cannot be seen: declare a module for it.
    """
    declared = getattr(module, "post_add_activation", None)
    if declared is not None:
        act = getattr(module, declared, None) if isinstance(declared, str) else None
        if not isinstance(act, nn.Module):
            raise ConfigError(
                f"{type(module).__name__}.post_add_activation={declared!r}: expected the name "
                "of the submodule the block applies after its residual add"
            )
        return declared, act
    attr = _known_block(module)
    if attr is not None:
        return attr, getattr(module, attr)
    if isinstance(module, nn.Sequential) and len(module) > 0:
        key = list(module._modules)[-1]
        last = module._modules[key]
        inner = post_add_activation(last) if last is not None else None
        if inner is not None:
            return f"{key}.{inner[0]}", inner[1]
    return None


def post_add_layers(model: nn.Module, names: Sequence[str]) -> dict[str, str]:
    """``{name: activation path}`` for the named submodules of ``model`` that end with an
    activation after a residual add (:func:`post_add_activation`); the others are left out."""
    modules = dict(model.named_modules())
    found = {}
    for name in names:
        act = post_add_activation(modules[name]) if name in modules else None
        if act is not None:
            found[name] = f"{name}.{act[0]}"
    return found


def _refuse_post_add(found: dict[str, str], needs: str, error: type[LayerflowError]) -> None:
    name, act = next(iter(found.items()))
    raise error(
        f"layer {name!r} applies its activation {act!r} after the residual add (relu(x + F(x))), "
        f"so its output is not on the residual stream; {needs} a residual form: use "
        "post_add='pre_activation' to measure the sum x + F(x) at that activation's input, or "
        "post_add='output' to measure the output, activation included"
        + (f" (also: {sorted(found)[1:]})" if len(found) > 1 else "")
    )


class _Tap:
    """While ``block`` runs, the input of each call of its post-add activation ``act`` (cloned
    when ``act`` works in place) and that call's output; :meth:`take` returns the last input
    after checking that the block's output is the last call's output (the activation was the
    block's final operation)."""

    def __init__(self, block: nn.Module, act: nn.Module, label: str) -> None:
        self.label = label
        self.value: torch.Tensor | None = None
        self.out: Any = None
        self.active = False
        inplace = bool(getattr(act, "inplace", False))

        def start(mod: nn.Module, _args: Any) -> None:
            if mod is block:
                self.active, self.value, self.out = True, None, None

        def before(mod: nn.Module, args: tuple[Any, ...]) -> None:
            if mod is act and self.active and args and isinstance(args[0], torch.Tensor):
                self.value = args[0].clone() if inplace else args[0]

        def after(mod: nn.Module, _args: Any, output: Any) -> None:
            if mod is act and self.active:
                self.out = output

        self._handles = [block.register_forward_pre_hook(start),
                         act.register_forward_pre_hook(before),
                         act.register_forward_hook(after)]

    def take(self, name: str, output: Any, error: type[LayerflowError]) -> torch.Tensor:
        value, out = self.value, self.out
        self.active, self.value, self.out = False, None, None
        if value is None or out is None or output is not out:
            raise error(
                f"layer {name!r}: its output is not the output of its post-add activation "
                f"{self.label!r}; the pre-activation rule reads that activation's input, which "
                "needs the activation to be the block's final operation (or use "
                "post_add='output')"
            )
        return value

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


class PreActivation(nn.Module):
    """``block`` as the map from its input to the input of its post-add activation, the
    residual sum ``x + F(x)`` (see :data:`POST_ADD_RULES`): what the Jacobian diagnostics
    differentiate for such a block. The block is held, not copied."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        found = post_add_activation(block)
        if found is None:
            raise ConfigError(
                f"{type(block).__name__} applies no known activation after a residual add; "
                "PreActivation needs a block of POST_ADD_BLOCKS or one declaring "
                "post_add_activation"
            )
        self.block = block
        self._act_path, self._act = found

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        tap = _Tap(self.block, self._act, self._act_path)
        try:
            out = self.block(*args, **kwargs)
            return tap.take(type(self.block).__name__, out, ConfigError)
        finally:
            tap.remove()


def shape_change(module: nn.Module) -> str | None:
    """How ``module`` changes the shape of its input, when its structure says so, else ``None``.

    Read from the module without running it: a block of :data:`POST_ADD_BLOCKS` with a
    ``downsample`` shortcut (torchvision's first block of a stage: more channels, stride 2),
    or an ``nn.Sequential`` holding one. Other modules are not inspected (run them on an
    example input to know).
    """
    if _known_block(module) is not None and getattr(module, "downsample", None) is not None:
        convs = [m for m in module.children() if isinstance(m, nn.Conv2d)]
        if convs:
            c_in, c_out = convs[0].in_channels, convs[-1].out_channels
            stride = max(int(s) for c in convs for s in c.stride)
            size = "H, W" if stride == 1 else f"⌈H/{stride}⌉, ⌈W/{stride}⌉"
            return (f"(N, {c_in}, H, W) to (N, {c_out}, {size}) ({c_in} -> {c_out} channels, "
                    f"stride {stride}, through its downsample shortcut)")
        return "its input to another shape (it has a downsample shortcut)"
    if isinstance(module, nn.Sequential):
        for key, child in module._modules.items():
            inner = shape_change(child) if child is not None else None
            if inner is not None:
                return f"{inner} in its block {key!r}"
    return None


def _post_add_rule(model: nn.Module, names: Sequence[str], rule: str, needs: str,
                   error: type[LayerflowError]) -> dict[str, str]:
    """The layers to read before their post-add activation under ``rule`` (checked here)."""
    if rule not in POST_ADD_RULES:
        raise error(f"post_add={rule!r}: expected one of {list(POST_ADD_RULES)}")
    if rule == "output":
        return {}
    found = post_add_layers(model, names)
    if found and rule == "refuse":
        _refuse_post_add(found, needs, error)
    return found


def _tap_of(block: nn.Module, label: str) -> _Tap:
    found = post_add_activation(block)
    assert found is not None
    return _Tap(block, found[1], label)


def _way_forward(name: str, calls: int) -> str:
    """What to name instead of a layer that did not run exactly once."""
    if calls == 0:
        return ("; name a submodule that this model's forward pass calls (a module defined but "
                "not used, or called through another path, is never seen)")
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    where = (f"name the module that calls it, {parent!r}" if parent else
             "name the module that calls it")
    return (f"; a module called several times (such as an activation a block reuses: "
            f"torchvision's BasicBlock calls its relu twice) has no single output: {where} (a "
            "residual block with an activation after its add is measured at the sum before that "
            "activation), or a submodule that runs once")
