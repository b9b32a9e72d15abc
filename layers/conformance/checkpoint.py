"""The `checkpoint` check: tf.train.Checkpoint save, restore into a fresh instance, same outputs."""

import tempfile

import numpy as np
import tensorflow as tf

from layers.conformance.comparison import assert_outputs_close
from layers.conformance.errors import CheckFailed, CheckSkipped, describe_exception
from layers.conformance.subject import variable_name


def check_checkpoint(subject):
    """A checkpoint of the layer restores into a new instance that computes the same output.

    The saved layer's weights are first moved away from their initial values, so a restore
    that silently skips a variable (one not tracked by the layer) cannot pass by the fresh
    instance's initializer drawing the same values.
    """
    original = subject.shared()
    floating = [v for v in original.variables if tf.as_dtype(v.dtype).is_floating]
    if not floating:
        raise CheckSkipped("the layer has no floating-point variables to save and restore")
    generator = np.random.default_rng(subject.seed)
    for variable in original.variables:
        if tf.as_dtype(variable.dtype).is_floating:
            noise = generator.uniform(0.5, 1.5, size=tuple(variable.shape)).astype(np.float32)
            variable.assign(variable * tf.constant(noise, dtype=variable.dtype) + 0.1)
    inputs = subject.inputs(offset=1)
    expected = original(inputs, training=False)

    restored, _ = subject.create()
    with tempfile.TemporaryDirectory() as directory:
        path = tf.train.Checkpoint(layer=original).save(f"{directory}/layer")
        status = tf.train.Checkpoint(layer=restored).restore(path)
        try:
            status.assert_consumed()
        except AssertionError as error:
            raise CheckFailed(f"restoring into a fresh instance left values unmatched: "
                              f"{describe_exception(error)}") from error
    # Floating variables only: Keras keeps seed-generator states (integers) out of a layer's
    # checkpoint by design; a training checkpoint saves them through `model.variables`.
    unmatched = [variable_name(v) for v, w in zip(original.variables, restored.variables)
                 if tf.as_dtype(v.dtype).is_floating and not np.array_equal(np.asarray(v), np.asarray(w))]
    if unmatched:
        raise CheckFailed(f"after restore, variables {unmatched} differ from the saved ones; the checkpoint "
                          "does not reach them: layers kept only in a list or dict are not checkpoint "
                          "dependencies in Keras 3 (see layers.checkpoint_tracking.track_layers)")
    agreement = assert_outputs_close(restored(inputs, training=False), expected, "float32",
                                     "restored instance's output vs saved instance's output")
    return f"{len(floating)} variable(s) restored into a fresh instance; outputs: {agreement}"
