"""Every private Keras / TensorFlow API tapecraft reads, checked loudly, and the fallback each takes.

When a release changes one of these, the first group of tests fails with a message naming the
private name, the file that reads it, and what runs do meanwhile (each falls back by itself; the
second group proves that it does, and that it says so once).
"""

import logging

import keras
import numpy as np
import pytest
import tensorflow as tf


from core import determinism, replica_agreement
from tests.training.test_fused_optimizers import train_small_model
from training import fused_optimizers
from training.fused_optimizers import FusedAdam, FusedAdamW, FusedSGD, keras_slots

VERSIONS = f"Keras {keras.__version__} / TensorFlow {tf.__version__}"


def _dense_weights():
    layer = keras.layers.Dense(3)
    layer.build((None, 5))
    return layer.trainable_variables  # kernel [5, 3], bias [3]


@pytest.mark.parametrize("optimizer, slot_lists", [
    (keras.optimizers.Adam(), fused_optimizers.ADAM_SLOTS),
    (keras.optimizers.AdamW(), fused_optimizers.ADAM_SLOTS),
    (keras.optimizers.SGD(momentum=0.9), fused_optimizers.SGD_SLOTS),
], ids=["adam", "adamw", "sgd"])
def test_keras_optimizer_slots_are_where_the_fused_update_reads_them(optimizer, slot_lists, caplog):
    weights = _dense_weights()
    optimizer.build(weights)
    where = (f"{VERSIONS} changed {type(optimizer).__name__}'s private "
             f"{fused_optimizers.VARIABLE_INDEX} / {', '.join(slot_lists)}, which training/fused_optimizers.py "
             f"reads: runs now fall back to Keras' own update_step (slower); update keras_slots")
    assert hasattr(optimizer, fused_optimizers.VARIABLE_INDEX), where
    for name in slot_lists:
        assert hasattr(optimizer, name), where
    with caplog.at_level(logging.WARNING):
        for weight in weights:
            slots = keras_slots(optimizer, weight, slot_lists)
            assert slots is not None, where
            # The slot found is the optimizer's own variable for this weight, not another weight's.
            assert all(tuple(slot.shape) == tuple(weight.shape) for slot in slots), where
            assert all(any(slot is variable for variable in optimizer.variables) for slot in slots), where
    assert not caplog.records, where


def test_tensorflow_op_determinism_switches_are_where_core_determinism_reads_them():
    from tensorflow.python.framework import config as framework_config

    where = (f"{VERSIONS} moved tensorflow.python.framework.config.is_op_determinism_enabled / "
             f"disable_op_determinism, which core/determinism.py reads: runs with --deterministic now leave "
             f"op determinism on for the rest of the process")
    assert callable(getattr(framework_config, "is_op_determinism_enabled", None)), where
    assert callable(getattr(framework_config, "disable_op_determinism", None)), where
    was_enabled = determinism.is_op_determinism_enabled()
    try:
        tf.config.experimental.enable_op_determinism()
        assert determinism.is_op_determinism_enabled() is True, where
        assert determinism.disable_op_determinism() is True, where
        assert determinism.is_op_determinism_enabled() is False, where
    finally:
        if was_enabled:
            tf.config.experimental.enable_op_determinism()


def test_keras_layers_have_the_nested_walk_replica_agreement_uses():
    where = (f"{VERSIONS} dropped Layer._flatten_layers, which core/replica_agreement.py uses to leave "
             f"frozen layers out of the cross-replica average: runs now average them too (harmless, slower)")
    assert callable(getattr(keras.layers.Layer, "_flatten_layers", None)), where
    inner = keras.Sequential([keras.layers.Input((4,)), keras.layers.BatchNormalization(name="frozen_norm")])
    inner.trainable = False
    model = keras.Sequential([keras.layers.Input((4,)), inner, keras.layers.BatchNormalization(name="norm")])
    names = {layer.name for layer in replica_agreement._nested_layers(model)}
    assert {"frozen_norm", "norm"} <= names, where  # Nested layers too, not only the top level.
    state = {_layer_path(v) for v in replica_agreement.replica_local_state(model)}
    assert state == {"norm/moving_mean", "norm/moving_variance"}, where


