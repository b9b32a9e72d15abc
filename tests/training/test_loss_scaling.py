"""Dynamic loss scaling under mixed_float16, observed through the real train step."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from training.ema import ExponentialMovingAverage
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.schedules import WarmupSchedule
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

BATCH = 32


class GradientPoison(keras.layers.Layer):
    """Identity going forward; going backward, multiplies the gradient by `factor` (1, inf or NaN)."""

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(), initializer="ones", trainable=False, name="factor")

    def call(self, inputs):
        factor = tf.cast(self.factor, inputs.dtype)

        @tf.custom_gradient
        def identity(x):
            return tf.identity(x), lambda upstream: upstream * factor

        return identity(inputs)


class PoisonableNet(keras.Model):
    def __init__(self, num_classes=10):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(32, activation="relu")
        self.poison = GradientPoison()
        self.classifier = keras.layers.Dense(num_classes)  # float16 logits: the step casts them up.

    def call(self, images, training=False):
        return self.classifier(self.poison(self.hidden(self.flatten(images))))


def _batch(seed=0):
    rng = np.random.RandomState(seed)
    return (tf.constant(rng.uniform(size=(BATCH, 8, 8, 1)).astype(np.float32)),
            tf.constant(rng.randint(0, 10, size=BATCH).astype(np.int32)))


def _float16_run(optimizer, global_batch_size=BATCH, with_toolbox=False, policy="mixed_float16"):
    """A PoisonableNet under `policy` and its compiled train step (with accumulation, clipping and EMA
    if asked)."""
    keras.utils.set_random_seed(0)
    with precision_lib.precision_scope(policy):
        model = PoisonableNet()
        model(tf.zeros((1, 8, 8, 1)))
    optimizer.build(model.trainable_variables)
    ema = ExponentialMovingAverage(model.trainable_variables, 0.9) if with_toolbox else None
    metrics, gradient_norm = TaskMetrics("train", CLASSIFICATION), keras.metrics.Mean()
    step = make_train_step(CLASSIFICATION, model, optimizer, metrics, global_batch_size,
                           grad_accum_steps=2 if with_toolbox else 1,
                           clip_grad_norm=1e3 if with_toolbox else 0.0, gradient_norm=gradient_norm, ema=ema)
    return types.SimpleNamespace(model=model, step=tf.function(step), metrics=metrics, ema=ema,
                                 gradient_norm=gradient_norm)


def _values(variables):
    return [np.array(variable.numpy()) for variable in variables]


@pytest.mark.parametrize("poison", [np.inf, np.nan], ids=["inf", "nan"])
def test_a_step_with_a_non_finite_gradient_changes_nothing_but_halves_the_scale(poison):
    schedule = WarmupSchedule("cosine", 1e-2, warmup_steps=10, total_steps=100)
    optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.Adam(schedule), "mixed_float16",
                                                    dynamic_growth_steps=3)
    run = _float16_run(optimizer, with_toolbox=True)
    optimizer.dynamic_scale.assign(2.0**10)
    run.step(_batch(0))  # A finite step first, so Adam's slots and the average hold real values.
    weights, averages = _values(run.model.trainable_variables), _values(run.ema.averages)
    slots = _values(optimizer.inner_optimizer.variables)
    learning_rate = float(optimizer.learning_rate)
    assert int(optimizer.iterations) == 1

    run.model.poison.factor.assign(poison)
    run.step(_batch(1))

    for before, after in zip(weights, _values(run.model.trainable_variables)):
        np.testing.assert_array_equal(before, after)  # Bit-identical.
    for before, after in zip(slots, _values(optimizer.inner_optimizer.variables)):  # m, v, iterations...
        np.testing.assert_array_equal(before, after)
    for before, after in zip(averages, _values(run.ema.averages)):
        np.testing.assert_array_equal(before, after)
    assert int(optimizer.iterations) == 1  # So the schedule did not advance:
    assert float(optimizer.learning_rate) == learning_rate
    assert float(optimizer.dynamic_scale) == 2.0**9
    assert int(run.gradient_norm.count) == 1  # The skipped step's norm is left out of the mean.
    assert np.isfinite(float(run.gradient_norm.result()))


def test_the_scale_doubles_after_growth_steps_finite_steps_in_a_row():
    optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.Adam(1e-3), "mixed_float16",
                                                    dynamic_growth_steps=3)
    run = _float16_run(optimizer)
    optimizer.dynamic_scale.assign(2.0**10)
    run.model.poison.factor.assign(np.inf)
    run.step(_batch(0))
    assert float(optimizer.dynamic_scale) == 2.0**9
    run.model.poison.factor.assign(1.0)
    scales = []
    for index in range(6):
        run.step(_batch(index))
        scales.append(float(optimizer.dynamic_scale))
    assert scales == [2.0**9, 2.0**9, 2.0**10, 2.0**10, 2.0**10, 2.0**11]
    assert int(optimizer.iterations) == 6


def test_a_loss_whose_float16_gradients_underflow_trains_only_with_loss_scaling():
    # Dividing the summed loss by 2**26 instead of the batch size makes d(loss)/d(logits) at most
    # 1.5e-8: below half of float16's smallest subnormal (6e-8), so in float16 it rounds to 0.
    # A deep network's small early-layer gradients underflow the same way.
    tiny_loss_divisor = 2**26
    results = {}
    for name, policy, scaling in [("float32", "float32", False), ("unscaled", "mixed_float16", False),
                                  ("scaled", "mixed_float16", True)]:
        optimizer = keras.optimizers.Adam(1e-2)
        if scaling:
            optimizer = precision_lib.wrap_for_loss_scaling(optimizer, policy)
        run = _float16_run(optimizer, tiny_loss_divisor, policy=policy)
        initial = _values(run.model.trainable_variables)
        losses = []
        for _ in range(20):
            run.metrics.reset()
            run.step(_batch(0))
            losses.append(run.metrics.results()["loss"])
        changed = [not np.array_equal(a, b) for a, b in zip(initial, _values(run.model.trainable_variables))]
        results[name] = np.array(losses), changed

    unscaled_losses, unscaled_changed = results["unscaled"]
    assert not any(unscaled_changed)  # Every float16 gradient was exactly 0: nothing trained.
    assert np.all(unscaled_losses == unscaled_losses[0])
    float32_losses, _ = results["float32"]
    scaled_losses, scaled_changed = results["scaled"]
    assert all(scaled_changed)  # The scale 2**15 lifted the gradients into float16's range...
    assert float32_losses[-1] < float32_losses[0] - 0.05
    # ...and the float16 run follows the float32 one (measured: within 1e-4 relative over 20 steps).
    np.testing.assert_allclose(scaled_losses, float32_losses, rtol=1e-3)
