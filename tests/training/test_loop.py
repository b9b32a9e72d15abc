"""The compiled multi-step loop: same math as single steps, XLA agrees, no retracing."""

import numpy as np
import pytest
import tensorflow as tf

from core.data import training_dataset
from core.data.synthetic import load_synthetic
from layers.registry import create_model
from training.loop import make_train_loop
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.optimizers import create_optimizer
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

BATCH = 16


def _setup(model_name, jit_compile, seed=0):
    """A model, its optimizer and a compiled loop over a seeded synthetic stream."""
    tf.keras.utils.set_random_seed(seed)
    data = load_synthetic(input_shape=(8, 8, 1), num_examples=256, seed=seed)
    strategy = tf.distribute.get_strategy()
    model = create_model(model_name, data.num_classes)
    model(tf.zeros((1, 8, 8, 1)))
    optimizer = create_optimizer("adam", 1e-2)
    optimizer.build(model.trainable_variables)
    metrics = TaskMetrics("train", CLASSIFICATION)
    loop = make_train_loop(make_train_step(CLASSIFICATION, model, optimizer, metrics, BATCH), strategy, jit_compile)
    iterator = iter(training_dataset(data.train, data.num_examples["train"], BATCH, seed))
    return model, loop, iterator


def _weights(model):
    return [v.numpy() for v in model.variables]


@pytest.mark.parametrize("model_name", ["mlp", "small_cnn"])
def test_one_loop_of_k_steps_equals_k_single_step_loops(model_name):
    k = 6
    model_a, loop_a, iterator_a = _setup(model_name, jit_compile=False)
    loop_a(iterator_a, tf.constant(k))
    model_b, loop_b, iterator_b = _setup(model_name, jit_compile=False)
    for _ in range(k):
        loop_b(iterator_b, tf.constant(1))
    for a, b in zip(_weights(model_a), _weights(model_b)):
        np.testing.assert_array_equal(a, b)


def test_xla_and_graph_steps_agree_after_several_steps():
    # Fused XLA kernels reorder float32 sums; after 8 Adam steps the drift stays ~1e-6 relative.
    model_graph, loop_graph, iterator_graph = _setup("mlp", jit_compile=False)
    model_xla, loop_xla, iterator_xla = _setup("mlp", jit_compile=True)
    initial = _weights(model_xla)
    loop_graph(iterator_graph, tf.constant(8))
    loop_xla(iterator_xla, tf.constant(8))
    for a, b in zip(_weights(model_graph), _weights(model_xla)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(initial[0], _weights(model_xla)[0]), "the steps did not train"


@pytest.mark.parametrize("jit_compile", [False, True])
def test_loop_traces_once_across_loops_of_different_lengths(jit_compile):
    _, loop, iterator = _setup("mlp", jit_compile)
    for steps in (5, 3, 5, 1, 2):
        loop(iterator, tf.constant(steps))
    assert loop.experimental_get_tracing_count() == 1
