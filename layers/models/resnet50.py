"""ResNet-50 (He et al. 2015, table 1), laid out as keras.applications.ResNet50.

Layer names and order match keras.applications, so its ImageNet weight files load
(`layers.pretrained_weights`); the base maps [B, H, W, 3] to [B, H/32, W/32, 2048].
"""

import keras

from layers.bottleneck import KERAS_APPLICATIONS_BATCHNORM, BottleneckV1Block
from layers.conv_bn import ConvBNActivation
from layers.models.pretrained_backbone import PretrainedBackbone

# (stage name, inner filters, blocks, stride of the first block): conv2_x .. conv5_x of table 1.
STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2), ("conv5", 512, 3, 2))


class ResNetStem(keras.layers.Layer):
    """7x7/2 conv-BN-ReLU, then a 3x3/2 max-pool: [B, H, W, 3] -> [B, H/4, W/4, 64].

    Keras pads explicitly (3, then 1 pixel) and convolves "valid"; "same" padding would pad
    2 and 3 pixels on even sides and shift every feature by one pixel against the weights.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pad = keras.layers.ZeroPadding2D(3, name="pad")
        self.conv_bn = ConvBNActivation(64, 7, 2, "relu", padding="valid", use_bias=True, name="conv_bn",
                                        **KERAS_APPLICATIONS_BATCHNORM)
        self.pool_pad = keras.layers.ZeroPadding2D(1, name="pool_pad")
        self.pool = keras.layers.MaxPooling2D(3, strides=2, name="pool")

    def call(self, images, training=False):
        return self.pool(self.pool_pad(self.conv_bn(self.pad(images), training=training)))


class ResNet50(PretrainedBackbone):
    """Caffe preprocessing, the stem, 16 bottleneck blocks, then the transfer head or the ImageNet
    top (GAP -> predictions). The base maps [B, H, W, 3] to [B, H/32, W/32, 2048].

    Takes RGB (or grayscale) pixels in [0, 1]; see `layers.caffe_preprocessing`. Arguments as
    `PretrainedBackbone`'s.
    """

    BLOCK_NAMES = ("conv1",) + tuple(f"{stage}_block{index}" for stage, _, blocks, _ in STAGES
                                     for index in range(1, blocks + 1))

    def __init__(self, num_classes, include_top=False, head_units=128, **kwargs):
        kwargs.setdefault("name", "resnet50")
        super().__init__(num_classes, include_top, head_units, **kwargs)
        # Blocks named as keras.applications names them.
        self.conv1 = ResNetStem(name="conv1")
        for stage, filters, blocks, strides in STAGES:
            for index in range(1, blocks + 1):
                name = f"{stage}_block{index}"
                setattr(self, name, BottleneckV1Block(filters, strides if index == 1 else 1, name=name))
        if include_top:
            self.global_pool = keras.layers.GlobalAveragePooling2D(name="avg_pool")
            self.predictions = keras.layers.Dense(num_classes, dtype="float32", name="predictions")
        self.make_head()

    def pretrained_layers(self):
        """[(keras.applications layer name, layer)] of every layer a weight file fills, in its order.

        Within a block Keras orders the layers 1_conv, 1_bn, 2_conv, 2_bn, 0_conv, 3_conv, 0_bn,
        3_bn (0 is the projection shortcut); files without layer names are matched in that order.
        """
        layers = [("conv1_conv", self.conv1.conv_bn.conv), ("conv1_bn", self.conv1.conv_bn.norm)]
        for name, block in self.base_blocks()[1:]:
            layers += [(f"{name}_1_conv", block.reduce.conv), (f"{name}_1_bn", block.reduce.norm),
                       (f"{name}_2_conv", block.spatial.conv), (f"{name}_2_bn", block.spatial.norm)]
            if block.projection is not None:
                layers.append((f"{name}_0_conv", block.projection.conv))
            layers.append((f"{name}_3_conv", block.expand.conv))
            if block.projection is not None:
                layers.append((f"{name}_0_bn", block.projection.norm))
            layers.append((f"{name}_3_bn", block.expand.norm))
        if self.include_top:
            layers.append(("predictions", self.predictions))
        return layers

    def imagenet_top(self, features):
        return self.predictions(self.global_pool(features))
