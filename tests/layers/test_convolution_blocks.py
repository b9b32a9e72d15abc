"""Depthwise-separable, bottleneck and squeeze-excitation blocks: shapes, shortcuts, gating."""

import numpy as np
import tensorflow as tf

from layers import BottleneckBlock, DepthwiseSeparableConv, SqueezeExcitation


def _images(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).standard_normal(shape), tf.float32)


def test_depthwise_separable_filters_each_channel_then_mixes():
    block = DepthwiseSeparableConv(16, strides=2)
    output = block(_images((2, 8, 8, 3)))
    assert output.shape == (2, 4, 4, 16)
    assert tuple(block.depthwise.kernel.shape) == (3, 3, 3, 1)  # One 3x3 filter per input channel.
    assert tuple(block.pointwise.conv.kernel.shape) == (1, 1, 3, 16)
    assert np.all(output.numpy() >= 0)  # ReLU last.


def test_bottleneck_widens_by_the_expansion_and_projects_the_shortcut():
    block = BottleneckBlock(4, strides=2)
    assert block(_images((2, 8, 8, 6))).shape == (2, 4, 4, 16)
    assert block.projection is not None
    assert tuple(block.spatial.conv.kernel.shape) == (3, 3, 4, 4)  # The 3x3 carries the stride.


def test_bottleneck_with_matching_width_has_an_identity_shortcut():
    block = BottleneckBlock(4)
    inputs = _images((2, 5, 5, 16))
    block(inputs)
    assert block.projection is None
    # With the last BatchNorm's scale and offset at zero the residual branch is zero: y = relu(x).
    gamma, beta = block.expand.norm.gamma, block.expand.norm.beta
    gamma.assign(tf.zeros_like(gamma))
    beta.assign(tf.zeros_like(beta))
    np.testing.assert_allclose(block(inputs).numpy(), np.maximum(inputs.numpy(), 0), atol=1e-6)


def test_squeeze_excitation_scales_each_channel_by_one_gate_in_zero_one():
    layer = SqueezeExcitation(ratio=0.5)
    inputs = _images((2, 4, 4, 6)) + 3.0  # Away from zero, so output / input is well defined.
    gate = (layer(inputs) / inputs).numpy()  # [B, H, W, C]
    # One gate per (example, channel), the same at every position.
    np.testing.assert_allclose(gate, np.broadcast_to(gate[:, :1, :1, :], gate.shape), rtol=1e-5)
    assert np.all((gate > 0) & (gate < 1))
    assert layer.reduce_kernel.shape == (6, 3)


def test_squeeze_excitation_gate_follows_its_bias():
    layer = SqueezeExcitation(ratio=0.5)
    inputs = _images((1, 3, 3, 4))
    layer(inputs)
    layer.expand_bias.assign(tf.fill([4], 30.0))  # sigmoid(30) = 1 - 1e-13
    np.testing.assert_allclose(layer(inputs).numpy(), inputs.numpy(), rtol=1e-6)
    layer.expand_bias.assign(tf.fill([4], -30.0))
    np.testing.assert_allclose(layer(inputs).numpy(), 0.0, atol=1e-6)
