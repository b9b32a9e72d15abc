"""Learning-rate schedules, indexed by the optimizer's count of applied updates."""

import math

import keras
import tensorflow as tf


class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from 0 to `peak` over `warmup_steps`, then cosine decay to 0 at `total_steps`.

    lr(t) = peak * t / warmup                                         for t < warmup
    lr(t) = peak * 0.5 * (1 + cos(pi * (t - warmup) / (total - warmup)))   after
    (Goyal et al. 2017 for the warmup; Loshchilov & Hutter 2017 for the cosine.)
    """

    def __init__(self, peak, warmup_steps, total_steps):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = tf.cast(self.warmup_steps, tf.float32)
        decay_steps = tf.cast(max(self.total_steps - self.warmup_steps, 1), tf.float32)
        progress = tf.clip_by_value((step - warmup) / decay_steps, 0.0, 1.0)
        cosine = self.peak * 0.5 * (1.0 + tf.cos(math.pi * progress))
        warming = self.peak * step / tf.maximum(warmup, 1.0)
        return tf.where(step < warmup, warming, cosine)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


def create_schedule(name, peak, warmup_steps, total_steps):
    """The schedule `--lr_schedule=name` asks for, or a constant learning rate."""
    if name == "cosine":
        return WarmupCosineDecay(peak, warmup_steps, total_steps)
    return peak
