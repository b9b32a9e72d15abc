"""FusedBatchNormalization computes what keras.layers.BatchNormalization computes, with its weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from layers.fused_batch_norm import FusedBatchNormalization

# float32: the fused kernel sums in another order (measured 4e-7). bfloat16: both round the
# output to bfloat16 (one rounding: 4e-3 relative), Keras after normalizing in float32.
TOLERANCES = {"float32": 1e-4, "mixed_bfloat16": 3e-2}
# A gradient this small is the rounding residue of a true zero (a per-channel weighted sum
# leaves ~1e-7 on the input and ~1e-5 on gamma); the gradients compared here are ~0.1 to ~25.
NON_ZERO = 1e-2


def _pair(policy, shape):
    """A Keras and a fused layer with the same random weights and moving statistics."""
    with precision_lib.precision_scope(policy):
        layers = [cls(momentum=0.9, epsilon=1e-5) for cls in (keras.layers.BatchNormalization,
                                                              FusedBatchNormalization)]
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.build(shape)
    weights = [rng.uniform(0.5, 1.5, size=w.shape).astype(np.float32) for w in layers[0].get_weights()]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _train_step(layer, inputs):
    """(outputs, [d loss / d inputs, d loss / d gamma, d loss / d beta]) of one training-mode call.

    The loss weights every output element by its own fixed random number. A weight per channel
    would not do: batch normalization's outputs sum to N * beta over each channel whatever the
    input and gamma, so the true gradients of the input and of gamma would be exactly zero and
    a wrong one would still match (the conformance kit's loss projection, for the same reason).
    """
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=True)
        # From numpy: a stateless TensorFlow draw differs under XLA (another generator).
        projection = np.random.default_rng(5).standard_normal(outputs.shape).astype(np.float32)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * projection)
    gradients = tape.gradient(loss, [inputs] + layer.trainable_variables)
    return outputs, gradients


def _assert_gradients_match(gradients, expected_gradients, tolerance):
    """Each gradient is far from zero (so the comparison means something) and matches, relative
    to its own largest value."""
    assert len(gradients) == len(expected_gradients) == 3
    for name, got, want in zip(("input", "gamma", "beta"), gradients, expected_gradients):
        got, want = (np.asarray(tf.cast(value, tf.float32)) for value in (got, want))
        magnitude = np.abs(want)
        assert magnitude.mean() > NON_ZERO, f"d loss / d {name} is ~0: {magnitude.max():.2g}"
        if name != "input":  # One value per channel: every channel gets a gradient.
            assert magnitude.min() > NON_ZERO, f"a channel of d loss / d {name} is ~0: {want}"
        np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance * magnitude.max(), err_msg=name)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_training_matches_keras(policy):
    shape = (4, 5, 6, 8)
    keras_layer, fused = _pair(policy, shape)
    inputs = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype(np.float32))
    tolerance = TOLERANCES[policy]
    for _ in range(3):  # The moving statistics accumulate over steps.
        expected, expected_gradients = _train_step(keras_layer, inputs)
        outputs, gradients = _train_step(fused, inputs)
        assert outputs.dtype == expected.dtype
        np.testing.assert_allclose(tf.cast(outputs, tf.float32), tf.cast(expected, tf.float32),
                                   rtol=tolerance, atol=tolerance)
        _assert_gradients_match(gradients, expected_gradients, tolerance)
    for got, want in zip(fused.non_trainable_variables, keras_layer.non_trainable_variables):
        assert got.dtype == "float32"
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_inference_matches_keras(policy):
    shape = (3, 4, 4, 8)
    keras_layer, fused = _pair(policy, shape)
    inputs = tf.constant(np.random.default_rng(2).normal(size=shape).astype(np.float32))
    np.testing.assert_allclose(tf.cast(fused(inputs), tf.float32), tf.cast(keras_layer(inputs), tf.float32),
                               rtol=TOLERANCES[policy], atol=TOLERANCES[policy])


def test_same_weights_and_checkpoints_as_keras(tmp_path):
    keras_layer, fused = _pair("float32", (2, 3, 3, 4))
    assert [w.path.split("/")[-1] for w in fused.weights] == [w.path.split("/")[-1] for w in keras_layer.weights]
    path = tf.train.Checkpoint(layer=keras_layer).write(str(tmp_path / "keras_bn"))
    restored = FusedBatchNormalization()
    restored.build((2, 3, 3, 4))
    tf.train.Checkpoint(layer=restored).read(path).assert_consumed()
    for got, want in zip(restored.weights, keras_layer.weights):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_other_shapes_fall_back_to_keras():
    keras_layer, fused = _pair("float32", (6, 5))
    inputs = tf.constant(np.random.default_rng(3).normal(size=(6, 5)).astype(np.float32))
    np.testing.assert_allclose(fused(inputs, training=True), keras_layer(inputs, training=True), rtol=1e-6)


def test_xla_compiles_the_fused_step():
    shape = (2, 4, 4, 3)
    _, fused = _pair("float32", shape)
    inputs = tf.constant(np.random.default_rng(4).normal(size=shape).astype(np.float32))
    eager_outputs, eager_gradients = _train_step(_pair("float32", shape)[1], inputs)
    compiled_outputs, compiled_gradients = tf.function(_train_step, jit_compile=True)(fused, inputs)
    np.testing.assert_allclose(compiled_outputs, eager_outputs, rtol=1e-4, atol=1e-5)
    _assert_gradients_match(compiled_gradients, eager_gradients, 1e-4)
