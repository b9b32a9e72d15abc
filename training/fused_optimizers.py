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
"""

import keras
import tensorflow as tf


def _fused_adam_step(optimizer, gradient, variable, learning_rate):
    """`update_step` of FusedAdam and FusedAdamW: Keras' Adam formula, t = iterations + 1,
    variable -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps) after m and v are updated."""
    if isinstance(gradient, tf.IndexedSlices) or optimizer.amsgrad:
        # AdamW inherits Adam's update_step (its decay is applied before), so this is both classes'.
        return keras.optimizers.Adam.update_step(optimizer, gradient, variable, learning_rate)
    dtype = variable.dtype
    index = optimizer._get_variable_index(variable)
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(optimizer.beta_1, dtype), tf.cast(optimizer.beta_2, dtype)
    tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=optimizer._momentums[index].handle, v=optimizer._velocities[index].handle,
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
        if isinstance(gradient, tf.IndexedSlices) or not self.momentum:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        momentum = self.momentums[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle, accum=momentum.handle, lr=tf.cast(learning_rate, dtype),
            grad=tf.cast(gradient, dtype), momentum=tf.cast(self.momentum, dtype),
            use_nesterov=self.nesterov)
