"""A small VGG-style CNN: the default model, sized for 8x8 digits up to 32x32 CIFAR images."""

import keras

from layers.checkpoint_tracking import track_layers
from layers.conv_bn import ConvBNActivation


class SmallCNN(keras.Model):
    """Stages of two conv-BN-ReLU layers and a 2x2 max-pool, then global average pooling.

    Shapes for a 32x32x3 input with widths (32, 64, 128):
      [B,32,32,3] -> [B,16,16,32] -> [B,8,8,64] -> [B,4,4,128] -> GAP [B,128] -> [B,classes].

    Args:
      num_classes: output logits.
      widths: channels of each stage; each stage halves the resolution.
      dropout: dropout before the classifier.
    """

    def __init__(self, num_classes, widths=(32, 64), dropout=0.2, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.widths = tuple(widths)
        self.dropout_rate = dropout
        self.stages = [
            track_layers(self, [ConvBNActivation(width, name=f"stage{i}_conv{j}") for j in range(2)])
            for i, width in enumerate(widths)
        ]
        self.pool = keras.layers.MaxPooling2D(2)
        self.global_pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    def call(self, images, training=False):
        x = images
        for stage in self.stages:
            for conv in stage:
                x = conv(x, training=training)
            x = self.pool(x)
        x = self.dropout(self.global_pool(x), training=training)
        return self.classifier(x)

    def get_config(self):
        return {"num_classes": self.num_classes, "widths": self.widths, "dropout": self.dropout_rate,
                "name": self.name}
