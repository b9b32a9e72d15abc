"""Gradient clipping by global norm: of the unscaled gradient, summed over replicas, inside the step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from core.distribution import create_strategy
from layers.registry import create_model
from training.clipping import clip_by_global_norm
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

PRECISIONS = ["float32", "mixed_float16", "mixed_bfloat16"]
BATCH = 32


def _norm(tensors):
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(t, np.float64))) for t in tensors)))


def _gradients(seed=0):
    rng = np.random.RandomState(seed)
    return [tf.constant(rng.normal(size=shape).astype(np.float32)) for shape in [(5, 4), (4,), (3,)]]


def test_clipped_gradients_have_the_bound_as_norm_and_keep_their_direction():
    gradients = _gradients()
    clipped, norm = clip_by_global_norm(gradients, 1.0)
    assert float(norm) == pytest.approx(_norm(gradients), rel=1e-6)
    assert _norm(clipped) == pytest.approx(1.0, rel=1e-6)
    for original, result in zip(gradients, clipped):
        np.testing.assert_allclose(result.numpy(), original.numpy() / _norm(gradients), rtol=1e-6)


def test_gradients_within_the_bound_pass_unchanged():
    gradients = _gradients()
    clipped, _ = clip_by_global_norm(gradients + [None], 100.0)
    for original, result in zip(gradients, clipped):
        np.testing.assert_array_equal(result.numpy(), original.numpy())
    assert clipped[-1] is None


def test_loss_scaled_gradients_are_clipped_as_if_unscaled():
    gradients, scale = _gradients(), 2.0**12
    clipped, norm = clip_by_global_norm([g * scale for g in gradients], 1.0, loss_scale=tf.constant(scale))
    assert float(norm) == pytest.approx(_norm(gradients), rel=1e-6)  # The unscaled norm.
    assert _norm([c / scale for c in clipped]) == pytest.approx(1.0, rel=1e-6)


def test_a_non_finite_norm_makes_every_gradient_nan_so_the_loss_scale_optimizer_skips():
    gradients = _gradients()
    gradients[0] = tf.tensor_scatter_nd_update(gradients[0], [[0, 0]], [np.inf])
    clipped, norm = clip_by_global_norm(gradients, 1.0)
    assert not np.isfinite(float(norm))
    assert all(np.isnan(c.numpy()).all() for c in clipped)


def _batch():
    rng = np.random.RandomState(0)
    return (tf.constant(rng.uniform(size=(BATCH, 8, 8, 1)).astype(np.float32)),
            tf.constant(rng.randint(0, 10, size=BATCH).astype(np.int32)))


def _clipped_step(policy, bound, strategy=None):
    """An MLP, plain SGD (update = -lr * gradient) and a compiled step that clips to `bound`."""
    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    with precision_lib.precision_scope(policy), strategy.scope():
        model = create_model("mlp", 10)
        model(tf.zeros((1, 8, 8, 1)))
        optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.SGD(1.0), policy)
        optimizer.build(model.trainable_variables)
        gradient_norm = keras.metrics.Mean()
        step = make_train_step(CLASSIFICATION, model, optimizer, TaskMetrics("train", CLASSIFICATION), BATCH,
                               clip_grad_norm=bound, gradient_norm=gradient_norm)

    @tf.function
    def run(batch):
        strategy.run(step, args=(batch,))

    return model, run, gradient_norm


@pytest.mark.parametrize("policy", PRECISIONS)
def test_the_step_moves_the_weights_by_exactly_the_bound(policy):
    # With SGD(learning_rate=1) the weights move by the clipped gradient itself.
    bound = 0.05
    model, run, gradient_norm = _clipped_step(policy, bound)
    before = [v.numpy() for v in model.trainable_variables]
    run(_batch())
    moved = [v.numpy() - b for v, b in zip(model.trainable_variables, before)]
    # float32 weights hold the update; the subtraction above rounds at ~1e-7 of the weights (~0.1).
    assert _norm(moved) == pytest.approx(bound, rel=1e-4)
    assert float(gradient_norm.result()) > 2 * bound  # The unclipped norm, reported.


def test_two_replicas_clip_the_summed_gradient_like_one_device():
    # Each replica holds half the gradient; clipping each half by its own norm would move the
    # weights differently (and by up to twice the bound).
    bound = 0.05
    single, run_single, norm_single = _clipped_step("float32", bound)
    run_single(_batch())
    strategy = create_strategy("mirrored", num_replicas=2)
    mirrored, run_mirrored, norm_mirrored = _clipped_step("float32", bound, strategy)
    # The distributed dataset gives each replica half of the same 32 examples.
    run_mirrored(next(iter(strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(_batch())))))
    for a, b in zip(single.trainable_variables, mirrored.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert float(norm_mirrored.result()) == pytest.approx(float(norm_single.result()), rel=1e-5)
