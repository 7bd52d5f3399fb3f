"""Networks whose layers layerflow traces: MLP, bottleneck MLP, the residual MLP (Karkar et al. 2020) and a
small transformer encoder over token ids.

    from layerflow.models import ModelSpec, build_model
    model = build_model(ModelSpec("resnet", width=16, depth=8), in_dim=2, n_classes=2, seed=0)
    model.capture_layers   # ['lift', 'blocks.0', …]: the residual stream
    tf = build_model(ModelSpec("transformer", width=32, depth=2, vocab=10), in_dim=8, n_classes=2)
    tf.capture_layers      # ['embed', 'blocks.0', 'blocks.1']: each (N, T=8, 32)

Ensembles: ``ParameterStack(model_structure(spec, …), initial_values(template, seeds))`` holds E
networks of one shape in one flat tensor (each member's initialisation is ``build_model``'s).
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.models._build import build_model, initial_values, model_structure
from layerflow.models._cost import (
    TRANSPORT_REDUCTIONS,
    Reduction,
    check_reduction,
    displacement_cost,
    velocity_cost,
)
from layerflow.models._io import load_weights, save_weights
from layerflow.models._nets import (
    MLP,
    Activation,
    DenseBlock,
    ResidualBlock,
    ResidualMLP,
)
from layerflow.models._spec import ACTIVATIONS, DEFAULT_HEADS, KINDS, OPTIONAL_FIELDS, ModelSpec
from layerflow.models._stack import ParameterStack
from layerflow.models._transformer import (
    SelfAttention,
    TokenEmbedding,
    TransformerBlock,
    TransformerEncoder,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_HEADS",
    "KINDS",
    "MLP",
    "OPTIONAL_FIELDS",
    "TRANSPORT_REDUCTIONS",
    "Activation",
    "DenseBlock",
    "ModelSpec",
    "ParameterStack",
    "Reduction",
    "ResidualBlock",
    "ResidualMLP",
    "SelfAttention",
    "TokenEmbedding",
    "TransformerBlock",
    "TransformerEncoder",
    "build_model",
    "check_reduction",
    "displacement_cost",
    "initial_values",
    "load_weights",
    "model_structure",
    "save_weights",
    "velocity_cost",
]

answer_moved(__name__)
