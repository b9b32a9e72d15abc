"""Every tapecraft layer and model passes the conformance kit, and every check it selects ran,
except the skips listed here with their reasons (one parameterized test).

Sizes are the smallest that exercise each code path (a projection shortcut, two heads, a
padded token), so the whole registry runs in about a minute on two CPU cores.
"""

import keras
import numpy as np
import pytest

from layers import (BottleneckBlock, BottleneckV1Block, CaffePreprocessing, ConvBNActivation,
                    DepthwiseSeparableConv, GroupNorm, MLPBlock, MultiHeadSelfAttention, PatchEmbedding,
                    ResidualBlock, RMSNorm, SqueezeExcitation, StochasticDepth, TokenAndPositionEmbedding,
                    TransferHead, TransformerEncoderBlock)
from layers.conformance import CHECKS, ConformanceError, check_layer
from layers.conformance import runner
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


# id -> {check: part of the reason} the kit must report as skipped; every other selected check
# must have run. Layers with nothing to train or save skip those checks, and say so.
EXPECTED_SKIPS = {
    "stochastic_depth": {"training_step": "no trainable variables",
                         "checkpoint": "no floating-point variables"},
    "caffe_preprocessing": {"training_step": "no trainable variables",
                            "checkpoint": "no floating-point variables"},
}


@pytest.mark.parametrize("name", sorted(LAYERS) + sorted(MODELS))
def test_passes_conformance_and_every_selected_check_ran(name):
    factory, input_shape, arguments = LAYERS.get(name) or MODELS[name]
    report = check_layer(factory, input_shape, **arguments)  # Raises ConformanceError on a failure.
    selected = arguments.get("checks") or tuple(CHECKS)
    skips = EXPECTED_SKIPS.get(name, {})
    assert report.ran == tuple(check for check in selected if check not in skips), str(report)
    assert set(report.skipped) == set(skips), str(report)
    for check, reason in skips.items():
        assert reason in report.skipped[check], str(report)
    assert all(outcome.detail for outcome in report.outcomes)


def test_a_check_that_returns_without_saying_what_it_verified_fails(monkeypatch):
    """The runner's rule: a check returns what it verified or raises CheckSkipped; a bare return
    (the early exit that used to count as a pass) is a failure."""
    monkeypatch.setitem(runner.CHECKS, "config", (lambda subject: None, None))
    with pytest.raises(ConformanceError) as caught:
        check_layer(lambda: RMSNorm(), (2, 3), checks=["config"])
    assert caught.value.checks == ("config",)
    assert "returned without saying what it verified" in str(caught.value)
    assert caught.value.report.ran == ("config",) and not caught.value.report.skipped


class Wrapped(keras.layers.Layer):
    """Applies a function it is given: Keras cannot generate a config holding a function."""

    def __init__(self, function, **kwargs):
        super().__init__(**kwargs)
        self.function = function
        self.dense = keras.layers.Dense(3)

    def call(self, inputs):
        return self.function(self.dense(inputs))


def test_a_layer_without_a_config_skips_the_round_trip_and_says_why():
    report = check_layer(lambda: Wrapped(keras.activations.relu), (2, 4), checks=["build", "config"])
    assert report.ran == ("build",)
    assert "Wrapped defines no get_config and Keras cannot generate one" in report.skipped["config"]
    assert "config: skipped: Wrapped defines no get_config" in str(report)
