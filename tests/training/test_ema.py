"""Exponential moving average of the weights: the update rule, swap in/out, checkpoint, distribution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.checkpointing import TrainingCheckpoint
from core.distribution import create_strategy
from layers.registry import create_model
from training.ema import ExponentialMovingAverage, averaged_weights
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

DECAY = 0.9


def _weights():
    return [keras.Variable(np.array([1.0, -2.0], np.float32), name="a"),
            keras.Variable(np.full((2, 2), 3.0, np.float32), name="b")]


def test_averages_follow_the_rule_with_the_decay_warming_up():
    weights = _weights()
    ema = ExponentialMovingAverage(weights, DECAY)
    expected = [w.numpy() for w in weights]
    for applied in range(1, 40):
        for weight in weights:
            weight.assign(weight * 0.9 + 0.5)
        ema.update(tf.constant(applied, tf.int64))
        decay = min(DECAY, (1 + applied) / (10 + applied))  # 0.18, 0.25, ... then 0.9 from step 80.
        expected = [decay * e + (1 - decay) * w.numpy() for e, w in zip(expected, weights)]
    for average, value in zip(ema.averages, expected):
        np.testing.assert_allclose(average.numpy(), value, rtol=1e-6)


def test_a_repeated_update_count_means_a_skipped_step_and_changes_nothing():
    weights = _weights()
    ema = ExponentialMovingAverage(weights, DECAY)
    weights[0].assign([5.0, 5.0])
    ema.update(tf.constant(1, tf.int64))
    before = [a.numpy() for a in ema.averages]
    weights[0].assign([50.0, 50.0])
    ema.update(tf.constant(1, tf.int64))
    for average, value in zip(ema.averages, before):
        np.testing.assert_array_equal(average.numpy(), value)


def test_swapped_in_averages_are_swapped_out_exactly():
    weights = _weights()
    ema = ExponentialMovingAverage(weights, DECAY)
    weights[0].assign([1.0 / 3.0, np.pi])  # Values that any detour through rounding would change.
    ema.update(tf.constant(1, tf.int64))
    own = [w.numpy() for w in weights]
    with averaged_weights(ema):
        for weight, average in zip(weights, ema.averages):
            np.testing.assert_array_equal(weight.numpy(), average.numpy())
        assert not np.array_equal(weights[0].numpy(), own[0])
    for weight, value in zip(weights, own):
        np.testing.assert_array_equal(weight.numpy(), value)
    with averaged_weights(None):  # No EMA: nothing happens.
        np.testing.assert_array_equal(weights[0].numpy(), own[0])


def test_weights_are_swapped_back_when_the_block_raises():
    weights = _weights()
    ema = ExponentialMovingAverage(weights, DECAY)
    weights[0].assign([7.0, 7.0])
    with pytest.raises(RuntimeError), ema.swapped_in():
        raise RuntimeError("evaluation failed")
    np.testing.assert_array_equal(weights[0].numpy(), [7.0, 7.0])


def test_averages_and_their_update_count_are_restored_from_a_checkpoint(tmp_path):
    weights = _weights()
    ema = ExponentialMovingAverage(weights, DECAY)
    weights[1].assign(tf.fill((2, 2), 8.0))
    ema.update(tf.constant(4, tf.int64))
    TrainingCheckpoint(str(tmp_path), ema=ema).save(step=4)
    fresh = ExponentialMovingAverage(_weights(), DECAY)
    TrainingCheckpoint(str(tmp_path), ema=fresh).restore_latest()
    for saved, restored in zip(ema.averages, fresh.averages):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    assert int(fresh.last_update) == 4


def _ema_after_steps(strategy, batch):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = create_model("mlp", 10)
        model(tf.zeros((1, 8, 8, 1)))
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)
        ema = ExponentialMovingAverage(model.trainable_variables, DECAY)
        step = make_train_step(CLASSIFICATION, model, optimizer, TaskMetrics("train", CLASSIFICATION), 32, ema=ema)

    @tf.function
    def run(distributed_batch):
        strategy.run(step, args=(distributed_batch,))

    distributed = next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch))))
    for _ in range(3):
        run(distributed)
    with ema.swapped_in():
        return [w.numpy() for w in model.trainable_variables], int(ema.last_update.numpy())


def test_the_step_updates_the_average_identically_on_one_device_and_two_replicas():
    rng = np.random.RandomState(0)
    batch = (rng.uniform(size=(32, 8, 8, 1)).astype(np.float32), rng.randint(0, 10, size=32).astype(np.int32))
    single, single_updates = _ema_after_steps(tf.distribute.get_strategy(), batch)
    mirrored, mirrored_updates = _ema_after_steps(create_strategy("mirrored", num_replicas=2), batch)
    assert single_updates == mirrored_updates == 3
    for a, b in zip(single, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
