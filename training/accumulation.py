"""Gradient accumulation: one optimizer update from K micro-batches of the batch the pipeline gives.

The step receives its usual batch of B examples (per replica), splits it into K micro-batches of
B/K, runs forward and backward on one micro-batch at a time in a `tf.while_loop`, and sums the
gradients; the optimizer then applies the sum once. Each micro-batch's loss is divided by the
global batch size, so the sum is the gradient of the mean loss over the whole batch: the update
equals the one a single B-example step would make, while the activations held for backprop are
those of B/K examples.

Two differences from one big batch remain, and a reader should know them: BatchNormalization
normalizes each micro-batch with its own statistics (and updates its moving averages K times),
and dropout draws different masks.
"""

import tensorflow as tf


def check_micro_batches(per_replica_batch_size, num_micro_batches):
    """Refuses a per-replica batch that does not split evenly into `num_micro_batches`.

    Raises:
      ValueError: naming both flags.
    """
    if per_replica_batch_size % num_micro_batches:
        raise ValueError(
            f"--grad_accum_steps={num_micro_batches}: each replica's batch of {per_replica_batch_size} "
            "examples does not split evenly into that many micro-batches")


def split_into_micro_batches(batch, num_micro_batches):
    """Reshapes every tensor of `batch` from [B, ...] to [K, B/K, ...]."""

    def split(tensor):
        return tf.reshape(tensor, tf.concat([[num_micro_batches, -1], tf.shape(tensor)[1:]], axis=0))

    return tf.nest.map_structure(split, batch)


def accumulate_gradients(micro_batch_gradients, batch, num_micro_batches, variables):
    """Sums `micro_batch_gradients(micro_batch)` over `num_micro_batches` slices of `batch`.

    Args:
      micro_batch_gradients: micro_batch -> a gradient per variable (None for no gradient).
      batch: the step's batch, a nest of tensors [B, ...].
      num_micro_batches: K; 1 calls `micro_batch_gradients(batch)` once, with no loop.
      variables: the variables the gradients belong to, for the float32 accumulators.

    Returns:
      A list of summed gradients, None where the variable receives no gradient.
    """
    if num_micro_batches == 1:
        return micro_batch_gradients(batch)
    micro_batches = split_into_micro_batches(batch, num_micro_batches)
    receives_gradient = []  # Filled when the loop body is traced.

    def add_micro_batch(index, sums):
        gradients = micro_batch_gradients(tf.nest.map_structure(lambda tensor: tensor[index], micro_batches))
        receives_gradient[:] = [gradient is not None for gradient in gradients]
        # IndexedSlices (embedding lookups) become dense: the sum must keep one shape in the loop.
        return index + 1, [total if gradient is None else total + tf.convert_to_tensor(gradient)
                           for total, gradient in zip(sums, gradients)]

    zeros = [tf.zeros(variable.shape, variable.dtype) for variable in variables]
    _, sums = tf.while_loop(lambda index, _: index < num_micro_batches, add_micro_batch,
                            (tf.constant(0), zeros))
    return [total if received else None for total, received in zip(sums, receives_gradient)]
