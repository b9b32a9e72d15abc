"""A conformance kit for Keras layers: one call checks that a layer works beyond eager mode.

    from layers.conformance import check_layer
    check_layer(lambda: MyLayer(units=8), input_shape=(4, 16))

checks eager vs tf.function vs XLA, mixed float16/bfloat16, a compiled training step without
retracing, checkpoint restore, get_config round trip and a 2-replica MirroredStrategy, and
raises a ConformanceError with one line per failure.
"""

from layers.conformance.errors import ConformanceError, Failure
from layers.conformance.runner import CHECKS, PRECISIONS, check_layer

__all__ = ["CHECKS", "PRECISIONS", "ConformanceError", "Failure", "check_layer"]
