"""The bottleneck residual block of ResNet-50/101/152 (He et al. 2015, figure 5 right).

Two layouts of one block: tapecraft's ("v1.5": stride on the 3x3, bias-free convolutions) and
keras.applications' ("v1": stride on the first 1x1, convolutions with biases, Keras' BatchNorm
settings), which `BottleneckV1Block` builds so that ImageNet weights load.
"""

import keras

from core.precision import precision_scope
from layers.conv_bn import ConvBNActivation

STRIDE_PLACES = ("spatial", "reduce")
# keras.applications' ResNet layers use Keras' BatchNormalization defaults but this epsilon.
KERAS_APPLICATIONS_BATCHNORM = dict(epsilon=1.001e-5, momentum=0.99)


class BottleneckBlock(keras.layers.Layer):
    """y = relu(F(x) + shortcut(x)), F = 1x1 (reduce) -> 3x3 (spatial) -> 1x1 (expand) conv-BN.

    By default the 3x3 convolution carries the stride (the "ResNet v1.5" placement, which loses
    less information than striding the first 1x1). Output width is `filters * expansion`. When
    the block changes the resolution or the width, the shortcut is a strided 1x1 conv-BN
    projection. [B, H, W, C] -> [B, H/strides, W/strides, filters * expansion].

    Args:
      filters: width of the inner 1x1 and 3x3 convolutions.
      strides: stride of the block (on `stride_on`) and of the projection.
      expansion: output width over inner width; 4 in the paper.
      stride_on: "spatial" (the 3x3, v1.5) or "reduce" (the first 1x1, the paper's v1).
      use_bias: biases on the convolutions. A bias right before BatchNorm gets no gradient in
        training mode (BatchNorm subtracts the batch mean); keras.applications' layout has them.
      epsilon, momentum: of every BatchNorm.
    """

    def __init__(self, filters, strides=1, expansion=4, stride_on="spatial", use_bias=False, epsilon=1e-5,
                 momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        if stride_on not in STRIDE_PLACES:
            raise ValueError(f"stride_on={stride_on!r}: expected one of {', '.join(STRIDE_PLACES)}")
        self.filters = filters
        self.strides = strides
        self.expansion = expansion
        self.stride_on = stride_on
        self.conv_options = dict(use_bias=use_bias, epsilon=epsilon, momentum=momentum)
        reduce_strides, spatial_strides = (1, strides) if stride_on == "spatial" else (strides, 1)
        self.reduce = ConvBNActivation(filters, 1, reduce_strides, "relu", name="reduce", **self.conv_options)
        self.spatial = ConvBNActivation(filters, 3, spatial_strides, "relu", name="spatial", **self.conv_options)
        self.expand = ConvBNActivation(filters * expansion, 1, 1, None, name="expand", **self.conv_options)
        self.projection = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters * self.expansion:
            # Sublayers made here must take this block's policy, not whatever is global at build time.
            with precision_scope(self.dtype_policy.name):
                self.projection = ConvBNActivation(self.filters * self.expansion, 1, self.strides, None,
                                                   name="projection", **self.conv_options)

    def call(self, inputs, training=False):
        shortcut = inputs if self.projection is None else self.projection(inputs, training=training)
        x = self.reduce(inputs, training=training)
        x = self.spatial(x, training=training)
        residual = self.expand(x, training=training)
        return keras.ops.relu(residual + shortcut)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides, expansion=self.expansion,
                      stride_on=self.stride_on, **self.conv_options)
        return config


def BottleneckV1Block(filters, strides=1, expansion=4, **kwargs):  # noqa: N802 (a layer, named like one)
    """The block laid out exactly as keras.applications.ResNet50 lays out its blocks, so their
    ImageNet weights load: stride on the first 1x1, convolutions with biases, BatchNorm epsilon
    1.001e-5 and momentum 0.99."""
    return BottleneckBlock(filters, strides, expansion, stride_on="reduce", use_bias=True,
                           **KERAS_APPLICATIONS_BATCHNORM, **kwargs)
