"""The bottleneck block of keras.applications' ResNet-50 (He et al. 2015, figure 5 right, "v1")."""

import keras

from core.precision import precision_scope
from layers.conv_bn import ConvBNActivation

# keras.applications' ResNet layers use Keras' BatchNormalization defaults but this epsilon.
KERAS_APPLICATIONS_BATCHNORM = dict(epsilon=1.001e-5, momentum=0.99)


class BottleneckV1Block(keras.layers.Layer):
    """y = relu(F(x) + shortcut(x)), F = 1x1 (reduce) -> 3x3 (spatial) -> 1x1 (expand) conv-BN.

    Laid out exactly as keras.applications.ResNet50 lays out its blocks, so their ImageNet
    weights load: the stride sits on the first 1x1 convolution (the paper's "v1" placement; a
    "v1.5" block strides the 3x3 instead), every convolution has a bias, and BatchNorm uses
    epsilon 1.001e-5, momentum 0.99. When the block changes the resolution or the width, the
    shortcut is a strided 1x1 conv-BN projection. `layers.bottleneck.BottleneckBlock` is the
    same block with the stride on the 3x3 ("v1.5") and bias-free convolutions; the two differ
    only in those choices.

    A bias right before BatchNorm gets no gradient in training mode (BatchNorm subtracts the
    batch mean); the biases are here so the ImageNet weights load, and move only when
    BatchNorm is frozen.
    [B, H, W, C] -> [B, H/strides, W/strides, filters * expansion].

    Args:
      filters: width of the inner 1x1 and 3x3 convolutions.
      strides: stride of the first 1x1 convolution and of the projection.
      expansion: output width over inner width; 4 in the paper.
    """

    def __init__(self, filters, strides=1, expansion=4, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.expansion = expansion
        options = dict(use_bias=True, **KERAS_APPLICATIONS_BATCHNORM)
        self.reduce = ConvBNActivation(filters, 1, strides, "relu", name="reduce", **options)
        self.spatial = ConvBNActivation(filters, 3, 1, "relu", name="spatial", **options)
        self.expand = ConvBNActivation(filters * expansion, 1, 1, None, name="expand", **options)
        self.projection = None

    def build(self, input_shape):
        if self.strides != 1 or input_shape[-1] != self.filters * self.expansion:
            # Sublayers made here must take this block's policy, not whatever is global at build time.
            with precision_scope(self.dtype_policy.name):
                self.projection = ConvBNActivation(
                    self.filters * self.expansion, 1, self.strides, None, name="projection", use_bias=True,
                    **KERAS_APPLICATIONS_BATCHNORM)

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
