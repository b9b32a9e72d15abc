"""The `training_step` and `retracing` checks: a compiled step trains the layer, once traced."""

import tensorflow as tf

from layers.conformance.errors import CheckFailed, CheckSkipped
from layers.conformance.subject import variable_name

# Plain gradient descent with a step large enough that float32 registers every change.
LEARNING_RATE = 0.1


def check_training_step(subject):
    """One compiled gradient step changes every trainable variable.

    A variable the step leaves unchanged gets no gradient: it is unused, cut off by a
    non-differentiable op, or `trainable` by mistake.
    """
    variables = subject.shared().trainable_variables
    if not variables:  # e.g. stochastic depth, pooling, fixed preprocessing.
        raise CheckSkipped("the layer has no trainable variables")
    before = [tf.identity(v) for v in variables]
    train_step, _ = _counted_train_step(subject)
    train_step(subject.inputs(offset=1))
    unchanged = [variable_name(v) for v, old in zip(variables, before) if bool(tf.reduce_all(v == old))]
    if unchanged:
        raise CheckFailed(f"one gradient step (learning rate {LEARNING_RATE}) left trainable variables "
                          f"{unchanged} unchanged: no gradient reaches them")
    return f"one compiled gradient step changed all {len(variables)} trainable variable(s)"


def check_retracing(subject):
    """A second call with a new batch of the same shape traces nothing new.

    Counts the traces of a compiled training step, and of every tf.function the layer holds
    (as an attribute, or as a @tf.function method), over two compiled and two eager calls.
    A retrace recompiles the step (seconds under XLA) on every call: the usual cause is a
    Python value that changes between calls (a counter, a float computed in Python) passed
    to a tf.function, which then traces once per distinct value.
    """
    layer = subject.shared()
    train_step, trace_count = _counted_train_step(subject)
    if trace_count[0] == 0:  # The training_step check did not run.
        train_step(subject.inputs(offset=1))
    train_step(subject.inputs(offset=2))
    if trace_count[0] != 1:
        raise CheckFailed(f"the compiled training step traced {trace_count[0]} times for two batches of "
                          f"shape {subject.input_shape}; expected 1")
    # Eager calls run the layer's Python each time, so its own tf.functions see every call.
    layer(subject.inputs(offset=3), training=False)
    layer_traces = _layer_trace_count(layer)
    layer(subject.inputs(offset=4), training=False)
    retraced = _layer_trace_count(layer) - layer_traces
    if retraced:
        raise CheckFailed(f"the layer's own tf.functions traced {retraced} more time(s) on a second call "
                          f"with inputs of the same shape {subject.input_shape}; a Python value passed to "
                          "them changes between calls")
    held = len(_held_functions(layer, set()))
    return (f"1 trace of the compiled training step for 2 batches; {held} tf.function(s) of the layer's own, "
            "none retraced")


def _counted_train_step(subject):
    """A tf.function SGD step on the shared float32 instance, and a one-element list counting
    its traces; made once per check_layer run, so training_step and retracing share its trace."""
    if subject.train_step is None:
        subject.train_step = _make_counted_train_step(subject, subject.shared())
    return subject.train_step


def _make_counted_train_step(subject, layer):
    trace_count = [0]

    @tf.function
    def train_step(inputs):
        trace_count[0] += 1  # Python code runs only while tracing.
        with tf.GradientTape() as tape:
            loss = subject.loss(layer(inputs, training=True))
        gradients = tape.gradient(loss, layer.trainable_variables)
        for variable, gradient in zip(layer.trainable_variables, gradients):
            if gradient is not None:
                variable.assign_sub(LEARNING_RATE * tf.cast(tf.convert_to_tensor(gradient), variable.dtype))

    return train_step, trace_count


def _layer_trace_count(layer):
    """Total traces of the tf.functions held by `layer` and its sublayers."""
    return sum(function.experimental_get_tracing_count() for function in _held_functions(layer, set()))


def _held_functions(value, seen):
    """tf.functions reachable from `value` through layer attributes, lists and dicts."""
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, tf.types.experimental.PolymorphicFunction):
        return [value]
    if isinstance(value, (list, tuple)):
        return [f for item in value for f in _held_functions(item, seen)]
    if isinstance(value, dict):
        return [f for item in value.values() for f in _held_functions(item, seen)]
    if not hasattr(value, "trainable_variables") or not hasattr(value, "__dict__"):
        return []  # Not a layer: its internals are not the layer's tf.functions.
    functions = []
    for name in dir(type(value)):
        # A @tf.function method: the class holds the function; bind it to this instance.
        if isinstance(getattr(type(value), name, None), tf.types.experimental.PolymorphicFunction):
            functions += _held_functions(getattr(value, name), seen)
    for item in vars(value).values():
        functions += _held_functions(item, seen)
    return functions
