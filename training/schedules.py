"""Learning-rate schedules, indexed by the optimizer's count of applied updates.

Keras evaluates the schedule at `optimizer.iterations`, which a LossScaleOptimizer advances only
when it applies an update: a float16 step skipped for non-finite gradients does not move the
schedule. A run with skipped steps therefore ends slightly before the schedule's last step.

Every schedule starts with a linear warmup from 0 to `peak` (Goyal et al. 2017, "Accurate,
Large Minibatch SGD"); `warmup_steps=0` starts at `peak`.
"""

import math

import keras
import tensorflow as tf

LR_SCHEDULES = ("cosine", "step", "constant")

# Step decay multiplies the rate by STEP_DECAY_FACTOR at each of these fractions of the steps
# after warmup: the 0.1x drops at 50% and 75% of training used for CIFAR ResNets (He et al. 2015).
STEP_DECAY_BOUNDARIES = (0.5, 0.75)
STEP_DECAY_FACTOR = 0.1


def _cosine(progress):
    """0.5 * (1 + cos(pi * progress)): 1 at the start, 0 at the end (Loshchilov & Hutter 2017)."""
    return 0.5 * (1.0 + tf.cos(math.pi * progress))


def _step(progress):
    """STEP_DECAY_FACTOR ** (number of boundaries passed)."""
    passed = tf.add_n([tf.cast(progress >= boundary, tf.float32) for boundary in STEP_DECAY_BOUNDARIES])
    return tf.pow(STEP_DECAY_FACTOR, passed)


def _constant(progress):
    return tf.ones_like(progress)


_DECAYS = {"cosine": _cosine, "step": _step, "constant": _constant}


class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `peak` over `warmup_steps`, then `peak` times a decay shape.

    lr(t) = peak * t / warmup                                   for t < warmup
    lr(t) = peak * decay((t - warmup) / (total - warmup))      after, progress clipped to [0, 1]

    Args:
      decay: "cosine" (to 0 at `total_steps`), "step" (x0.1 at 50% and 75%) or "constant".
      peak: the rate reached at the end of warmup.
      warmup_steps: length of the warmup.
      total_steps: the step at which the decay ends.
    """

    def __init__(self, decay, peak, warmup_steps, total_steps):
        if decay not in _DECAYS:
            raise ValueError(
                f"unknown learning-rate schedule {decay!r}; expected one of {', '.join(LR_SCHEDULES)}")
        self.decay = decay
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = tf.cast(self.warmup_steps, tf.float32)
        decay_steps = tf.cast(max(self.total_steps - self.warmup_steps, 1), tf.float32)
        progress = tf.clip_by_value((step - warmup) / decay_steps, 0.0, 1.0)
        warming = self.peak * step / tf.maximum(warmup, 1.0)
        return tf.where(step < warmup, warming, self.peak * _DECAYS[self.decay](progress))

    def get_config(self):
        return {"decay": self.decay, "peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


def create_schedule(name, peak, warmup_steps, total_steps):
    """The schedule `--lr_schedule=name` asks for (see WarmupSchedule)."""
    return WarmupSchedule(name, peak, warmup_steps, total_steps)
