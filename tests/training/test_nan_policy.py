"""--on_nan=stop|skip|restore with NaN injected at chosen training steps, and no NaN checkpoint."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from training import TrainConfig, train_and_evaluate
from training.nan_policy import NonFiniteLossError


def _poisoned_model_fn(calls, poison_loss_at, poison_gradient_at=()):
    """A small MLP that turns its own training calls (counted from 1 by `calls`) bad.

    `calls` lives outside the model, so it is not checkpointed: after a restore the counter goes
    on, as a transient fault would. On a call in `poison_loss_at` the logits, hence the loss and
    every gradient, are NaN; on one in `poison_gradient_at` the loss is fine but the gradients
    reaching the weights are NaN, so the update leaves NaN weights behind a finite loss.
    """
    poison_loss_at = tf.constant(list(poison_loss_at) or [-1], tf.int64)
    poison_gradient_at = tf.constant(list(poison_gradient_at) or [-1], tf.int64)

    @tf.custom_gradient
    def nan_gradient(x, poisoned):
        def gradient(upstream):
            return tf.where(poisoned, tf.cast(np.nan, upstream.dtype), upstream), None

        return tf.identity(x), gradient

    class PoisonedNet(keras.Model):
        def __init__(self, num_classes):
            super().__init__()
            self.flatten = keras.layers.Flatten()
            self.hidden = keras.layers.Dense(32, activation="relu")
            self.classifier = keras.layers.Dense(num_classes)
            # A weight the model owns itself, not a layer: `restore` must bring it back too.
            self.logit_scale = self.add_weight(shape=(), initializer="ones", name="logit_scale")

        def call(self, images, training=False):
            hidden = self.hidden(self.flatten(images))
            if training:
                call = calls.assign_add(1)
                hidden = nan_gradient(hidden, tf.reduce_any(tf.equal(poison_gradient_at, call)))
                logits = self.classifier(hidden) * self.logit_scale
                poison = tf.where(tf.reduce_any(tf.equal(poison_loss_at, call)), np.nan, 0.0)
                return logits + tf.cast(poison, logits.dtype)
            return self.classifier(hidden) * self.logit_scale

    return PoisonedNet


def _run(tmp_path, on_nan, poison_loss_at=(), poison_gradient_at=(), train_steps=40, precision="float32"):
    """Trains 4 loops of 10 steps, a checkpoint after each; returns (result, log lines, run dir)."""
    calls = tf.Variable(0, dtype=tf.int64, trainable=False)
    model_dir = str(tmp_path / "run")
    config = TrainConfig(model="mlp", dataset="digits", batch_size=32, train_steps=train_steps,
                         warmup_steps=2, lr_schedule="constant", steps_per_loop=10, checkpoint_every=10,
                         eval_every=0, precision=precision, jit_compile="false", on_nan=on_nan,
                         model_dir=model_dir)
    lines = []
    model_fn = _poisoned_model_fn(calls, poison_loss_at, poison_gradient_at)
    try:
        result = train_and_evaluate(config, model_fn=model_fn, log=lines.append)
    finally:
        lines.append(f"(training calls: {int(calls.numpy())})")
    return result, lines, model_dir


def _saved(model_dir, step, key):
    return tf.train.load_checkpoint(f"{model_dir}/ckpt-{step}").get_tensor(key)


def _all_finite(model_dir, step):
    reader = tf.train.load_checkpoint(f"{model_dir}/ckpt-{step}")
    dtypes = reader.get_variable_to_dtype_map()
    return all(np.isfinite(reader.get_tensor(key)).all() for key in dtypes if dtypes[key].is_floating)


def test_stop_ends_with_an_error_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError) as error:
        _run(tmp_path, "stop", poison_loss_at=[25])
    model_dir = tmp_path / "run"
    assert str(error.value) == (
        f"the training loss is nan at step 30 (--on_nan=stop); the newest checkpoint, {model_dir}/ckpt-20, "
        "holds finite weights. Try a lower --learning_rate, or --on_nan=restore to reload the last "
        "checkpoint and go on")
    assert sorted(path.name for path in model_dir.glob("*.index")) == ["ckpt-10.index", "ckpt-20.index"]
    assert _all_finite(model_dir, 20)


def test_nan_weights_behind_a_finite_loss_are_never_saved(tmp_path):
    # The poisoned update is the last step of the loop ending at step 30: its loss was finite.
    with pytest.raises(NonFiniteLossError) as error:
        _run(tmp_path, "stop", poison_gradient_at=[30])
    assert str(error.value).startswith("variable ")
    assert " holds NaN or Inf at step 30 (--on_nan=stop); the newest checkpoint, " in str(error.value)
    assert not (tmp_path / "run" / "ckpt-30.index").exists()


def test_skip_drops_exactly_the_bad_steps(tmp_path):
    result, lines, model_dir = _run(tmp_path, "skip", poison_loss_at=[25, 27], poison_gradient_at=[33])
    assert "step 30: skipped 2 of 10 steps with a non-finite loss or gradient (--on_nan=skip)" in lines
    assert "step 40: skipped 1 of 10 steps with a non-finite loss or gradient (--on_nan=skip)" in lines
    assert result.final_step == 40
    assert _saved(model_dir, 40, "skipped_steps/.ATTRIBUTES/VARIABLE_VALUE") == 3
    # 40 steps, 3 skipped.
    assert _saved(model_dir, 40, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 37
    assert _all_finite(model_dir, 40) and math.isfinite(result.test_loss)


def test_skip_gives_up_when_every_step_of_a_loop_is_bad(tmp_path):
    with pytest.raises(NonFiniteLossError) as error:
        _run(tmp_path, "skip", poison_loss_at=range(21, 41))
    assert str(error.value) == ("all 10 steps before step 30 had a non-finite loss or gradient and were "
                                "skipped (--on_nan=skip); check the data for NaN/Inf, or lower "
                                "--learning_rate")


def test_skip_under_float16_leaves_the_skipping_to_the_loss_scale_optimizer(tmp_path):
    result, lines, model_dir = _run(tmp_path, "skip", poison_loss_at=[25], precision="mixed_float16")
    skipped = [line for line in lines if line.startswith("step 30: skipped ")]
    assert skipped and skipped[0].endswith(" steps with a non-finite loss or gradient (--on_nan=skip)")
    assert result.final_step == 40 and _all_finite(model_dir, 40)
    # Every skip, the poisoned step's included, halved the scale and left `iterations` alone.
    total = int(_saved(model_dir, 40, "skipped_steps/.ATTRIBUTES/VARIABLE_VALUE"))
    assert total >= 1
    iterations = _saved(model_dir, 40, "optimizer/inner_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    assert iterations == 40 - total


def test_skip_under_float16_stops_when_the_loss_scale_falls_below_one(tmp_path):
    # 20 NaN steps in a row halve the scale from 2**15 to 2**-5: overflow is not the cause.
    with pytest.raises(NonFiniteLossError) as error:
        _run(tmp_path, "skip", poison_loss_at=range(21, 41), precision="mixed_float16")
    assert str(error.value).startswith("the float16 loss scale fell to ")
    assert str(error.value).endswith(
        " by step 40, skipping 10 of 10 steps: the gradients are NaN/Inf for another reason than overflow "
        "(--on_nan=skip); check the data for NaN/Inf, or lower --learning_rate")


def test_restore_reloads_the_last_checkpoint_at_half_the_learning_rate(tmp_path):
    result, lines, model_dir = _run(tmp_path, "restore", poison_loss_at=[25])
    assert (f"the training loss is nan at step 30; restored {model_dir}/ckpt-20 (step 20) and scaled the "
            "learning rate by 0.5 (restore 1 of 3, --on_nan=restore)") in lines
    assert result.final_step == 40
    assert lines[-1] == "(training calls: 50)"  # Steps 21-30 ran twice.
    assert _saved(model_dir, 40, "learning_rate_scale/.ATTRIBUTES/VARIABLE_VALUE") == 0.5
    assert _all_finite(model_dir, 40)


def test_restore_before_the_first_checkpoint_goes_back_to_step_zero(tmp_path):
    result, lines, model_dir = _run(tmp_path, "restore", poison_loss_at=[3], train_steps=20)
    assert any(line.startswith(f"the training loss is nan at step 10; restored {model_dir}/ckpt-0 (step 0)")
               for line in lines), lines
    assert result.final_step == 20


def test_restore_gives_up_after_three_attempts(tmp_path):
    with pytest.raises(NonFiniteLossError) as error:
        _run(tmp_path, "restore", poison_loss_at=range(25, 100))
    assert str(error.value) == (f"the training loss is nan at step 30 after 3 restores of "
                                f"{tmp_path}/run/ckpt-20 (learning rate scaled down to 0.125); giving up "
                                "(--on_nan=restore)")


@pytest.mark.parametrize("strategy_name", ["default", "mirrored"])
def test_a_nan_on_one_replica_skips_the_step_on_every_replica(strategy_name):
    from training.nan_policy import apply_when_finite

    strategy = tf.distribute.get_strategy()
    if strategy_name == "mirrored":
        # Not the default collective all-reduce: every MirroredStrategy in a process numbers its
        # collectives from the same keys, and TensorFlow remembers each key's shape, so a test
        # reducing other shapes than an earlier test's strategy fails (order-dependent).
        devices = [device.name for device in tf.config.list_logical_devices("CPU")[:2]]
        strategy = tf.distribute.MirroredStrategy(
            devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        weights = tf.Variable(tf.ones(3))
        optimizer = keras.optimizers.SGD(0.5)
        optimizer.build([weights])
        skipped = tf.Variable(0, dtype=tf.int64, aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def step(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(weights * inputs)
        apply_when_finite(optimizer, tape.gradient(loss, [weights]), [weights], skipped)

    @tf.function
    def train(batches):
        for batch in batches:
            strategy.run(step, args=(batch,))

    inputs = np.ones((8, 3), np.float32)
    inputs[2, 0] = np.nan  # Global step 2 (rows 2-3 in the mirrored case): one replica's half.
    rows = 2 if strategy_name == "mirrored" else 1
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(inputs).batch(rows))
    train(batches)
    steps = len(inputs) // rows
    assert int(skipped.numpy()) == 1 and int(optimizer.iterations.numpy()) == steps - 1
    # Each applied step moves every weight by -0.5 times the summed gradient of its rows.
    np.testing.assert_allclose(weights.numpy(), 1.0 - 0.5 * (steps - 1) * rows, rtol=1e-6)
    for replica_value in strategy.experimental_local_results(weights):
        np.testing.assert_array_equal(replica_value.numpy(), weights.numpy())
