"""Dense -> activation -> dropout: one hidden layer of a multilayer perceptron."""

import keras


class MLPBlock(keras.layers.Layer):
    """One hidden layer.

    Args:
      units: output width.
      activation: a Keras activation name.
      dropout: fraction of units dropped while training (0 disables).
    """

    def __init__(self, units, activation="relu", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation_name = activation
        self.dropout_rate = dropout
        self.dense = keras.layers.Dense(units, activation=activation, name="dense")
        self.dropout = keras.layers.Dropout(dropout) if dropout else None

    def call(self, inputs, training=False):
        x = self.dense(inputs)
        return self.dropout(x, training=training) if self.dropout is not None else x

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=self.activation_name, dropout=self.dropout_rate)
        return config
