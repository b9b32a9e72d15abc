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
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=True)
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * tf.linspace(0.0, 1.0, outputs.shape[-1]))
    gradients = tape.gradient(loss, [inputs] + layer.trainable_variables)
    return outputs, gradients


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
        for got, want in zip(gradients, expected_gradients):
            np.testing.assert_allclose(tf.cast(got, tf.float32), tf.cast(want, tf.float32),
                                       rtol=tolerance, atol=tolerance * 10)
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
    eager_outputs, _ = _train_step(_pair("float32", shape)[1], inputs)
    compiled_outputs, _ = tf.function(_train_step, jit_compile=True)(fused, inputs)
    np.testing.assert_allclose(compiled_outputs, eager_outputs, rtol=1e-4, atol=1e-5)
