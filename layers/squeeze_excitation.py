"""Squeeze-and-excitation channel gating (Hu et al. 2018, "Squeeze-and-Excitation Networks")."""

import keras


class SqueezeExcitation(keras.layers.Layer):
    """Rescales each channel by a gate computed from the global average of all channels.

    gate = sigmoid(W2 relu(W1 mean_hw(x) + b1) + b2); y = x * gate.
    [B, H, W, C] -> [B, H, W, C]; the bottleneck has max(1, round(C * ratio)) units.

    Args:
      ratio: bottleneck width over channels; the paper's reduction r = 16 is ratio 1/16.
    """

    def __init__(self, ratio=0.25, **kwargs):
        super().__init__(**kwargs)
        if not 0 < ratio <= 1:
            raise ValueError(f"SqueezeExcitation ratio must be in (0, 1], got {ratio}")
        self.ratio = ratio

    def build(self, input_shape):
        channels = input_shape[-1]
        hidden = max(1, round(channels * self.ratio))
        self.reduce_kernel = self.add_weight(shape=(channels, hidden), initializer="he_normal",
                                             name="reduce_kernel")
        self.reduce_bias = self.add_weight(shape=(hidden,), initializer="zeros", name="reduce_bias")
        self.expand_kernel = self.add_weight(shape=(hidden, channels), initializer="glorot_uniform",
                                             name="expand_kernel")
        self.expand_bias = self.add_weight(shape=(channels,), initializer="zeros", name="expand_bias")

    def call(self, inputs):
        squeezed = keras.ops.mean(inputs, axis=(1, 2))  # [B, C]
        hidden = keras.ops.relu(keras.ops.matmul(squeezed, self.reduce_kernel) + self.reduce_bias)
        gate = keras.ops.sigmoid(keras.ops.matmul(hidden, self.expand_kernel) + self.expand_bias)
        return inputs * gate[:, None, None, :]

    def get_config(self):
        config = super().get_config()
        config.update(ratio=self.ratio)
        return config
