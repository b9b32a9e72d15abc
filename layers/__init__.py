"""Subclassed Keras building blocks and the models made from them."""

from layers.conv_bn import ConvBNActivation
from layers.mlp_block import MLPBlock
from layers.registry import MODELS, create_model, resolve_model_class
from layers.residual import ResidualBlock

__all__ = [
    "MODELS",
    "ConvBNActivation",
    "MLPBlock",
    "ResidualBlock",
    "create_model",
    "resolve_model_class",
]
