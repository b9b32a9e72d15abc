"""An exponential moving average (EMA) of the trainable weights, swapped in to evaluate and export.

After every applied update, inside the compiled step:

    average <- d * average + (1 - d) * weight,   d = min(decay, (1 + t) / (10 + t))

with t the optimizer's count of applied updates. The warm-up of d (as in
tf.train.ExponentialMovingAverage's `num_updates`) keeps early averages from being dominated by
the initial weights in short runs. A float16 step skipped for non-finite gradients changes no
weight, and the average skips it too. Averages are float32 whatever the policy.

Only trainable variables are averaged; BatchNormalization's moving statistics are already
averages and are used as they are. The averages are variables of this module, so a checkpoint
that includes it restores them.
"""

import contextlib

import tensorflow as tf


class ExponentialMovingAverage(tf.Module):
    """Averages of `variables`, updated by `update` and swapped into them by `swapped_in`.

    Create it under the strategy's scope. Each replica updates its own copy of the averages from
    its (identical) copy of the weights, so the update needs no communication.

    Args:
      variables: the model's trainable variables.
      decay: the largest per-step decay, in (0, 1); e.g. 0.999 averages over ~1000 steps.
    """

    def __init__(self, variables, decay):
        super().__init__(name="ema")
        self.decay = decay
        self._weights = tuple(variables)
        self.averages = [
            tf.Variable(tf.convert_to_tensor(weight), trainable=False, name=_average_name(weight),
                        synchronization=tf.VariableSynchronization.ON_READ,
                        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            for weight in self._weights
        ]
        # The optimizer iteration at the last update: a new value means a new applied update.
        self.last_update = tf.Variable(0, dtype=tf.int64, trainable=False, name="last_update",
                                       synchronization=tf.VariableSynchronization.ON_READ,
                                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def update(self, applied_updates):
        """Averages in the current weights if the optimizer applied an update since the last call.

        Args:
          applied_updates: the optimizer's `iterations` (applied updates, skipped steps excluded).
        """
        applied_updates = tf.cast(applied_updates, tf.int64)

        def average_in():
            steps = tf.cast(applied_updates, tf.float32)
            decay = tf.minimum(self.decay, (1.0 + steps) / (10.0 + steps))
            for average, weight in zip(self.averages, self._weights):
                average.assign(decay * average + (1.0 - decay) * tf.cast(weight, tf.float32))
            self.last_update.assign(applied_updates)

        tf.cond(tf.not_equal(applied_updates, self.last_update), average_in, lambda: None)

    @contextlib.contextmanager
    def swapped_in(self):
        """Within the block the weights hold their averages; after it, exactly their own values.

        Call it on the host, outside compiled functions (around evaluation or export).
        """
        own_values = [weight.numpy() for weight in self._weights]
        for weight, average in zip(self._weights, self.averages):
            weight.assign(average.read_value())
        try:
            yield
        finally:
            for weight, value in zip(self._weights, own_values):
                weight.assign(value)


def _average_name(weight):
    return weight.path.replace("/", "_") + "_average" if hasattr(weight, "path") else "average"


def averaged_weights(ema):
    """`ema.swapped_in()`, or a block that changes nothing when there is no EMA."""
    return contextlib.nullcontext() if ema is None else ema.swapped_in()
