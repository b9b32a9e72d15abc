"""The `mixed_precision` check: float32 variables, outputs in the compute dtype, finite gradients."""

import tensorflow as tf

from layers.conformance.comparison import assert_finite
from layers.conformance.errors import CheckFailed
from layers.conformance.subject import variable_name


def check_mixed_precision(subject, policy):
    """Under `policy` (mixed_float16 or mixed_bfloat16), the layer keeps float32 variables,
    returns its compute dtype (or float32 when declared), and trains with finite gradients.

    The gradient is of a float32 loss, unscaled: a float16 layer whose gradients overflow
    here overflows in training too, and loss scaling only makes overflow more likely.
    """
    layer = subject.shared(policy)
    low_precision = [
        f"{variable_name(v)} ({tf.as_dtype(v.dtype).name})"
        for v in layer.variables
        if tf.as_dtype(v.dtype).is_floating and tf.as_dtype(v.dtype) != tf.float32
    ]
    if low_precision:
        raise CheckFailed(f"under {policy}, variables must be float32 (the policy casts them on use); "
                          f"found {low_precision}")
    inputs = subject.inputs(offset=1)
    with tf.GradientTape() as tape:
        output = layer(inputs, training=True)
        loss = subject.loss(output)
    expected = subject.expected_output_dtype(layer)
    if output.dtype != expected:
        raise CheckFailed(f"under {policy}, the output is {output.dtype.name}, expected {expected.name} "
                          "(construct the layer with dtype='float32', or pass output_dtype='float32', "
                          "to declare float32 outputs)")
    assert_finite(output, f"under {policy}, the training-mode output")
    variables = layer.trainable_variables
    gradients = tape.gradient(loss, variables)
    missing = [variable_name(v) for v, g in zip(variables, gradients) if g is None]
    if missing:
        raise CheckFailed(f"under {policy}, no gradient reaches trainable variables {missing} "
                          "(disconnected from the output, or cut by a cast to an integer)")
    for variable, gradient in zip(variables, gradients):
        assert_finite(gradient, f"under {policy}, the gradient of {variable_name(variable)}")
    floating = sum(tf.as_dtype(v.dtype).is_floating for v in layer.variables)
    gradients_checked = f"{len(variables)} finite gradient(s)" if variables else "no trainable variables"
    return f"{floating} float32 variable(s), {output.dtype.name} finite output, {gradients_checked}"
