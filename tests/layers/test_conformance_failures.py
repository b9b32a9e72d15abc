"""The conformance kit catches broken layers, each with one message naming the check and the numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layers.conformance import CHECKS, ConformanceError, check_layer
from layers.conformance import distribution as distribution_check


class WeightInCall(keras.layers.Layer):
    """Creates its weight in call() instead of build()."""

    def call(self, inputs):
        scale = self.add_weight(shape=(inputs.shape[-1],), initializer="ones", name="scale")
        return inputs * scale


class Float16Softmax(keras.layers.Layer):
    """A hand-written softmax exp(x) / sum(exp(x)) in the compute dtype: e^12 overflows float16."""

    def build(self, input_shape):
        self.temperature = self.add_weight(shape=(), initializer=keras.initializers.Constant(8.0),
                                           name="temperature")

    def call(self, inputs):
        exponentials = keras.ops.exp(inputs * self.temperature)
        return exponentials / keras.ops.sum(exponentials, axis=-1, keepdims=True)


class RetracingWarmup(keras.layers.Layer):
    """Counts its calls in Python and passes the count to a tf.function, which retraces per value."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, inputs):
        self.calls += 1
        return self.warm_up(inputs, self.calls)

    @tf.function
    def warm_up(self, inputs, step):
        # Always 1 after the first call, so outputs agree; only the tracing count shows the bug.
        return inputs * tf.cast(tf.minimum(1.0, float(step)), inputs.dtype)


class UntrackedBlocks(keras.Model):
    """Keeps its layers only in a list: Keras 3 leaves them out of tf.train.Checkpoint."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [keras.layers.Dense(4, name=f"dense{i}") for i in range(2)]

    def call(self, inputs):
        for block in self.blocks:
            inputs = block(inputs)
        return inputs


class FrozenCounter(keras.layers.Layer):
    """Scales by a Python counter: eager calls see 1, 2, 3...; a traced function freezes one value."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, inputs):
        self.calls += 1
        return inputs * float(self.calls)


class ForgottenConfig(keras.layers.Layer):
    """Defines get_config but leaves out the `units` constructor argument."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = keras.layers.Dense(units)

    def call(self, inputs):
        return self.dense(inputs)

    def get_config(self):
        return super().get_config()


def _failures(layer_factory, input_shape=(4, 16), **arguments):
    with pytest.raises(ConformanceError) as caught:
        check_layer(layer_factory, input_shape, **arguments)
    return caught.value


def test_weight_created_in_call_fails_build_and_stops():
    error = _failures(WeightInCall)
    assert error.checks == ("build",)
    assert "WeightInCall" in str(error) and "add_weight() in build()" in str(error)
    # The other checks did not run, and the report says so rather than leaving them out.
    assert error.report.ran == ("build",)
    assert set(error.report.skipped) == set(CHECKS) - {"build"}
    assert set(error.report.skipped.values()) == {"the build check failed"}


def test_float16_softmax_overflow_fails_mixed_float16_only():
    error = _failures(Float16Softmax)
    assert error.checks == ("mixed_precision",)
    (failure,) = error.failures
    assert "under mixed_float16" in failure.message and "NaN or infinite" in failure.message


def test_python_value_passed_to_a_tf_function_fails_retracing():
    error = _failures(RetracingWarmup)
    assert error.checks == ("retracing",)
    assert "traced 1 more time(s)" in str(error)


def test_layers_kept_only_in_a_list_fail_checkpoint():
    error = _failures(UntrackedBlocks, checks=["checkpoint"])
    assert error.checks == ("checkpoint",)
    assert "dense0/kernel" in str(error) and "track_layers" in str(error)


def test_python_side_effect_frozen_by_tracing_fails_tf_function():
    error = _failures(FrozenCounter, checks=["tf_function"], precisions=["float32"])
    assert error.checks == ("tf_function",)
    assert "tf.function output vs eager output under float32" in str(error)


def test_missing_config_key_fails_config():
    error = _failures(lambda: ForgottenConfig(units=3), checks=["config"])
    assert error.checks == ("config",)
    # units falls back to its default (4) in the rebuilt layer.
    assert "output shape (4, 4) differs from the original's (4, 3)" in str(error)


def test_distribution_after_tensorflow_started_with_one_cpu_says_how_to_enable_two(monkeypatch):
    """TensorFlow already initialized with one CPU: the kit cannot split it and says what to do.
    (A fresh process, where the kit splits it itself: test_conformance_fresh_process.py.)"""
    one_cpu = tf.config.list_logical_devices("CPU")[:1]
    monkeypatch.setattr(distribution_check.tf.config, "list_logical_devices",
                        lambda kind=None: one_cpu if kind == "CPU" else [])
    attempts = []

    def already_initialized(count):
        attempts.append(count)
        raise RuntimeError("cannot split the CPU: TensorFlow is already initialized")

    monkeypatch.setattr(distribution_check, "configure_logical_cpus", already_initialized)
    error = _failures(lambda: keras.layers.Dense(3), checks=["distribution"])
    assert attempts == [2]  # The kit tried to split the CPU before failing.
    assert error.checks == ("distribution",)
    assert "TensorFlow started with 1 logical CPU device(s)" in str(error)
    assert "the kit could not split the CPU itself" in str(error)
    assert "core.distribution.configure_logical_cpus(2)" in str(error)
    assert "before TensorFlow initializes" in str(error)


def test_a_correct_user_layer_passes_with_integer_inputs():
    class Lookup(keras.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(50, 4), name="table")

        def call(self, ids):
            return keras.ops.take(self.table, ids, axis=0)

    check_layer(Lookup, (4, 6), input_dtype="int32",
                input_factory=lambda seed: np.random.default_rng(seed).integers(0, 50, (4, 6)))


def test_unknown_check_names_are_refused():
    with pytest.raises(ValueError, match="unknown check or precision \\['xla_compile'\\]"):
        check_layer(lambda: keras.layers.Dense(3), (2, 4), checks=["xla_compile"])
    assert "xla" in CHECKS