def _layer_path(variable):
    return variable.path.split("/", 1)[1]  # "sequential_3/norm/moving_mean" -> "norm/moving_mean".


def _train(optimizer, steps=4):
    """Weights and optimizer state after `steps` updates of test_fused_optimizers' small model."""
    model, optimizer = train_small_model(optimizer, steps=steps)
    return [w.numpy() for w in model.weights + optimizer.variables]


@pytest.mark.parametrize("make_fused, make_keras, constant", [
    (lambda: FusedAdam(0.01), lambda: keras.optimizers.Adam(0.01), "ADAM_SLOTS"),
    (lambda: FusedAdamW(0.01, weight_decay=0.1), lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
     "ADAM_SLOTS"),
    (lambda: FusedSGD(0.05, momentum=0.9, nesterov=True), lambda: keras.optimizers.SGD(0.05, momentum=0.9,
                                                                                       nesterov=True),
     "SGD_SLOTS"),
    (lambda: FusedAdam(0.01), lambda: keras.optimizers.Adam(0.01), "VARIABLE_INDEX"),
], ids=["adam", "adamw", "sgd", "no_index"])
def test_fused_optimizers_fall_back_to_keras_update_and_say_so_once(make_fused, make_keras, constant,
                                                                     monkeypatch, caplog):
    # A Keras whose private names differ: the lookup finds nothing, Keras' own update (which uses
    # Keras' real names) must run instead, with identical results, and the run must say so once.
    renamed = "_renamed_by_a_future_keras"
    value = renamed if constant == "VARIABLE_INDEX" else (renamed,) * len(getattr(fused_optimizers, constant))
    monkeypatch.setattr(fused_optimizers, constant, value)
    monkeypatch.setattr(fused_optimizers, "_FALLBACKS_LOGGED", set())
    with caplog.at_level(logging.WARNING):
        fused = _train(make_fused())
    expected = _train(make_keras())
    for got, want in zip(fused, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    warnings = [record.getMessage() for record in caplog.records if "private optimizer slots" in record.getMessage()]
    assert len(warnings) == 1, warnings  # Four weights, four steps: one line.
    assert renamed in warnings[0] and "Keras' own update_step" in warnings[0]


def test_determinism_without_the_private_switches_trains_on_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(determinism, "_framework_config", object())
    monkeypatch.setattr(determinism, "_missing_logged", [])
    with caplog.at_level(logging.WARNING):
        assert determinism.is_op_determinism_enabled() is False
        assert determinism.disable_op_determinism() is False
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "stays on for the rest of this process" in warnings[0], warnings


def test_replica_state_without_the_nested_walk_averages_frozen_statistics_too(monkeypatch, caplog):
    inner = keras.Sequential([keras.layers.Input((4,)), keras.layers.BatchNormalization(name="frozen_norm")])
    inner.trainable = False
    model = keras.Sequential([keras.layers.Input((4,)), inner, keras.layers.BatchNormalization(name="norm")])
    monkeypatch.setattr(keras.layers.Layer, "_flatten_layers", None)
    monkeypatch.setattr(replica_agreement, "_FALLBACK_LOGGED", [])
    with caplog.at_level(logging.WARNING):
        state = {_layer_path(v) for v in replica_agreement.replica_local_state(model)}
        replica_agreement.replica_local_state(model)
    # The frozen layer's weights are non-trainable too: identical on every replica, averaged for nothing.
    assert state == {"norm/moving_mean", "norm/moving_variance", "frozen_norm/moving_mean",
                     "frozen_norm/moving_variance", "frozen_norm/gamma", "frozen_norm/beta"}
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "_flatten_layers" in warnings[0], warnings
