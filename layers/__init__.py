"""Subclassed Keras building blocks and the models made from them."""

from layers.attention import MultiHeadSelfAttention
from layers.bottleneck import BottleneckBlock, BottleneckV1Block
from layers.caffe_preprocessing import CaffePreprocessing
from layers.conv_bn import ConvBNActivation
from layers.depthwise_separable import DepthwiseSeparableConv
from layers.group_norm import GroupNorm
from layers.mlp_block import MLPBlock
from layers.patch_embedding import PatchEmbedding
from layers.registry import MODELS, create_model, resolve_model_class
from layers.residual import ResidualBlock
from layers.rms_norm import RMSNorm
from layers.squeeze_excitation import SqueezeExcitation
from layers.stochastic_depth import StochasticDepth
from layers.token_position_embedding import TokenAndPositionEmbedding
from layers.transfer_head import TransferHead
from layers.transformer_encoder import TransformerEncoderBlock

__all__ = [
    "MODELS",
    "BottleneckBlock",
    "BottleneckV1Block",
    "CaffePreprocessing",
    "ConvBNActivation",
    "DepthwiseSeparableConv",
    "GroupNorm",
    "MLPBlock",
    "MultiHeadSelfAttention",
    "PatchEmbedding",
    "RMSNorm",
    "ResidualBlock",
    "SqueezeExcitation",
    "StochasticDepth",
    "TokenAndPositionEmbedding",
    "TransferHead",
    "TransformerEncoderBlock",
    "create_model",
    "resolve_model_class",
]
