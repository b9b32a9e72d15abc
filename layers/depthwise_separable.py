"""The depthwise-separable convolution block of MobileNet (Howard et al. 2017, figure 3)."""

import keras

from layers.conv_bn import ConvBNActivation
from layers.fused_batch_norm import FusedBatchNormalization


class DepthwiseSeparableConv(keras.layers.Layer):
    """A depthwise 3x3 conv-BN-activation, then a pointwise 1x1 conv-BN-activation.

    The depthwise convolution filters each channel on its own and the pointwise one mixes
    channels, which costs k*k*C + C*F multiply-adds per pixel instead of a full convolution's
    k*k*C*F. [B, H, W, C] -> [B, H/strides, W/strides, filters].

    Args:
      filters: output channels of the pointwise convolution.
      kernel_size: square kernel side of the depthwise convolution.
      strides: square stride of the depthwise convolution.
      activation: a Keras activation name, or None.
    """

    def __init__(self, filters, kernel_size=3, strides=1, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.activation_name = activation
        self.depthwise = keras.layers.DepthwiseConv2D(
            kernel_size, strides=strides, padding="same", use_bias=False, name="depthwise")
        self.depthwise_norm = FusedBatchNormalization(momentum=0.9, epsilon=1e-5,
                                                              name="depthwise_norm")
        self.depthwise_activation = keras.layers.Activation(activation) if activation else None
        self.pointwise = ConvBNActivation(filters, 1, 1, activation, name="pointwise")

    def call(self, inputs, training=False):
        x = self.depthwise_norm(self.depthwise(inputs), training=training)
        if self.depthwise_activation is not None:
            x = self.depthwise_activation(x)
        return self.pointwise(x, training=training)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      activation=self.activation_name)
        return config
