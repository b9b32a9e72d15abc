"""One training step and one evaluation step: the GradientTape block a reader sees whole."""

import keras
import tensorflow as tf

from core.precision import loss_scale_of
from core.replica_agreement import share_overflow
from training.accumulation import accumulate_gradients
from training.clipping import clip_by_global_norm
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


def make_train_step(model, optimizer, metrics, global_batch_size, grad_accum_steps=1, clip_grad_norm=0.0,
                    gradient_norm=None, ema=None, skipped_steps=None):
    """Returns train_step(batch) for `strategy.run`: forward, loss, gradients, clip, update, metrics.

    Args:
      model: maps images [B, H, W, C] to logits [B, classes].
      optimizer: a built Keras optimizer; a LossScaleOptimizer under mixed_float16.
      metrics: ClassificationMetrics updated with this batch's loss and predictions.
      global_batch_size: examples per step summed over replicas. Each replica's loss is its sum
        of per-example losses divided by this, so the gradients that replicas all-reduce (sum)
        equal the gradient of the mean loss over the global batch.
      grad_accum_steps: K micro-batches the batch is split into, their gradients summed before
        one update (training/accumulation.py); 1 is a plain step.
      clip_grad_norm: bound on the global norm of the unscaled gradient; 0 disables clipping.
      gradient_norm: a keras.metrics.Mean given the unscaled global norm (before clipping) of
        every step whose gradients are finite, when clipping; or None.
      ema: an ExponentialMovingAverage updated after each applied update, or None.
      skipped_steps: for `--on_nan=skip`, an int64 variable counting skipped steps: a step whose
        gradients are not finite then changes nothing, and a micro-batch whose loss is not finite
        stays out of the metrics (training/nan_policy.py).
    """
    loss_scaling = loss_scale_of(optimizer) is not None

    def micro_batch_gradients(batch):
        images, labels = batch
        with tf.GradientTape() as tape:
            # Logits go to float32 before softmax: float16's max (65504) overflows exp().
            logits = tf.cast(model(images, training=True), tf.float32)
            per_example_loss = classification_loss(labels, logits)
            loss = tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)
            if model.losses:  # Regularizers added by layers: split over replicas and micro-batches.
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses)) / grad_accum_steps
            # Under float16 this multiplies by the dynamic loss scale; otherwise it is the identity.
            scaled_loss = optimizer.scale_loss(loss)

        def update_metrics():
            metrics.update(tf.reduce_mean(per_example_loss), hard_labels(labels), logits)

        if skipped_steps is None:
            update_metrics()
        else:  # --on_nan=skip: a NaN/Inf loss stays out of the running means.
            tf.cond(tf.math.is_finite(loss), update_metrics, lambda: None)
        return tape.gradient(scaled_loss, model.trainable_variables)

    def train_step(batch):
        gradients = accumulate_gradients(
            micro_batch_gradients, batch, grad_accum_steps, model.trainable_variables)
        if loss_scaling and not clip_grad_norm:
            # Replicas must agree on skipping an overflowed step (core/replica_agreement.py);
            # clipping already makes them agree, its norm being summed over replicas.
            gradients = share_overflow(gradients)
        if clip_grad_norm:
            # Clipped as if unscaled: the bound is multiplied by the loss scale (training/clipping.py).
            gradients, norm = clip_by_global_norm(gradients, clip_grad_norm, loss_scale_of(optimizer))
            if gradient_norm is not None:  # Skipped steps' inf/NaN norms would poison the mean.
                finite = tf.cast(tf.math.is_finite(norm), tf.float32)
                gradient_norm.update_state(tf.math.multiply_no_nan(norm, finite), sample_weight=finite)
        if skipped_steps is None:
            # A LossScaleOptimizer unscales here and skips the update when any gradient is inf/NaN,
            # leaving weights, slots and `iterations` (which the learning-rate schedule reads) unchanged.
            optimizer.apply(gradients, model.trainable_variables)
        else:
            apply_when_finite(optimizer, gradients, model.trainable_variables, skipped_steps)
        if ema is not None:
            ema.update(optimizer.iterations)

    return train_step


def make_eval_step(model, metrics):
    """Returns eval_step(batch): inference-mode forward pass (BatchNorm uses moving statistics).

    The metrics receive per-example losses: under a strategy the last batches of a pass are
    uneven or empty on some replicas, and a mean of batch means would weight them wrongly.
    """

    def evaluate(images, labels):
        logits = tf.cast(model(images, training=False), tf.float32)
        per_example_loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        metrics.update(per_example_loss, labels, logits)

    def eval_step(batch):
        images, labels = batch
        # A replica handed an empty batch skips the model: TensorFlow 2.21's CPU convolutions fail
        # on zero examples after the first layer ("Incompatible shapes: [0,2,2,32] vs. [64]").
        tf.cond(tf.size(labels) > 0, lambda: evaluate(images, labels), lambda: None)

    return eval_step
