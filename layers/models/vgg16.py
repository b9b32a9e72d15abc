"""VGG16 (Simonyan & Zisserman 2014, configuration D), laid out as keras.applications.VGG16.

The layer names and order match keras.applications, so its ImageNet weight files load
(`layers.pretrained_weights`); the base maps [B, H, W, 3] to [B, H/32, W/32, 512].
"""

import keras

from layers.models.pretrained_backbone import PretrainedBackbone

# (filters, convolutions) of the five blocks; each block ends in a 2x2 max-pool.
BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
# The ImageNet top flattens a 7x7x512 feature map, so it takes 224x224 images only.
IMAGENET_IMAGE_SIZE = 224
# Five 2x2 pools: a side below 32 pools down to nothing.
MINIMUM_IMAGE_SIZE = 32


class VGGBlock(keras.layers.Layer):
    """`convolutions` 3x3 conv-ReLU layers, then a 2x2 max-pool: [B,H,W,C] -> [B,H/2,W/2,filters]."""

    def __init__(self, filters, convolutions, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.convolutions = convolutions
        # Attributes, not a list: tf.train.Checkpoint does not see layers held in a Python list.
        for index in range(1, convolutions + 1):
            setattr(self, f"conv{index}",
                    keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{index}"))
        self.pool = keras.layers.MaxPooling2D(2, strides=2, name="pool")

    def convolution_layers(self):
        return [getattr(self, f"conv{index}") for index in range(1, self.convolutions + 1)]

    def call(self, inputs, training=False):  # No dropout or BatchNorm: training changes nothing.
        x = inputs
        for convolution in self.convolution_layers():
            x = convolution(x)
        return self.pool(x)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, convolutions=self.convolutions)
        return config


class VGG16(PretrainedBackbone):
    """Caffe preprocessing, five VGG blocks, then the transfer head or the ImageNet top. The base
    maps [B, H, W, 3] to [B, H/32, W/32, 512].

    Takes RGB (or grayscale) pixels in [0, 1]; see `layers.caffe_preprocessing`. Arguments as
    `PretrainedBackbone`'s; the transfer head takes images of any size from 32x32, the ImageNet
    top (flatten -> fc1 4096 -> fc2 4096 -> predictions) 224x224 images only.
    """

    BLOCK_NAMES = tuple(f"block{index}" for index in range(1, len(BLOCKS) + 1))

    def __init__(self, num_classes, include_top=False, head_units=128, **kwargs):
        kwargs.setdefault("name", "vgg16")
        super().__init__(num_classes, include_top, head_units, **kwargs)
        for name, (filters, convolutions) in zip(self.BLOCK_NAMES, BLOCKS):
            setattr(self, name, VGGBlock(filters, convolutions, name=name))
        if include_top:
            self.flatten = keras.layers.Flatten(name="flatten")
            self.fc1 = keras.layers.Dense(4096, activation="relu", name="fc1")
            self.fc2 = keras.layers.Dense(4096, activation="relu", name="fc2")
            self.predictions = keras.layers.Dense(num_classes, dtype="float32", name="predictions")
        self.make_head()

    def pretrained_layers(self):
        """[(keras.applications layer name, layer)] of every layer a weight file fills, in its order."""
        layers = [(f"{name}_conv{index}", convolution)
                  for name, block in self.base_blocks()
                  for index, convolution in enumerate(block.convolution_layers(), start=1)]
        if self.include_top:
            layers += [("fc1", self.fc1), ("fc2", self.fc2), ("predictions", self.predictions)]
        return layers

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if self.include_top and (height, width) != (IMAGENET_IMAGE_SIZE, IMAGENET_IMAGE_SIZE):
            raise ValueError(f"VGG16 with the ImageNet top takes {IMAGENET_IMAGE_SIZE}x{IMAGENET_IMAGE_SIZE} "
                             f"images; got {height}x{width}")
        if min(height or MINIMUM_IMAGE_SIZE, width or MINIMUM_IMAGE_SIZE) < MINIMUM_IMAGE_SIZE:
            raise ValueError(f"VGG16 needs images of at least {MINIMUM_IMAGE_SIZE}x{MINIMUM_IMAGE_SIZE} "
                             f"(five 2x2 pools); got {height}x{width}")

    def imagenet_top(self, features):
        return self.predictions(self.fc2(self.fc1(self.flatten(features))))
