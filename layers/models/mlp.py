"""A multilayer perceptron on flattened images (the origin tutorial's 28x28x1 MLP)."""

import keras

from layers.checkpoint_tracking import track_layers
from layers.mlp_block import MLPBlock


class MLP(keras.Model):
    """Flatten -> hidden MLPBlocks -> float32 logits.

    Args:
      num_classes: output logits.
      hidden_units: width of each hidden layer.
      dropout: dropout after each hidden layer.
    """

    def __init__(self, num_classes, hidden_units=(512, 512), dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.hidden_units = tuple(hidden_units)
        self.dropout = dropout
        self.flatten = keras.layers.Flatten()
        self.hidden = track_layers(self, [
            MLPBlock(units, dropout=dropout, name=f"hidden{i}") for i, units in enumerate(hidden_units)])
        # Logits in float32 even under a mixed policy: softmax and the loss need its range.
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    def call(self, images, training=False):
        x = self.flatten(images)
        for block in self.hidden:
            x = block(x, training=training)
        return self.classifier(x)

    def get_config(self):
        return {"num_classes": self.num_classes, "hidden_units": self.hidden_units, "dropout": self.dropout,
                "name": self.name}
