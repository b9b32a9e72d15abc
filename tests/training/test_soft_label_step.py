"""The train step takes integer labels [B] or soft labels [B, classes] (mixup/CutMix)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.metrics import TaskMetrics
from training.step import make_train_step
from training.tasks.image_classification import ImageClassification, classification_loss, hard_labels

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.


def test_one_hot_soft_labels_give_the_sparse_loss():
    logits = tf.constant(np.random.RandomState(0).standard_normal((6, 4)), tf.float32)
    labels = tf.constant([0, 3, 1, 1, 2, 0])
    np.testing.assert_allclose(classification_loss(tf.one_hot(labels, 4), logits),
                               classification_loss(labels, logits), rtol=1e-6)


def test_soft_loss_is_cross_entropy_against_the_mixture():
    logits = tf.constant([[2.0, 0.0, -1.0]])
    soft = tf.constant([[0.7, 0.3, 0.0]])
    log_probabilities = np.log(np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum())
    np.testing.assert_allclose(classification_loss(soft, logits), [-(0.7 * log_probabilities[0] +
                                                                     0.3 * log_probabilities[1])], rtol=1e-6)
    np.testing.assert_array_equal(hard_labels(tf.constant([[0.2, 0.8], [0.6, 0.4]])), [1, 0])


@pytest.mark.parametrize("soft", [False, True])
def test_train_step_updates_metrics_from_either_label_kind(soft):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
    images = tf.constant(np.random.RandomState(1).standard_normal((8, 2, 2, 1)), tf.float32)
    labels = tf.constant([0, 1, 2, 0, 1, 2, 0, 1])
    model(images)
    optimizer = keras.optimizers.SGD(0.0)  # No update: the metrics can be checked against the same logits.
    optimizer.build(model.trainable_variables)
    metrics = TaskMetrics("train", CLASSIFICATION)
    step = tf.function(make_train_step(CLASSIFICATION, model, optimizer, metrics, global_batch_size=8))
    step((images, tf.one_hot(labels, 3) * 0.9 + 0.1 / 3 if soft else labels))

    logits = model(images).numpy()
    expected_accuracy = np.mean(np.argmax(logits, axis=1) == labels.numpy())
    results = metrics.results()
    np.testing.assert_allclose(results["accuracy"], expected_accuracy, rtol=1e-6)
    expected_loss = np.mean(classification_loss(tf.one_hot(labels, 3) * 0.9 + 0.1 / 3 if soft else labels,
                                                tf.constant(logits)))
    np.testing.assert_allclose(results["loss"], expected_loss, rtol=1e-5)
