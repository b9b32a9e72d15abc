"""One training step and one evaluation step of any task: the GradientTape block a reader sees whole.

The task says what the loss of a batch is (`task.compute_loss`, training/task.py); the step does
what every objective needs done right: the loss averaged over the global batch, scaled under
float16, micro-batches accumulated, the replicas' overflow vote, clipping, the NaN policy, the
update and the weights' moving average. A task that writes its own step uses the same pieces
through `StepTools`.
"""

import tensorflow as tf

from core.precision import loss_scale_of
from core.replica_agreement import share_overflow
from training.accumulation import accumulate_gradients
from training.clipping import clip_by_global_norm
from training.nan_policy import apply_when_finite
from training.task import TaskError


class StepTools:
    """The framework's parts of a training step, for the default step and a task's own.

    Args:
      optimizers: {name: built optimizer}; a LossScaleOptimizer each under mixed_float16.
      metrics: the TaskMetrics the step updates.
      global_batch_size: examples per step summed over replicas. Each replica's loss is its sum
        of per-example losses divided by this, so the gradients that replicas all-reduce (sum)
        equal the gradient of the mean loss over the global batch.
      clip_grad_norm: bound on the global norm of the unscaled gradient; 0 disables clipping.
      gradient_norm: a keras.metrics.Mean given the unscaled global norm (before clipping) of
        every update whose gradients are finite, when clipping; or None.
      skipped_steps: for `--on_nan=skip`, an int64 variable counting skipped updates: an update
        whose gradients are not finite then changes nothing (training/nan_policy.py); or None.
    """

    def __init__(self, optimizers, metrics, global_batch_size, clip_grad_norm=0.0, gradient_norm=None,
                 skipped_steps=None):
        self.optimizers = dict(optimizers)
        self.metrics = metrics
        self.global_batch_size = global_batch_size
        self.clip_grad_norm = clip_grad_norm
        self.gradient_norm = gradient_norm
        self.skipped_steps = skipped_steps

    def average_loss(self, per_example_loss, model=None, num_micro_batches=1):
        """The replica's share of the global batch's mean loss, plus `model`'s regularization losses
        (added by layers) split over replicas and micro-batches."""
        if per_example_loss.shape.rank != 1:
            raise TaskError(f"compute_loss returned a loss of shape {per_example_loss.shape}; it must be "
                            "one loss per example, [batch] (average over tokens or pixels first)")
        loss = tf.nn.compute_average_loss(per_example_loss, global_batch_size=self.global_batch_size)
        if model is not None and model.losses:
            loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses)) / num_micro_batches
        return loss

    def scale_loss(self, loss, optimizer):
        """Under float16, the loss times the dynamic loss scale; otherwise the loss itself."""
        return optimizer.scale_loss(loss)

    def update_metrics(self, batch, outputs, per_example_loss, loss=None):
        """Adds the batch to the running metrics; under `--on_nan=skip` a NaN/Inf `loss` stays out."""
        if self.skipped_steps is None or loss is None:
            self.metrics.update(batch, outputs, per_example_loss)
        else:
            tf.cond(tf.math.is_finite(loss), lambda: self.metrics.update(batch, outputs, per_example_loss),
                    lambda: None)

    def apply_gradients(self, optimizer, gradients, variables):
        """The overflow vote, clipping and the NaN policy, then the update.

        `gradients` are of the loss `scale_loss` returned, one per variable (None for none).
        """
        gradients = list(gradients)
        loss_scale = loss_scale_of(optimizer)
        if loss_scale is not None and not self.clip_grad_norm:
            # Replicas must agree on skipping an overflowed step (core/replica_agreement.py);
            # clipping already makes them agree, its norm being summed over replicas.
            gradients = share_overflow(gradients)
        if self.clip_grad_norm:
            # Clipped as if unscaled: the bound is multiplied by the loss scale (training/clipping.py).
            gradients, norm = clip_by_global_norm(gradients, self.clip_grad_norm, loss_scale)
            if self.gradient_norm is not None:  # Skipped steps' inf/NaN norms would poison the mean.
                finite = tf.cast(tf.math.is_finite(norm), tf.float32)
                self.gradient_norm.update_state(tf.math.multiply_no_nan(norm, finite), sample_weight=finite)
        if self.skipped_steps is None:
            # A LossScaleOptimizer unscales here and skips the update when any gradient is inf/NaN,
            # leaving weights, slots and `iterations` (which the learning-rate schedule reads) unchanged.
            optimizer.apply(gradients, variables)
        else:
            apply_when_finite(optimizer, gradients, variables, self.skipped_steps)


def make_train_step(task, model, optimizers, metrics, global_batch_size, grad_accum_steps=1, clip_grad_norm=0.0,
                    gradient_norm=None, ema=None, skipped_steps=None):
    """Returns train_step(batch) for `strategy.run`: the task's own step, or forward, loss,
    gradients, clip, update, metrics.

    Args:
      task: supplies `compute_loss(model, batch, training)` -> (per-example loss [B], outputs),
        or its own `train_step(model, batch, tools)`.
      model: the task's model; its trainable variables are what the default step updates.
      optimizers: a built optimizer, or {name: optimizer} (the first one drives the default step).
      metrics, global_batch_size, clip_grad_norm, gradient_norm, skipped_steps: see StepTools.
      grad_accum_steps: K micro-batches the batch is split into, their gradients summed before
        one update (training/accumulation.py); 1 is a plain step.
      ema: an ExponentialMovingAverage updated after each applied update, or None.
    """
    if not isinstance(optimizers, dict):
        optimizers = {"optimizer": optimizers}
    tools = StepTools(optimizers, metrics, global_batch_size, clip_grad_norm, gradient_norm, skipped_steps)
    first_optimizer = next(iter(optimizers.values()))
    own_step = getattr(task, "train_step", None)

    def micro_batch_gradients(batch):
        with tf.GradientTape() as tape:
            per_example_loss, outputs = task.compute_loss(model, batch, training=True)
            loss = tools.average_loss(per_example_loss, model, grad_accum_steps)
            scaled_loss = tools.scale_loss(loss, first_optimizer)
        tools.update_metrics(batch, outputs, per_example_loss, loss)
        return tape.gradient(scaled_loss, model.trainable_variables)

    def train_step(batch):
        if own_step is not None:
            own_step(model, batch, tools)
        else:
            gradients = accumulate_gradients(micro_batch_gradients, batch, grad_accum_steps,
                                             model.trainable_variables)
            tools.apply_gradients(first_optimizer, gradients, model.trainable_variables)
        if ema is not None:
            ema.update(first_optimizer.iterations)

    return train_step


def make_eval_step(task, model, metrics):
    """Returns eval_step(batch): the task's loss in inference mode (BatchNorm uses moving statistics).

    The metrics receive per-example losses: under a strategy the last batches of a pass are
    uneven or empty on some replicas, and a mean of batch means would weight them wrongly.
    """

    def evaluate(batch):
        per_example_loss, outputs = task.compute_loss(model, batch, training=False)
        metrics.update(batch, outputs, per_example_loss)

    def eval_step(batch):
        # A replica handed an empty batch skips the model: TensorFlow 2.21's CPU convolutions fail
        # on zero examples after the first layer ("Incompatible shapes: [0,2,2,32] vs. [64]").
        first = tf.nest.flatten(batch)[0]
        tf.cond(tf.shape(first)[0] > 0, lambda: evaluate(batch), lambda: None)

    return eval_step
