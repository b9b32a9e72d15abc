"""Root-mean-square layer normalization (Zhang & Sennrich 2019, "Root Mean Square Layer Normalization")."""

import keras


class RMSNorm(keras.layers.Layer):
    """y = x / sqrt(mean(x^2 over the last axis) + epsilon) * scale.

    Unlike LayerNorm it does not subtract the mean and has no offset, which saves a reduction.
    Statistics are computed in float32 even under a mixed policy: a float16 mean of squares
    overflows once activations exceed ~256. The output is in the compute dtype.

    Args:
      epsilon: added to the mean square to keep the division finite.
    """

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale",
                                     autocast=False)  # Read in float32: the math is float32.

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        mean_square = keras.ops.mean(keras.ops.square(x), axis=-1, keepdims=True)
        normalized = x * keras.ops.rsqrt(mean_square + self.epsilon)
        return keras.ops.cast(normalized * self.scale, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config
