"""The fused optimizers take Keras' steps: same weights and slots, checkpoints, decay, loss scaling."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.distribution import create_strategy
from training.fused_optimizers import FusedAdam, FusedAdamW, FusedSGD

PAIRS = {
    "adam": (lambda: keras.optimizers.Adam(0.01), lambda: FusedAdam(0.01)),
    "adamw": (lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
              lambda: FusedAdamW(0.01, weight_decay=0.1)),
    "sgd_nesterov": (lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
                     lambda: FusedSGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd_momentum": (lambda: keras.optimizers.SGD(0.05, momentum=0.9), lambda: FusedSGD(0.05, momentum=0.9)),
    "adam_schedule": (
        lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, 10)),
        lambda: FusedAdam(keras.optimizers.schedules.CosineDecay(0.01, 10))),
}


def train_small_model(optimizer, steps=6, jit_compile=False, seed=0):
    """A two-layer model trained `steps` times on fixed data; returns (model, optimizer)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.layers.Input((5,)), keras.layers.Dense(7, activation="tanh"),
                              keras.layers.Dense(3)])
    optimizer.build(model.trainable_variables)
    inputs = tf.random.stateless_normal((16, 5), seed=(1, 2))
    targets = tf.random.stateless_normal((16, 3), seed=(3, 4))

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(inputs) - targets))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

    for _ in range(steps):
        step()
    return model, optimizer


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fused_steps_equal_keras_steps(name, jit_compile):
    keras_factory, fused_factory = PAIRS[name]
    expected, expected_optimizer = train_small_model(keras_factory(), jit_compile=jit_compile)
    actual, actual_optimizer = train_small_model(fused_factory(), jit_compile=jit_compile)
    for want, got in zip(expected.weights + expected_optimizer.variables,
                         actual.weights + actual_optimizer.variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-5, atol=1e-6, err_msg=got.path)
    # The weights moved: the comparison is not of two untouched models.
    untrained = train_small_model(fused_factory(), steps=0)[0]
    assert not np.allclose(actual.weights[0].numpy(), untrained.weights[0].numpy())


def test_checkpoints_interchange_with_keras_adam(tmp_path):
    model, optimizer = train_small_model(FusedAdam(0.01), steps=3)
    tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp_path / "ckpt"))
    restored_model, restored = train_small_model(keras.optimizers.Adam(0.01), steps=0, seed=1)
    tf.train.Checkpoint(model=restored_model, optimizer=restored).read(str(tmp_path / "ckpt")).assert_consumed()
    for want, got in zip(optimizer.variables, restored.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_sparse_gradients_and_amsgrad_keep_keras_update():
    embedding = keras.layers.Embedding(10, 4)
    embedding.build((None,))
    for optimizer in (FusedAdam(0.1), FusedAdam(0.1, amsgrad=True), FusedAdamW(0.1, weight_decay=0.0)):
        optimizer.build(embedding.trainable_variables)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(embedding(tf.constant([1, 3])))
        gradients = tape.gradient(loss, embedding.trainable_variables)
        assert isinstance(gradients[0], tf.IndexedSlices)
        before = embedding.embeddings.numpy().copy()
        optimizer.apply(gradients, embedding.trainable_variables)
        changed = np.any(before != embedding.embeddings.numpy(), axis=1)
        assert changed.tolist() == [i in (1, 3) for i in range(10)]


def test_loss_scaling_skips_an_overflowed_step():
    optimizer = keras.optimizers.LossScaleOptimizer(FusedAdam(0.01))
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer.build([variable])
    optimizer.apply([tf.constant([np.inf, 1.0, 1.0])], [variable])
    np.testing.assert_array_equal(variable.numpy(), np.ones(3))
    optimizer.apply([tf.constant([1.0, 1.0, 1.0]) * optimizer.dynamic_scale], [variable])
    assert np.all(variable.numpy() < 1.0)


def test_mirrored_replicas_take_the_single_device_step():
    expected, _ = train_small_model(FusedAdam(0.01), steps=3)
    # The process's one 2-replica strategy (core/distribution.py: a second instance's collectives
    # would collide with the first's); tests/conftest.py provides the two logical CPU devices.
    strategy = create_strategy("mirrored", num_replicas=2)
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.layers.Input((5,)), keras.layers.Dense(7, activation="tanh"),
                                  keras.layers.Dense(3)])
        optimizer = FusedAdam(0.01)
        optimizer.build(model.trainable_variables)
    inputs = tf.random.stateless_normal((16, 5), seed=(1, 2))
    targets = tf.random.stateless_normal((16, 3), seed=(3, 4))
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors((inputs, targets)).repeat().unbatch().batch(16))

    @tf.function
    def step(batch):
        def replica_step(batch):
            x, y = batch
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.reduce_mean(tf.square(model(x) - y), axis=-1)) / 16
            optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        strategy.run(replica_step, args=(batch,))

    iterator = iter(dataset)
    for _ in range(3):
        step(next(iterator))
    for want, got in zip(expected.weights, model.weights):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
