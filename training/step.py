"""One training step and one evaluation step: the GradientTape block a reader sees whole."""

import keras
import tensorflow as tf

from training.nan_policy import apply_when_finite


def classification_loss(labels, logits):
    """Per-example cross-entropy for integer labels [B] or soft labels [B, classes] (mixup/CutMix).

    Which one is decided from the labels' static rank, when the step is traced.
    """
    if labels.shape.rank == 2:
        return keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
    return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def hard_labels(labels):
    """Integer labels [B] for accuracy: soft labels [B, classes] count as their largest class."""
    if labels.shape.rank == 2:
        return tf.argmax(labels, axis=-1, output_type=tf.int32)
    return labels


def make_train_step(model, optimizer, metrics, global_batch_size, skipped_steps=None):
    """Returns train_step(batch) for `strategy.run`: forward, loss, gradients, update, metrics.

    Args:
      model: maps images [B, H, W, C] to logits [B, classes].
      optimizer: a built Keras optimizer; a LossScaleOptimizer under mixed_float16.
      metrics: ClassificationMetrics updated with this batch's loss and predictions.
      global_batch_size: examples per step summed over replicas. Each replica's loss is its sum
        of per-example losses divided by this, so the gradients that replicas all-reduce (sum)
        equal the gradient of the mean loss over the global batch.
      skipped_steps: for `--on_nan=skip`, an int64 variable: a step whose loss or gradients are
        not finite then changes nothing but this count (training/nan_policy.py).
    """

    def train_step(batch):
        images, labels = batch
        with tf.GradientTape() as tape:
            # Logits go to float32 before softmax: float16's max (65504) overflows exp().
            logits = tf.cast(model(images, training=True), tf.float32)
            per_example_loss = classification_loss(labels, logits)
            loss = tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)
            if model.losses:  # Regularizers added by layers, split over replicas like the loss.
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            # Under float16 this multiplies by the dynamic loss scale; otherwise it is the identity.
            scaled_loss = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, model.trainable_variables)

        def update_metrics():
            metrics.update(tf.reduce_mean(per_example_loss), hard_labels(labels), logits)

        if skipped_steps is None:
            # A LossScaleOptimizer unscales here and skips the update when any gradient is inf/NaN.
            optimizer.apply(gradients, model.trainable_variables)
            update_metrics()
        else:
            applied = apply_when_finite(optimizer, gradients, model.trainable_variables, loss, skipped_steps)
            tf.cond(applied, update_metrics, lambda: None)

    return train_step


def make_eval_step(model, metrics):
    """Returns eval_step(batch): inference-mode forward pass (BatchNorm uses moving statistics)."""

    def eval_step(batch):
        images, labels = batch
        logits = tf.cast(model(images, training=False), tf.float32)
        per_example_loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        metrics.update(tf.reduce_mean(per_example_loss), labels, logits)

    return eval_step
