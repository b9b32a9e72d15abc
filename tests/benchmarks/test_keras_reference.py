"""The stock-Keras models `fit` is timed on compute what tapecraft's models compute."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.keras_reference import REFERENCES, create_reference_model, has_reference
from benchmarks.workloads import WORKLOADS, create_model, synthetic_examples


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_reference_equals_the_tapecraft_model_given_its_weights(name):
    # A smaller input keeps the CNN cheap; the layers do not depend on the resolution.
    workload = WORKLOADS[name]
    if name == "cifar_cnn":
        workload = dataclasses.replace(workload, input_shape=(8, 8, 3))
    tapecraft_model = create_model(workload)
    reference = create_reference_model(workload)
    inputs, _ = synthetic_examples(workload, 4)
    tapecraft_model(inputs[:1])
    assert [w.shape for w in reference.weights] == [w.shape for w in tapecraft_model.weights]
    assert reference.count_params() == tapecraft_model.count_params()

    tapecraft_model.set_weights([np.random.RandomState(i).normal(size=w.shape).astype("float32") ** 2 + 0.5
                                 for i, w in enumerate(tapecraft_model.weights)])
    reference.set_weights(tapecraft_model.get_weights())
    logits = reference(inputs, training=False)
    np.testing.assert_allclose(logits.numpy(), tapecraft_model(inputs, training=False).numpy(),
                               rtol=1e-4, atol=1e-4)
    assert logits.dtype == tf.float32


def test_only_the_bar_workloads_have_references():
    assert has_reference(WORKLOADS["mlp"]) and has_reference(WORKLOADS["cifar_cnn"])
    assert not has_reference(WORKLOADS["resnet20"])
    with pytest.raises(KeyError):
        create_reference_model(WORKLOADS["resnet20"])


def test_the_reference_trains_under_a_mixed_policy():
    workload = dataclasses.replace(WORKLOADS["cifar_cnn"], input_shape=(8, 8, 3))
    from core.precision import precision_scope

    with precision_scope("mixed_bfloat16"):
        model = create_reference_model(workload)
    inputs, labels = synthetic_examples(workload, 4)
    with tf.GradientTape() as tape:
        logits = model(inputs, training=True)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    assert logits.dtype == tf.float32
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))
