"""The basic residual block of He et al. 2015 ("Deep Residual Learning", figure 2)."""

import keras

from core.precision import precision_scope
from layers.conv_bn import ConvBNActivation


class ResidualBlock(keras.layers.Layer):
    """y = relu(F(x) + shortcut(x)), F = two 3x3 conv-BN layers.

    When the block changes the resolution or the width, the shortcut is a strided 1x1
    conv-BN projection (option B of the paper); otherwise it is the identity.

    Args:
      filters: output channels.
      strides: stride of the first convolution and of the projection.
    """

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.conv1 = ConvBNActivation(filters, 3, strides, "relu", name="conv1")
        self.conv2 = ConvBNActivation(filters, 3, 1, None, name="conv2")
        self.projection = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters:
            # Sublayers made here must take this block's policy, not whatever is global at build time.
            with precision_scope(self.dtype_policy.name):
                self.projection = ConvBNActivation(self.filters, 1, self.strides, None, name="projection")

    def call(self, inputs, training=False):
        shortcut = inputs if self.projection is None else self.projection(inputs, training=training)
        residual = self.conv2(self.conv1(inputs, training=training), training=training)
        return keras.ops.relu(residual + shortcut)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides)
        return config
