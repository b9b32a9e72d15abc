"""Adam, AdamW and Nesterov SGD whose per-variable update is one fused TensorFlow kernel.

Keras 3 writes Adam's update from separate ops (cast, subtract, multiply, assign_add for m; the
same and a square for v; multiply, sqrt, add, divide, assign_sub for the variable): about a
dozen passes over every weight tensor, each a kernel launch. Where XLA compiles the step it
fuses them; where it does not (convolutional or bfloat16 models on CPU, training.jit) they run
one by one. TensorFlow's `ResourceApplyAdam` / `ResourceApplyKerasMomentum` compute the same
formulas in one multithreaded pass (and have XLA kernels too). benchmarks/RESULTS.md has what
it saved.

The optimizers are Keras' own classes with only `update_step` replaced: same hyperparameters,
slot variables, checkpoints, weight decay (Keras applies AdamW's and SGD's decoupled decay before
`update_step`), loss scaling and tf.distribute handling. Sparse gradients (IndexedSlices from
embedding lookups) and AMSGrad keep Keras' own update.

Keras has no public way to find a variable's slots, so the fused update reads Keras' private
`_get_variable_index` and the slot lists `_momentums` / `_velocities` (Adam, AdamW) and
`momentums` (SGD), as Keras 3.15 has them. tests/test_private_apis.py fails, naming them, the day
a Keras release changes them; until then a run on such a release takes Keras' own update by
itself (same results, without the fused kernel's gain) and logs once why.
"""

from absl import logging
import keras
import tensorflow as tf

# The private names read, as Keras 3.15 has them: the index of a variable in the optimizer's
# lists, and the lists of slot variables of Adam/AdamW and of SGD with momentum.
VARIABLE_INDEX = "_get_variable_index"
ADAM_SLOTS = ("_momentums", "_velocities")
SGD_SLOTS = ("momentums",)
_FALLBACKS_LOGGED = set()


def keras_slots(optimizer, variable, slot_lists):
    """`variable`'s slot variables from the optimizer's private lists `slot_lists`, or None.

    None (logged once per optimizer class and reason) when this Keras lacks the private index or
    lists, or when a slot found does not have the variable's shape: the caller then runs Keras'
    own update.
    """
    try:
        index = getattr(optimizer, VARIABLE_INDEX)(variable)
        slots = [getattr(optimizer, name)[index] for name in slot_lists]
    except (AttributeError, TypeError, IndexError) as error:
        reason = f"{type(error).__name__}: {error}"
    else:
        mismatched = [name for name, slot in zip(slot_lists, slots) if tuple(slot.shape) != tuple(variable.shape)]
        if not mismatched:
            return slots
        reason = f"{', '.join(mismatched)} at the weight's index is not of the weight's shape"
    key = (type(optimizer).__name__, reason)
    if key not in _FALLBACKS_LOGGED:
        _FALLBACKS_LOGGED.add(key)
        logging.warning("%s: Keras %s's private optimizer slots are not as tapecraft expects (%s); "
                        "using Keras' own update_step (same results, without the fused kernel)",
                        type(optimizer).__name__, keras.__version__, reason)
    return None


def _fused_adam_step(optimizer, gradient, variable, learning_rate):
    """`update_step` of FusedAdam and FusedAdamW: Keras' Adam formula, t = iterations + 1,
    variable -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps) after m and v are updated."""
    if isinstance(gradient, tf.IndexedSlices) or optimizer.amsgrad:
        # AdamW inherits Adam's update_step (its decay is applied before), so this is both classes'.
        return keras.optimizers.Adam.update_step(optimizer, gradient, variable, learning_rate)
    slots = keras_slots(optimizer, variable, ADAM_SLOTS)
    if slots is None:
        return keras.optimizers.Adam.update_step(optimizer, gradient, variable, learning_rate)
    momentum, velocity = slots
    dtype = variable.dtype
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(optimizer.beta_1, dtype), tf.cast(optimizer.beta_2, dtype)
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=momentum.handle, v=velocity.handle,
        beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
        lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
        epsilon=tf.cast(optimizer.epsilon, dtype), grad=tf.cast(gradient, dtype))


class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam computed by ResourceApplyAdam."""

    update_step = _fused_adam_step


class FusedAdamW(keras.optimizers.AdamW):
    """keras.optimizers.AdamW: Keras' decoupled decay (applied before update_step), then ResourceApplyAdam."""

    update_step = _fused_adam_step


class FusedSGD(keras.optimizers.SGD):
    """keras.optimizers.SGD with momentum, computed by ResourceApplyKerasMomentum:
    m = momentum * m - lr * g; variable += m, or momentum * m - lr * g with Nesterov."""

    def update_step(self, gradient, variable, learning_rate):
        slots = None
        if not isinstance(gradient, tf.IndexedSlices) and self.momentum:
            slots = keras_slots(self, variable, SGD_SLOTS)
        if slots is None:
            return super().update_step(gradient, variable, learning_rate)
        momentum, = slots
        dtype = variable.dtype
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle, accum=momentum.handle, lr=tf.cast(learning_rate, dtype),
            grad=tf.cast(gradient, dtype), momentum=tf.cast(self.momentum, dtype),
            use_nesterov=self.nesterov)
