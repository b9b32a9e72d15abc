"""Gradient clipping by global norm, measured on the true gradient: unscaled and summed over replicas.

Two things make the gradients a step holds differ from the gradient being clipped:

- Under float16 they are multiplied by the loss scale S. Clipping them to `max_norm * S` and
  letting the LossScaleOptimizer divide by S afterwards equals clipping the unscaled gradients
  to `max_norm`; S is a power of two, so both multiplications are exact.
- Under a multi-replica strategy each replica holds its share of the sum the optimizer
  all-reduces. The norm is taken of that sum (one extra all-reduce, only then) and every
  replica scales its share by the same factor, so the summed update is clipped as a whole.

A non-finite norm makes every clipped gradient NaN, which the LossScaleOptimizer treats as an
overflow: the step is skipped and the scale halved, as it would be without clipping.
"""

import tensorflow as tf


def global_norm(gradients):
    """sqrt(sum of squares) of the gradients summed over replicas, as a float32 scalar.

    Args:
      gradients: this replica's gradients; None entries (variables without a gradient) are skipped.
    """
    gradients = [gradient for gradient in gradients if gradient is not None]
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    return tf.linalg.global_norm(gradients)


def clip_by_global_norm(gradients, max_norm, loss_scale=None):
    """Scales the gradients so that the unscaled global norm is at most `max_norm`.

    Args:
      gradients: one replica's gradients (possibly loss-scaled), with None entries kept.
      max_norm: the bound on the unscaled global norm, > 0.
      loss_scale: the scalar the loss was multiplied by, or None.

    Returns:
      (clipped gradients, the unscaled global norm before clipping).
    """
    scale = 1.0 if loss_scale is None else tf.cast(loss_scale, tf.float32)
    scaled_norm = global_norm(gradients)
    # tf.clip_by_global_norm multiplies by bound / max(norm, bound) and keeps None and IndexedSlices.
    clipped, _ = tf.clip_by_global_norm(gradients, max_norm * scale, use_norm=scaled_norm)
    return clipped, scaled_norm / scale
