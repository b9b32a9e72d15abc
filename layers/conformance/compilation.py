"""The `tf_function` and `xla` checks: compiled outputs agree with eager ones."""

import tensorflow as tf

from core.precision import compute_dtype
from layers.conformance.comparison import assert_outputs_close


def check_tf_function(subject, policy):
    """tf.function(layer) gives the eager output, within the policy's compute-dtype tolerance.

    A layer whose Python code has side effects (a counter, a list it appends to, a random
    number from Python) runs them once at trace time and then never again, so its compiled
    output drifts from the eager one; converting tensors to Python values fails to trace.
    """
    return _compare_compiled(subject, policy, jit_compile=False, what="tf.function output vs eager output")


def check_xla(subject, policy):
    """tf.function(layer, jit_compile=True) gives the eager output, within tolerance.

    XLA refuses ops without an XLA kernel and dynamic shapes it cannot bound, and fuses
    elementwise work differently, so rounding differs by up to the dtype's tolerance.
    """
    return _compare_compiled(subject, policy, jit_compile=True,
                             what="XLA (jit_compile=True) output vs eager output")


def _compare_compiled(subject, policy, jit_compile, what):
    layer = subject.shared(policy)
    inputs = subject.inputs(offset=1)
    eager = layer(inputs, training=False)
    compiled = tf.function(lambda x: layer(x, training=False), jit_compile=jit_compile)(inputs)
    # The tolerance follows the dtype the layer computes in, even when it returns float32.
    return assert_outputs_close(compiled, eager, compute_dtype(policy), f"{what} under {policy}")
