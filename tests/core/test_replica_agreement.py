"""Replicas agree on BatchNorm statistics and on skipping an overflowed float16 step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from core.distribution import create_strategy
from core.replica_agreement import make_replica_state_averager, replica_local_state
from training.loop import make_train_loop
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.optimizers import create_optimizer
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.


class NormalizedNet(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(16)
        self.norm = keras.layers.BatchNormalization(momentum=0.5)
        self.classifier = keras.layers.Dense(num_classes, dtype="float32")

    def call(self, images, training=False):
        return self.classifier(tf.nn.relu(self.norm(self.hidden(self.flatten(images)), training=training)))


def _replica_copies(strategy, variable):
    return [np.asarray(copy) for copy in strategy.experimental_local_results(variable.value)]


def _train(strategy, model, optimizer, images, labels, steps=1):
    """Runs `steps` steps on fixed (images, labels): replica r gets the r-th half of the batch."""
    metrics = TaskMetrics("train", CLASSIFICATION)
    batches = strategy.distribute_datasets_from_function(
        lambda context: tf.data.Dataset.from_tensor_slices((images, labels)).batch(len(images) // 2).repeat())
    step = make_train_step(CLASSIFICATION, model, optimizer, metrics, len(images))
    loop = make_train_loop(step, strategy, jit_compile=False)
    loop(iter(batches), tf.constant(steps))


def test_batch_norm_statistics_drift_per_replica_and_the_averager_sets_them_to_the_mean():
    strategy = create_strategy("mirrored", 2)
    with strategy.scope():
        model = NormalizedNet(3)
        model(tf.zeros((1, 4, 4, 1)))
        optimizer = create_optimizer("sgd", 0.1)
        optimizer.build(model.trainable_variables)
    rng = np.random.RandomState(0)
    # The two halves of the batch have different means, so each replica sees different statistics.
    images = np.concatenate([rng.rand(8, 4, 4, 1), 3 + rng.rand(8, 4, 4, 1)]).astype(np.float32)
    _train(strategy, model, optimizer, images, np.arange(16, dtype=np.int32) % 3, steps=3)
    moving_mean = model.norm.moving_mean
    first, second = _replica_copies(strategy, moving_mean)
    assert np.abs(first - second).max() > 0.1  # Keras 3 updates each replica's copy alone.
    make_replica_state_averager(strategy, model)()
    for copy in _replica_copies(strategy, moving_mean):
        np.testing.assert_allclose(copy, (first + second) / 2, rtol=1e-6)
    for variable in model.trainable_variables:  # Already identical: the optimizer all-reduces.
        a, b = _replica_copies(strategy, variable)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("overflowing_replica", [0, 1])
def test_a_float16_overflow_on_one_replica_skips_the_step_on_every_replica(overflowing_replica):
    strategy = create_strategy("mirrored", 2)
    with precision_lib.precision_scope("mixed_float16"), strategy.scope():
        model = NormalizedNet(3)
        model(tf.zeros((1, 4, 4, 1)))
        optimizer = precision_lib.wrap_for_loss_scaling(create_optimizer("sgd", 0.1), "mixed_float16")
        optimizer.build(model.trainable_variables)
    images = np.random.RandomState(1).rand(8, 4, 4, 1).astype(np.float32)
    # 1e5 is beyond float16's range (65504): that replica's activations and gradients are inf/NaN.
    images[4 * overflowing_replica: 4 * overflowing_replica + 4] *= 1e5
    before = [v.numpy() for v in model.trainable_variables]
    _train(strategy, model, optimizer, images, np.arange(8, dtype=np.int32) % 3)
    # Without core.replica_agreement.share_overflow, Keras let replica 0's verdict decide:
    # with replica 1 overflowing it applied the NaN update.
    for variable, initial in zip(model.trainable_variables, before):
        for copy in _replica_copies(strategy, variable):
            np.testing.assert_array_equal(copy, initial)
    assert float(tf.convert_to_tensor(optimizer.dynamic_scale)) == precision_lib.INITIAL_LOSS_SCALE / 2
    assert int(tf.convert_to_tensor(optimizer.iterations)) == 0  # The schedule does not advance.



def test_only_statistics_of_trainable_layers_are_replica_state():
    model = NormalizedNet(3)
    model(tf.zeros((1, 4, 4, 1)))
    assert [v.path for v in replica_local_state(model)] == [model.norm.moving_mean.path,
                                                            model.norm.moving_variance.path]
    model.norm.trainable = False  # A frozen layer's statistics no longer change.
    assert replica_local_state(model) == []
