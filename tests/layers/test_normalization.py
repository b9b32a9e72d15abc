"""RMSNorm and GroupNorm against numpy references, in every precision."""

import numpy as np
import pytest
import tensorflow as tf

from core.precision import compute_dtype, precision_scope
from layers import GroupNorm, RMSNorm

# (rtol, atol) of a normalized output, which is O(1), per policy: the output is rounded once
# to the compute dtype (float16: 11 significand bits, bfloat16: 8).
TOLERANCES = {"float32": 1e-5, "mixed_float16": 2e-3, "mixed_bfloat16": 1.6e-2}


def _rounded_inputs(shape, policy, scale, seed=0):
    """Inputs, and the float64 values the layer actually sees after the cast to its compute dtype."""
    values = np.random.default_rng(seed).standard_normal(shape) * scale
    inputs = tf.constant(values, tf.float32)
    seen = tf.cast(tf.cast(inputs, compute_dtype(policy)), tf.float64).numpy()
    return inputs, seen


def _build(layer_factory, policy, inputs):
    with precision_scope(policy):
        layer = layer_factory()
    layer(inputs)
    # Non-trivial scale and offset, so the reference checks that they are applied per channel.
    generator = np.random.default_rng(1)
    layer.set_weights([generator.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("policy", sorted(TOLERANCES))
def test_rms_norm_matches_numpy(policy):
    # Magnitude 300: the mean of squares (9e4) would overflow float16 (max 65504) if computed in it.
    inputs, seen = _rounded_inputs((2, 3, 16), policy, scale=300.0)
    layer = _build(lambda: RMSNorm(epsilon=1e-6), policy, inputs)
    (scale,) = layer.get_weights()
    expected = seen / np.sqrt(np.mean(seen**2, axis=-1, keepdims=True) + 1e-6) * scale
    output = layer(inputs)
    assert output.dtype == compute_dtype(policy)
    tolerance = TOLERANCES[policy]
    np.testing.assert_allclose(tf.cast(output, tf.float64).numpy(), expected, rtol=tolerance, atol=tolerance)


def _group_norm_reference(x, groups, scale, offset, epsilon):
    batch, channels = x.shape[0], x.shape[-1]
    grouped = x.reshape(batch, -1, groups, channels // groups)
    mean = grouped.mean(axis=(1, 3), keepdims=True)
    variance = grouped.var(axis=(1, 3), keepdims=True)
    normalized = ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape)
    return normalized * scale + offset


@pytest.mark.parametrize("policy", sorted(TOLERANCES))
def test_group_norm_matches_numpy(policy):
    inputs, seen = _rounded_inputs((2, 4, 4, 6), policy, scale=50.0)
    inputs = inputs + 20.0  # A large mean, which the normalization must remove.
    seen = tf.cast(tf.cast(inputs, compute_dtype(policy)), tf.float64).numpy()
    layer = _build(lambda: GroupNorm(groups=3, epsilon=1e-5), policy, inputs)
    scale, offset = layer.get_weights()
    expected = _group_norm_reference(seen, 3, scale, offset, 1e-5)
    output = layer(inputs)
    assert output.dtype == compute_dtype(policy)
    tolerance = TOLERANCES[policy]
    np.testing.assert_allclose(tf.cast(output, tf.float64).numpy(), expected, rtol=tolerance, atol=tolerance)


def test_group_norm_does_not_depend_on_the_batch():
    layer = GroupNorm(groups=2)
    inputs, _ = _rounded_inputs((4, 3, 3, 4), "float32", scale=1.0)
    np.testing.assert_allclose(layer(inputs[:1]).numpy(), layer(inputs).numpy()[:1], rtol=1e-6, atol=1e-6)


def test_group_norm_with_one_group_normalizes_over_all_features():
    inputs, seen = _rounded_inputs((2, 3, 3, 4), "float32", scale=2.0)
    output = GroupNorm(groups=1, epsilon=0.0)(inputs).numpy().reshape(2, -1)
    np.testing.assert_allclose(output.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(output.std(axis=1), 1.0, atol=1e-4)


def test_group_norm_rejects_groups_that_do_not_divide_channels():
    with pytest.raises(ValueError, match="6 channels do not split into 4 groups"):
        GroupNorm(groups=4)(tf.zeros((1, 2, 2, 6)))
