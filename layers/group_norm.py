"""Group normalization (Wu & He 2018, "Group Normalization")."""

import keras


class GroupNorm(keras.layers.Layer):
    """Normalizes each example over groups of channels, with a learned per-channel scale and offset.

    Channels split into `groups` groups of C / groups; each (example, group) is normalized by
    the mean and variance over its spatial positions and channels, so the result does not
    depend on the batch size (unlike BatchNorm). groups=1 is LayerNorm over all non-batch
    axes, groups=C is InstanceNorm. Statistics are computed in float32 under a mixed policy.
    [B, ..., C] -> [B, ..., C].

    Args:
      groups: number of channel groups; must divide the channel count.
      epsilon: added to the variance.
    """

    def __init__(self, groups=32, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.groups = groups
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(f"GroupNorm: {channels} channels do not split into {self.groups} groups")
        # autocast=False: read in float32, the dtype the normalization runs in.
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale",
                                     autocast=False)
        self.offset = self.add_weight(shape=(channels,), initializer="zeros", name="offset",
                                      autocast=False)

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        shape = keras.ops.shape(x)
        channels = x.shape[-1]
        # [B, ..., C] -> [B, ..., groups, C / groups]; statistics over all axes but B and groups.
        grouped = keras.ops.reshape(x, (shape[0], -1, self.groups, channels // self.groups))
        mean, variance = keras.ops.moments(grouped, axes=(1, 3), keepdims=True)
        normalized = (grouped - mean) * keras.ops.rsqrt(variance + self.epsilon)
        normalized = keras.ops.reshape(normalized, shape)
        outputs = normalized * self.scale + self.offset
        return keras.ops.cast(outputs, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups, epsilon=self.epsilon)
        return config
