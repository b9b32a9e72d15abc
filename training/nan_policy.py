"""What a run does when its loss or weights stop being finite (`--on_nan=stop|skip|restore`).

- stop: end the run with an error at the loop boundary where the loop's mean loss is NaN/Inf.
- skip: inside the compiled step, a step whose gradients are not finite on any replica changes
  nothing (no weight, slot, EMA or iteration update), and a NaN/Inf loss stays out of the loss
  and accuracy means; skipped steps are counted and logged. If every step of a loop is skipped,
  skipping cannot help: stop. Under float16 the LossScaleOptimizer already skips such steps (and
  halves its scale, as overflowing gradients need); it is left to, its skips are counted, and
  once the scale falls below 1 overflow is no longer the cause: stop.
- restore: reload the newest checkpoint (weights, optimizer, step, data position), multiply
  the learning rate by RESTORE_LEARNING_RATE_FACTOR, and train on; after RESTORE_ATTEMPTS
  restores with no checkpoint written in between, stop.

In every mode a checkpoint is never written from weights holding NaN or Inf
(core/checkpointing.py refuses), so the newest checkpoint is always a good one.
"""

import keras
import tensorflow as tf

NAN_POLICIES = ("stop", "skip", "restore")
RESTORE_LEARNING_RATE_FACTOR = 0.5
RESTORE_ATTEMPTS = 3


class NonFiniteLossError(FloatingPointError):
    """Training produced NaN or Inf and the `--on_nan` policy gives up; the message says where."""


class ScaledLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate (float or schedule) times a variable scale that `restore` lowers.

    The scale is 1.0 unless a restore lowered it, and multiplying by 1.0 is exact, so an
    untroubled run trains bit for bit as with the bare learning rate. The scale variable is
    checkpointed: a resumed run keeps the lowered rate.
    """

    def __init__(self, learning_rate, scale: tf.Variable):
        self.learning_rate = learning_rate
        self.scale = scale

    def __call__(self, step):
        rate = self.learning_rate(step) if callable(self.learning_rate) else self.learning_rate
        return self.scale * tf.cast(rate, self.scale.dtype)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "scale": float(self.scale.numpy())}


def apply_when_finite(optimizer, gradients, variables, skipped_steps):
    """Applies `gradients` only when they are finite on every replica, else counts a skipped step.

    A LossScaleOptimizer skips such steps itself and must see them, to halve its scale when
    float16 gradients overflowed; it applies, and a step it skipped (its `iterations` unchanged)
    is counted.

    Args:
      optimizer: a built Keras optimizer.
      gradients: this replica's gradients, one per variable (None for no gradient).
      variables: the trainable variables.
      skipped_steps: an int64 variable counting skipped steps, created with aggregation
        ONLY_FIRST_REPLICA (replicas agree on skipping).
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        updates_before = tf.identity(optimizer.iterations)
        optimizer.apply(gradients, variables)
        skipped_steps.assign_add(tf.cast(tf.equal(optimizer.iterations, updates_before), tf.int64))
        return
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(gradient)) for gradient in gradients
                            if gradient is not None])
    replica_context = tf.distribute.get_replica_context()
    # One replica's NaN skips the step on all of them, or their weights would drift apart.
    non_finite_replicas = replica_context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(~finite, tf.int32))
    all_finite = tf.equal(non_finite_replicas, 0)

    def update_or_skip(strategy, gradients, all_finite):
        # The optimizer merges across replicas inside `apply`; a cond around such a call is only
        # allowed in the cross-replica context (as Keras' LossScaleOptimizer does it).
        all_finite = strategy.experimental_local_results(all_finite)[0]

        def apply():
            strategy.extended.call_for_each_replica(
                lambda replica_gradients: optimizer.apply(replica_gradients, variables), args=(gradients,))

        def skip():
            skipped_steps.assign_add(1)

        tf.cond(all_finite, apply, skip)

    replica_context.merge_call(update_or_skip, args=(gradients, all_finite))


class NonFiniteHandler:
    """The host side of the policy, called at loop boundaries.

    Args:
      policy: one of NAN_POLICIES.
      checkpoint: the run's TrainingCheckpoint.
      learning_rate_scale: the scale variable of the run's ScaledLearningRate.
      global_step: the run's step variable (restored with the checkpoint).
      log: where lines go.
    """

    def __init__(self, policy, checkpoint, learning_rate_scale, global_step, log):
        self.policy = policy
        self.checkpoint = checkpoint
        self.learning_rate_scale = learning_rate_scale
        self.global_step = global_step
        self.log = log
        self.attempts = 0

    def recover(self, step: int, problem: str) -> int:
        """Handles NaN/Inf found at the boundary `step`; returns the step training continues from.

        Args:
          step: the step the last loop ended at.
          problem: what is not finite, e.g. "the training loss is nan".

        Raises:
          NonFiniteLossError: unless the policy is `restore` and attempts remain.
        """
        newest = self.checkpoint.latest_path
        if self.policy != "restore":
            kept = (f"the newest checkpoint, {newest}, holds finite weights" if newest
                    else "no checkpoint was written")
            raise NonFiniteLossError(
                f"{problem} at step {step} (--on_nan={self.policy}); {kept}. Try a lower --learning_rate, "
                "or --on_nan=restore to reload the last checkpoint and go on")
        scale = float(self.learning_rate_scale.numpy()) * RESTORE_LEARNING_RATE_FACTOR
        if self.attempts == RESTORE_ATTEMPTS:
            raise NonFiniteLossError(
                f"{problem} at step {step} after {RESTORE_ATTEMPTS} restores of {newest} (learning rate "
                f"scaled down to {scale / RESTORE_LEARNING_RATE_FACTOR:g}); giving up (--on_nan=restore)")
        self.attempts += 1
        path = self.checkpoint.restore_latest(self.log)
        self.learning_rate_scale.assign(scale)
        restored_step = int(self.global_step.numpy())
        self.log(f"{problem} at step {step}; restored {path} (step {restored_step}) and scaled the learning "
                 f"rate by {scale:g} (restore {self.attempts} of {RESTORE_ATTEMPTS}, --on_nan=restore)")
        return restored_step

    def checkpoint_saved(self):
        """A good checkpoint after a restore means the run got past the trouble."""
        self.attempts = 0

    def report_skipped(self, step: int, steps: int, skipped: int, loss_scale=None):
        """Logs the steps `skip` dropped in the last loop of `steps` steps.

        Args:
          step: the step the loop ended at.
          steps: the loop's length.
          skipped: how many of its steps were skipped.
          loss_scale: the float16 loss scale after the loop, or None without loss scaling.

        Raises:
          NonFiniteLossError: when every step of the loop was skipped (without loss scaling), or
            the loss scale fell below 1.
        """
        if not skipped:
            return
        if loss_scale is not None and loss_scale < 1:
            raise NonFiniteLossError(
                f"the float16 loss scale fell to {loss_scale:g} by step {step}, skipping {skipped} of "
                f"{steps} steps: the gradients are NaN/Inf for another reason than overflow (--on_nan=skip); "
                "check the data for NaN/Inf, or lower --learning_rate")
        if skipped == steps and loss_scale is None:
            raise NonFiniteLossError(
                f"all {steps} steps before step {step} had a non-finite loss or gradient and were skipped "
                "(--on_nan=skip); check the data for NaN/Inf, or lower --learning_rate")
        self.log(f"step {step}: skipped {skipped} of {steps} steps with a non-finite loss or gradient "
                 "(--on_nan=skip)")
