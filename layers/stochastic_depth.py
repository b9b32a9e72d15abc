"""Stochastic depth, or drop-path (Huang et al. 2016, "Deep Networks with Stochastic Depth").

While training, each example's residual branch is dropped with probability `rate` and kept
branches are scaled by 1 / (1 - rate), so the expected output equals the inference output;
at inference the layer is the identity.
"""

import keras


class StochasticDepth(keras.layers.Layer):
    """Zeroes a whole residual branch per example while training.

    Randomness comes from a `keras.random.SeedGenerator`, whose state is a variable: inside a
    compiled multi-step loop every step draws a new mask (the state advances on device), and
    two layers built with the same seed draw the same sequence, eagerly or in a tf.function.
    Under XLA the sequence is as reproducible but different: XLA generates random numbers
    from a tensor seed with its own kernels. The state is not saved with
    the layer's weights; checkpoint `model.variables` to resume the exact sequence.

    Args:
      rate: probability of dropping the branch, in [0, 1).
      seed: integer seed of the mask sequence; None draws one.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"StochasticDepth rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        # One draw per example, broadcast over every other axis: [B, 1, ..., 1].
        mask_shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        uniform = keras.random.uniform(mask_shape, seed=self.seed_generator)
        mask = keras.ops.cast(uniform < keep, inputs.dtype)
        return inputs * mask / keras.ops.cast(keep, inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
