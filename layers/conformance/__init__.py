"""A conformance kit for Keras layers: one call checks that a layer works beyond eager mode.

    from layers.conformance import check_layer
    report = check_layer(lambda: MyLayer(units=8), input_shape=(4, 16))

checks eager vs tf.function vs XLA, mixed float16/bfloat16, a compiled training step without
retracing, checkpoint restore, get_config round trip and a 2-replica MirroredStrategy, and
raises a ConformanceError with one line per failure. The returned ConformanceReport says which
checks ran, what each verified, and which were skipped and why.
"""

from layers.conformance.errors import ConformanceError, Failure
from layers.conformance.report import ConformanceReport, Outcome
from layers.conformance.runner import CHECKS, PRECISIONS, check_layer

__all__ = [
    "CHECKS", "PRECISIONS", "ConformanceError", "ConformanceReport", "Failure", "Outcome", "check_layer",
]
