"""The classification head the origin transfer-learning tutorial puts on a pretrained base."""

import keras


class TransferHead(keras.layers.Layer):
    """GlobalAveragePooling2D -> Dense(units, relu) -> Dense(num_classes) float32 logits.

    [B, H, W, C] features -> [B, C] -> [B, units] -> [B, num_classes]. The tutorial ends in a
    softmax; tapecraft's models return logits and the loss applies the softmax.

    Args:
      num_classes: output logits.
      units: width of the hidden layer (128 in the tutorial).
    """

    def __init__(self, num_classes, units=128, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.units = units
        self.global_pool = keras.layers.GlobalAveragePooling2D(name="global_pool")
        self.hidden = keras.layers.Dense(units, activation="relu", name="hidden")
        # Logits in float32 even under a mixed policy: softmax and the loss need its range.
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    def call(self, features):
        return self.classifier(self.hidden(self.global_pool(features)))

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, units=self.units)
        return config
