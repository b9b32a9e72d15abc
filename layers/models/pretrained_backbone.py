"""What VGG16 and ResNet-50 share: a keras.applications base between caffe preprocessing and
either the origin tutorial's transfer head or the ImageNet top.

The protocol the rest of tapecraft relies on: `BLOCK_NAMES` and `base_blocks()` (the units
`--unfreeze_from` and layers/freezing.py work with), `pretrained_layers()` (what a weight file
fills, layers/pretrained_weights.py), `extract_features()` (the base's output).
"""

import keras

from layers.caffe_preprocessing import CaffePreprocessing
from layers.transfer_head import TransferHead


class PretrainedBackbone(keras.Model):
    """Caffe preprocessing -> the blocks of BLOCK_NAMES -> transfer head or ImageNet top.

    A subclass sets BLOCK_NAMES, makes its blocks as attributes of those names (attributes,
    not a list: tf.train.Checkpoint does not see layers held in a Python list), then calls
    `make_head()`, and defines `pretrained_layers()` and `imagenet_top(features)`.

    Args:
      num_classes: output logits.
      include_top: False: GAP -> Dense(head_units, relu) -> logits (the origin tutorial's head).
        True: keras.applications' ImageNet top, for weight files with top.
      head_units: hidden width of the transfer head.
    """

    BLOCK_NAMES = ()

    def __init__(self, num_classes, include_top=False, head_units=128, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.include_top = include_top
        self.head_units = head_units
        self.preprocessing = CaffePreprocessing(name="preprocessing")

    def make_head(self):
        """The transfer head, when there is no ImageNet top; called after the blocks are made."""
        if not self.include_top:
            self.head = TransferHead(self.num_classes, self.head_units, name="head")

    def base_blocks(self):
        """[(name, layer)] of the pretrained base in forward order, the units of freezing."""
        return [(name, getattr(self, name)) for name in self.BLOCK_NAMES]

    def extract_features(self, images, training=False):
        """The base's output for [B, H, W, C] pixels in [0, 1]."""
        x = self.preprocessing(images)
        for _, block in self.base_blocks():
            x = block(x, training=training)
        return x

    def call(self, images, training=False):
        features = self.extract_features(images, training=training)
        return self.imagenet_top(features) if self.include_top else self.head(features)

    def get_config(self):
        return {"num_classes": self.num_classes, "include_top": self.include_top,
                "head_units": self.head_units, "name": self.name}
