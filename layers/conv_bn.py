"""Convolution -> batch normalization -> activation, the unit most CNNs are built from."""

import keras

from layers.fused_batch_norm import FusedBatchNormalization


class ConvBNActivation(keras.layers.Layer):
    """A 2-D convolution, BatchNorm, then an activation.

    By default the convolution has no bias because BatchNorm's offset replaces it. The
    normalization is Keras' BatchNormalization computed by the fused kernel
    (layers/fused_batch_norm.py): same weights and checkpoints, statistics in float32 under a
    mixed policy, one kernel per direction instead of Keras' chain of elementwise ops.

    Args:
      filters: output channels.
      kernel_size: square kernel side.
      strides: square stride.
      activation: a Keras activation name, or None for no activation.
      padding: "same" or "valid".
      use_bias: give the convolution a bias (keras.applications' ResNet-50 has one, so its
        weights need it).
      epsilon: BatchNorm's variance epsilon.
      momentum: BatchNorm's moving-statistics momentum.
    """

    def __init__(self, filters, kernel_size=3, strides=1, activation="relu", padding="same", use_bias=False,
                 epsilon=1e-5, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.activation_name = activation
        self.padding = padding
        self.use_bias = use_bias
        self.epsilon = epsilon
        self.momentum = momentum
        self.conv = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
            kernel_initializer="he_normal", name="conv",
        )
        # momentum 0.9 by default: statistics settle within a few hundred steps, which short runs need.
        self.norm = FusedBatchNormalization(momentum=momentum, epsilon=epsilon, name="norm")
        self.activation = keras.layers.Activation(activation) if activation else None

    def call(self, inputs, training=False):
        x = self.norm(self.conv(inputs), training=training)
        return self.activation(x) if self.activation is not None else x

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, strides=self.strides,
                      activation=self.activation_name, padding=self.padding, use_bias=self.use_bias,
                      epsilon=self.epsilon, momentum=self.momentum)
        return config
