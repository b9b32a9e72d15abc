"""Every tapecraft layer and model passes the conformance kit (one parameterized test).

Sizes are the smallest that exercise each code path (a projection shortcut, two heads, a
padded token), so the whole registry runs in about a minute on two CPU cores.
"""

import numpy as np
import pytest

from layers import (BottleneckBlock, BottleneckV1Block, CaffePreprocessing, ConvBNActivation,
                    DepthwiseSeparableConv, GroupNorm, MLPBlock, MultiHeadSelfAttention, PatchEmbedding,
                    ResidualBlock, RMSNorm, SqueezeExcitation, StochasticDepth, TokenAndPositionEmbedding,
                    TransferHead, TransformerEncoderBlock)
from layers.conformance import CHECKS, check_layer
from layers.models import MLP, CifarResNet, SmallCNN, TransformerClassifier, VisionTransformer
from layers.models.resnet50 import ResNetStem
from layers.models.vgg16 import VGGBlock


def _token_ids(seed, shape=(2, 6), vocab_size=20):
    """Token ids with trailing padding (id 0) in the second sequence, so masking is exercised."""
    ids = np.random.default_rng(seed).integers(1, vocab_size, shape)
    ids[1, -2:] = 0
    return ids


# id -> (factory, input shape with batch, extra check_layer arguments).
LAYERS = {
    "conv_bn": (lambda: ConvBNActivation(4), (2, 6, 6, 3), {}),
    "residual_projection": (lambda: ResidualBlock(4, strides=2), (2, 6, 6, 3), {}),
    "mlp_block": (lambda: MLPBlock(8, dropout=0.1), (2, 6), {}),
    "depthwise_separable": (lambda: DepthwiseSeparableConv(4, strides=2), (2, 6, 6, 3), {}),
    "bottleneck_projection": (lambda: BottleneckBlock(2, strides=2), (2, 6, 6, 3), {}),
    "squeeze_excitation": (lambda: SqueezeExcitation(0.5), (2, 4, 4, 4), {}),
    "attention_causal": (lambda: MultiHeadSelfAttention(2, causal=True, dropout=0.1, seed=1), (2, 5, 8), {}),
    "encoder_block": (
        lambda: TransformerEncoderBlock(2, 16, dropout=0.1, drop_path=0.2, seed=1), (2, 5, 8), {}),
    "token_position_embedding": (
        lambda: TokenAndPositionEmbedding(20, 8, 8), (2, 6), {"input_dtype": "int32"}),
    "patch_embedding": (lambda: PatchEmbedding(2, 8), (2, 4, 4, 3), {}),
    "rms_norm": (lambda: RMSNorm(), (2, 5, 8), {}),
    "group_norm": (lambda: GroupNorm(2), (2, 4, 4, 4), {}),
    "stochastic_depth": (lambda: StochasticDepth(0.5, seed=3), (2, 5, 8), {}),
    # The pieces of VGG16 and ResNet-50 (whole, they take ~10 s and ~75 s here; their numerics
    # are checked against keras.applications in test_pretrained_weights.py).
    "caffe_preprocessing": (lambda: CaffePreprocessing(), (2, 4, 4, 3), {"output_dtype": "float32"}),
    "vgg_block": (lambda: VGGBlock(4, 2), (2, 6, 6, 3), {}),
    "resnet_stem": (lambda: ResNetStem(), (2, 16, 16, 3), {}),
    # Its biases feed BatchNorm, so in training mode they get no gradient (see its docstring).
    "bottleneck_v1_projection": (lambda: BottleneckV1Block(2, strides=2), (2, 6, 6, 3),
                                 {"checks": tuple(name for name in CHECKS if name != "training_step")}),
    "transfer_head": (lambda: TransferHead(3, units=8), (2, 4, 4, 5), {"output_dtype": "float32"}),
}

# Models return float32 logits under every policy. Their XLA check compiles under float32
# only: XLA compiles are ~1 s per policy per model on CPU, the most expensive part of the run,
# and every layer the models are made of is XLA-checked under all three policies above.
MODELS = {
    "mlp": (lambda: MLP(3, hidden_units=(8,)), (2, 4, 4, 1), {}),
    "small_cnn": (lambda: SmallCNN(3, widths=(4, 8)), (2, 8, 8, 1), {}),
    # resnet20 and resnet56 are this class at depth 20 and 56; depth 8 has every block kind.
    "cifar_resnet": (lambda: CifarResNet(3, depth=8), (2, 8, 8, 3), {}),
    "vit_tiny": (lambda: VisionTransformer(3, width=8, depth=1, num_heads=2, mlp_dim=16), (2, 8, 8, 1), {}),
    "transformer_classifier": (
        lambda: TransformerClassifier(3, vocab_size=20, max_length=8, width=8, depth=1, num_heads=2,
                                      mlp_dim=16),
        (2, 6), {"input_dtype": "int32", "input_factory": _token_ids}),
}
for _factory, _shape, _arguments in MODELS.values():
    _arguments.update(output_dtype="float32", xla_precisions=("float32",))


@pytest.mark.parametrize("name", sorted(LAYERS) + sorted(MODELS))
def test_passes_conformance(name):
    factory, input_shape, arguments = LAYERS.get(name) or MODELS[name]
    passed = check_layer(factory, input_shape, **arguments)  # Raises ConformanceError on a failure.
    expected = arguments.get("checks") or tuple(CHECKS)
    assert set(passed) == set(expected), f"{name}: ran {passed}, expected {expected}"
