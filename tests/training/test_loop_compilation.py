"""The whole loop compiled by XLA (compile_loop) trains exactly as the XLA step run step by step."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.data import training_dataset
from core.data.synthetic import load_synthetic
from core.devices import DeviceInfo
from layers.models import MLP
from training.jit import resolve_jit_compile, resolve_loop_compilation
from training.loop import make_train_loop
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

BATCH = 16
CPU = DeviceInfo("cpu", "test CPU", 1)
GPU = DeviceInfo("gpu", "test GPU", 1, (8, 0))


def _setup(compile_loop, accumulate=1):
    """An MLP with dropout (its seed state must advance once per step), SGD, and a seeded stream."""
    keras.utils.set_random_seed(0)
    data = load_synthetic(input_shape=(4, 4, 1), num_examples=256, seed=0)
    model = MLP(data.num_classes, hidden_units=(32,), dropout=0.25)
    model(tf.zeros((1, 4, 4, 1)))
    # SGD keeps the comparison tight: Adam divides tiny gradients by their own size and turns a
    # rounding difference between two XLA programs into a full-size step.
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    metrics = TaskMetrics("train", CLASSIFICATION)
    step = make_train_step(CLASSIFICATION, model, optimizer, metrics, BATCH, grad_accum_steps=accumulate)
    loop = make_train_loop(step, tf.distribute.get_strategy(), True, compile_loop=compile_loop)
    iterator = iter(training_dataset(data.train, data.num_examples["train"], BATCH, seed=0))
    return model, optimizer, metrics, loop, iterator


@pytest.mark.parametrize("accumulate", [1, 2])
def test_compiled_loop_gives_the_weights_of_single_xla_steps(accumulate):
    model_a, optimizer_a, metrics_a, loop_a, iterator_a = _setup(compile_loop=True, accumulate=accumulate)
    model_b, optimizer_b, metrics_b, loop_b, iterator_b = _setup(compile_loop=False, accumulate=accumulate)
    initial = [variable.numpy() for variable in model_a.trainable_variables]
    loop_a(iterator_a, tf.constant(6))
    for _ in range(6):
        loop_b(iterator_b, tf.constant(1))
    # Two XLA programs may fuse the same float32 arithmetic differently: 1e-6 relative to the
    # weights' scale, where one step moves them by ~1e-2.
    for a, b in zip(model_a.variables, model_b.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
    assert not np.allclose(initial[0], model_a.trainable_variables[0].numpy()), "the loop did not train"
    assert int(optimizer_a.iterations) == int(optimizer_b.iterations) == 6
    np.testing.assert_allclose(metrics_a.results()["loss"], metrics_b.results()["loss"], rtol=1e-5)
    # Both read exactly six batches: the next one is the same.
    np.testing.assert_array_equal(next(iterator_a)[0].numpy(), next(iterator_b)[0].numpy())


def test_compiled_loop_traces_once_for_every_loop_length():
    _, optimizer, _, loop, iterator = _setup(compile_loop=True)
    for steps in (5, 3, 5, 1):
        loop(iterator, tf.constant(steps))
    assert loop.experimental_get_tracing_count() == 1
    assert int(optimizer.iterations) == 14


def test_compiled_loop_needs_xla_and_one_replica():
    step = lambda batch: None  # noqa: E731 - never called.
    with pytest.raises(ValueError, match="compile_loop needs jit_compile=True"):
        make_train_loop(step, tf.distribute.get_strategy(), False, compile_loop=True)
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    two_cpus = tf.distribute.MirroredStrategy(cpus[:2])
    with pytest.raises(ValueError, match="a single replica"):
        make_train_loop(step, two_cpus, True, compile_loop=True)


@pytest.mark.parametrize("setting, jit_compile, device, replicas, expected", [
    ("auto", True, CPU, 1, True),      # A float32 model without convolutions on CPU.
    ("auto", False, CPU, 1, False),    # Convolutions or bfloat16: no XLA at all.
    ("auto", True, GPU, 1, False),     # Image batches read ahead could fill device memory.
    ("auto", True, CPU, 2, False),     # Batches are read ahead for one replica only.
    ("true", True, CPU, 1, False),     # XLA for the step only, as asked.
    ("loop", True, GPU, 1, True),
    ("loop", True, CPU, 2, False),
])
def test_loop_compilation_rule(setting, jit_compile, device, replicas, expected):
    compile_loop, reason = resolve_loop_compilation(setting, jit_compile, device, replicas)
    assert compile_loop is expected
    assert bool(reason) is expected


class TokenAverager(keras.Model):
    """Token ids -> embeddings -> mean -> logits: a gather, as in a transformer's input."""

    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(50, 8)
        self.classifier = keras.layers.Dense(10)

    def call(self, ids, training=False):
        return self.classifier(keras.ops.mean(self.embedding(keras.ops.cast(ids, "int32")), axis=1))


def test_auto_keeps_xla_for_plain_dense_networks_only_on_cpu():
    mlp, embedder = MLP(10, hidden_units=(8,)), TokenAverager()
    mlp(tf.zeros((1, 4, 4, 1)))
    embedder(tf.zeros((1, 6)))
    jit_compile, reason = resolve_jit_compile("auto", CPU, mlp, (4, 4, 1), "float32")
    assert jit_compile and "without convolutions, attention or embeddings" in reason
    jit_compile, reason = resolve_jit_compile("auto", CPU, embedder, (6,), "float32")
    assert not jit_compile and "GatherV2" in reason and "slowly on CPU" in reason
    assert resolve_jit_compile("auto", GPU, embedder, (6,), "float32")[0]


def test_loop_setting_turns_xla_on():
    model = MLP(10, hidden_units=(8,))
    model(tf.zeros((1, 4, 4, 1)))
    assert resolve_jit_compile("loop", CPU, model, (4, 4, 1), "bfloat16") == (True, "requested")
