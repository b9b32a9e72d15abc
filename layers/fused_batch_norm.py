"""Batch normalization by TensorFlow's fused kernel: one op forward and one op for the gradient.

Keras 3's BatchNormalization builds the moments and the normalization from separate ops (mean,
squared difference, mean, then subtract, multiply, add), about as many again in the gradient,
and in mixed precision it casts the activations to float32 and back around them. TensorFlow's
`FusedBatchNormV3` does the same arithmetic in one oneDNN (CPU) or cuDNN (GPU) kernel that reads
the activations in their own dtype and keeps its statistics in float32: fewer passes over the
activations and, in bfloat16, no float32 copies of them. What that saves on its own has not been
measured: the one comparison in benchmarks/results (`fit` on tapecraft's CIFAR CNN vs on the
same network built from stock Keras layers) also swaps the optimizer and the model code.
"""

import keras
import tensorflow as tf


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization, computed by the fused kernel wherever that applies.

    The weights (gamma, beta, moving_mean, moving_variance), their names, the config and the
    checkpoints are Keras' own, so pretrained Keras weights load unchanged. The fused kernel
    covers 4-D inputs normalized over the last (channel) axis without a mask, renormalization
    or cross-replica synchronization; anything else runs Keras' computation.

    The moving statistics follow Keras' rule, moving = momentum * moving + (1 - momentum) *
    batch, with the batch's biased variance (the kernel returns the unbiased one; it is scaled
    back by (n - 1) / n, n the number of values per channel).
    """

    def call(self, inputs, training=None, mask=None):
        if (mask is not None or self.renorm or self.synchronized or len(inputs.shape) != 4
                or self.axis not in (-1, 3)):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones((channels,), tf.float32)
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros((channels,), tf.float32)
        inputs = tf.cast(inputs, self.compute_dtype)  # float32, bfloat16 or float16: all have kernels.
        if training and self.trainable:
            outputs, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=gamma, offset=beta, mean=tf.zeros((0,)), variance=tf.zeros((0,)),
                epsilon=self.epsilon, data_format="NHWC", is_training=True)
            count = tf.cast(tf.size(inputs) // channels, tf.float32)
            # multiply_no_nan: one value per channel has no unbiased variance (0 / 0); its biased one is 0.
            variance = tf.math.multiply_no_nan(unbiased_variance, (count - 1.0) / count)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
            return outputs
        outputs, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=gamma, offset=beta, mean=tf.cast(self.moving_mean, tf.float32),
            variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon, data_format="NHWC",
            is_training=False)
        return outputs
