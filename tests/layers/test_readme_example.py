"""The README's conformance example, verbatim: a user's own layer checked in the user's own test.

Keep in step with the "Check your own layer" section of README.md.
"""

import keras

from layers.conformance import check_layer


class ScaledDense(keras.layers.Layer):
    """A dense layer with a learned output scale."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.kernel) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_scaled_dense_conforms():
    check_layer(lambda: ScaledDense(8), input_shape=(4, 16))
