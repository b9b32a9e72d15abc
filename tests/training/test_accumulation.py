"""Gradient accumulation: K micro-batches make the same update as one step on the whole batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from layers.registry import create_model
from training.accumulation import accumulate_gradients, check_micro_batches
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

BATCH = 32

# Largest difference in the weights' change over one step, K=4 against K=1, as a fraction of the
# largest change. float32 sums the same products in another order (measured 2e-7). float16 and
# bfloat16 round each micro-batch's gradients to 11 / 8 significant bits before the float32 sum
# (measured 1.1e-4 / 2.5e-3). One step: later steps amplify any difference (SGD at 0.5 with
# momentum moves ReLU boundaries), which says nothing about accumulation.
TOLERANCES = {"float32": 1e-5, "mixed_float16": 1e-3, "mixed_bfloat16": 1e-2}


def _batches(count):
    rng = np.random.RandomState(0)
    return [(tf.constant(rng.uniform(size=(BATCH, 8, 8, 1)).astype(np.float32)),
             tf.constant(rng.randint(0, 10, size=BATCH).astype(np.int32))) for _ in range(count)]


def _train(policy, grad_accum_steps, batches):
    """Weight changes of an MLP (no dropout, no BatchNorm) after a step on each batch, and the metrics."""
    keras.utils.set_random_seed(0)
    with precision_lib.precision_scope(policy):
        model = create_model("mlp", 10)
        model(tf.zeros((1, 8, 8, 1)))
    optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.SGD(0.5, momentum=0.9), policy)
    optimizer.build(model.trainable_variables)
    metrics = TaskMetrics("train", CLASSIFICATION)
    # Under XLA too: tests/training/test_xla.py runs accumulation in its compiled-step comparison.
    step = tf.function(make_train_step(CLASSIFICATION, model, optimizer, metrics, BATCH, grad_accum_steps))
    initial = [v.numpy() for v in model.trainable_variables]
    for batch in batches:
        step(batch)
    return [v.numpy() - i for v, i in zip(model.trainable_variables, initial)], metrics.results()


@pytest.mark.parametrize("policy", sorted(TOLERANCES))
def test_four_micro_batches_update_like_one_batch(policy):
    batches = _batches(1)
    whole, whole_metrics = _train(policy, 1, batches)
    accumulated, accumulated_metrics = _train(policy, 4, batches)
    largest = max(np.abs(change).max() for change in whole)
    assert largest > 1e-3, "the steps did not train"
    for a, b in zip(whole, accumulated):
        np.testing.assert_allclose(b, a, rtol=0, atol=TOLERANCES[policy] * largest)
    assert accumulated_metrics["accuracy"] == whole_metrics["accuracy"]
    assert accumulated_metrics["loss"] == pytest.approx(whole_metrics["loss"], rel=TOLERANCES[policy])


def test_variables_without_a_gradient_keep_none():
    used, unused = tf.Variable([1.0, 2.0]), tf.Variable(3.0)

    def gradients_of(micro_batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(micro_batch * used)
        return tape.gradient(loss, [used, unused])

    batch = tf.reshape(tf.range(8, dtype=tf.float32), (4, 2))
    summed = tf.function(lambda b: accumulate_gradients(gradients_of, b, 2, [used, unused]))(batch)
    np.testing.assert_array_equal(summed[0].numpy(), batch.numpy().sum(axis=0))
    assert summed[1] is None


def test_a_batch_that_does_not_split_evenly_is_refused():
    check_micro_batches(32, 4)
    with pytest.raises(ValueError, match="--grad_accum_steps=3: each replica's batch of 32 examples"):
        check_micro_batches(32, 3)
