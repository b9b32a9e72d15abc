"""Rematerialization (gradient checkpointing, Chen et al. 2016) that keeps a layer's random state
right.

`keras.remat(f)` (TensorFlow backend: `tf.recompute_grad`) runs `f` in the forward pass without
keeping its activations and runs it again in the backward pass to get them back. A Keras layer
is not a pure function, though: Dropout draws its seed from a SeedGenerator whose state variable
advances on every call, and a layer may update other non-trainable variables (BatchNormalization's
moving statistics). Recomputed naively, the backward pass draws a different dropout mask than the
forward pass did (gradients of a function that never ran) and advances the state a second time
(a run resumed from a checkpoint then draws other masks than the uninterrupted run).

`rematerialized_call` sets the layer's non-trainable variables to the values they had when the
forward call began before each of the two calls. Both calls then draw the same seeds and make the
same updates, and afterwards the variables hold what a single call would have left there.
Cost: one copy of those variables per call: two integers per dropout generator, but all of
a frozen block's weights (trainable=False) too.
"""

import keras


def rematerialized_call(layer, inputs, **kwargs):
    """`layer(inputs, **kwargs)` whose activations are recomputed in the backward pass.

    The value and the gradients equal those of `layer(inputs, **kwargs)` (dropout masks
    included), and so does the state the layer leaves in its non-trainable variables.

    Args:
      layer: a built Keras layer; its trainable variables get gradients as usual.
      inputs: one tensor (the recomputed function's only differentiable input).
      **kwargs: passed to the layer's call (e.g. training=True); not differentiated.

    Returns:
      The layer's output.
    """
    state = layer.non_trainable_variables
    # Read once, before the forward call changes them; the recomputation restarts from here.
    start = [keras.ops.copy(variable.value) for variable in state]

    def call_from_start(layer_inputs):
        for variable, value in zip(state, start):
            variable.assign(value)
        return layer(layer_inputs, **kwargs)

    return keras.remat(call_from_start)(inputs)
