"""The bottleneck residual block of ResNet-50/101/152 (He et al. 2015, figure 5 right)."""

import keras

from core.precision import precision_scope
from layers.conv_bn import ConvBNActivation


class BottleneckBlock(keras.layers.Layer):
    """y = relu(F(x) + shortcut(x)), F = 1x1 (reduce) -> 3x3 -> 1x1 (expand) conv-BN layers.

    The 3x3 convolution carries the stride (the "ResNet v1.5" placement, which loses less
    information than striding the first 1x1). Output width is `filters * expansion`. When the
    block changes the resolution or the width, the shortcut is a strided 1x1 conv-BN projection.
    [B, H, W, C] -> [B, H/strides, W/strides, filters * expansion].

    Args:
      filters: width of the inner 1x1 and 3x3 convolutions.
      strides: stride of the 3x3 convolution and of the projection.
      expansion: output width over inner width; 4 in the paper.
    """

    def __init__(self, filters, strides=1, expansion=4, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.expansion = expansion
        self.reduce = ConvBNActivation(filters, 1, 1, "relu", name="reduce")
        self.spatial = ConvBNActivation(filters, 3, strides, "relu", name="spatial")
        self.expand = ConvBNActivation(filters * expansion, 1, 1, None, name="expand")
        self.projection = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters * self.expansion:
            # Sublayers made here must take this block's policy, not whatever is global at build time.
            with precision_scope(self.dtype_policy.name):
                self.projection = ConvBNActivation(
                    self.filters * self.expansion, 1, self.strides, None, name="projection")

    def call(self, inputs, training=False):
        shortcut = inputs if self.projection is None else self.projection(inputs, training=training)
        x = self.reduce(inputs, training=training)
        x = self.spatial(x, training=training)
        residual = self.expand(x, training=training)
        return keras.ops.relu(residual + shortcut)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides, expansion=self.expansion)
        return config
