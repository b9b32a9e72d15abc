"""ResNet-20/56 for 32x32 images (He et al. 2015, section 4.2)."""

import keras

from layers.checkpoint_tracking import track_layers
from layers.conv_bn import ConvBNActivation
from layers.residual import ResidualBlock


class CifarResNet(keras.Model):
    """A 3x3 conv, three stages of n residual blocks at widths 16/32/64, GAP, classifier.

    depth = 6n + 2, so n = 3 gives ResNet-20 and n = 9 ResNet-56. Stages two and three halve
    the resolution: [B,32,32,16] -> [B,16,16,32] -> [B,8,8,64].

    Args:
      num_classes: output logits.
      depth: 20, 32, 44, 56, 110... (6n + 2).
    """

    def __init__(self, num_classes, depth=20, **kwargs):
        super().__init__(**kwargs)
        if (depth - 2) % 6:
            raise ValueError(f"CifarResNet depth must be 6n+2 (20, 32, 44, 56, ...), got {depth}")
        self.num_classes = num_classes
        self.depth = depth
        blocks_per_stage = (depth - 2) // 6
        self.stem = ConvBNActivation(16, 3, name="stem")
        self.blocks = track_layers(self, [
            ResidualBlock(width, strides=2 if stage > 0 and block == 0 else 1, name=f"stage{stage}_block{block}")
            for stage, width in enumerate((16, 32, 64))
            for block in range(blocks_per_stage)
        ])
        self.global_pool = keras.layers.GlobalAveragePooling2D()
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    def call(self, images, training=False):
        x = self.stem(images, training=training)
        for block in self.blocks:
            x = block(x, training=training)
        return self.classifier(self.global_pool(x))

    def get_config(self):
        return {"num_classes": self.num_classes, "depth": self.depth, "name": self.name}
