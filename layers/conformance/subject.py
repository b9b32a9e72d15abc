"""The layer under test: how to construct it, feed it and turn its output into a loss."""

import numpy as np
import tensorflow as tf

from core.precision import precision_scope
from layers.conformance.errors import CheckFailed

# Integer inputs without an input_factory are uniform in [0, DEFAULT_INTEGER_HIGH).
DEFAULT_INTEGER_HIGH = 10


class LayerUnderTest:
    """Makes fresh instances of a layer and the inputs every check feeds it.

    Args:
      factory: a zero-argument callable returning a NEW layer each call.
      input_shape: the full input shape, batch included, e.g. (4, 8, 16).
      input_dtype: "float32" (standard-normal values) or an integer dtype such as "int32"
        (uniform in [0, DEFAULT_INTEGER_HIGH)).
      input_factory: optional callable(seed) -> array of `input_shape`, overriding the above,
        e.g. token ids from a real vocabulary. Different seeds must give different values.
      output_dtype: the output dtype the layer promises under a mixed policy; None means the
        policy's compute dtype (pass "float32" for a model whose logits are float32).
      seed: base seed of the inputs and of the random loss projection.
    """

    def __init__(self, factory, input_shape, input_dtype="float32", input_factory=None, output_dtype=None,
                 seed=0):
        self.factory = factory
        self.input_dtype = tf.as_dtype(input_dtype)
        self.input_factory = input_factory
        self.output_dtype = output_dtype
        self.seed = seed
        if input_shape is None:
            if input_factory is None:
                raise ValueError("check_layer needs input_shape, or an input_factory to take it from")
            input_shape = np.shape(input_factory(seed))
        self.input_shape = tuple(input_shape)
        self.name = "layer"
        self._shared = {}
        self.train_step = None  # (compiled step, trace count) of the shared instance, made on demand.

    def create(self, policy="float32"):
        """Constructs a layer under `policy` and builds it with one eager call; returns (layer, output)."""
        with precision_scope(policy):
            layer = self.factory()
        if not hasattr(layer, "trainable_variables") or not callable(layer):
            raise CheckFailed(f"layer_factory returned {type(layer).__name__}, not a keras Layer")
        self.name = type(layer).__name__
        output = layer(self.inputs(), training=False)
        return layer, output

    def shared(self, policy="float32"):
        """One built instance per policy, reused by the checks that only need some instance.

        Building is the slow part of most checks (a first eager call of a small ResNet takes
        ~0.7 s); sharing cuts a full run from ~14 builds to 6. Checks may change its weights.
        """
        if policy not in self._shared:
            self._shared[policy], _ = self.create(policy)
        return self._shared[policy]

    def inputs(self, offset=0):
        """The input batch; `offset` gives another batch of the same shape and dtype."""
        seed = self.seed + offset
        if self.input_factory is not None:
            values = np.asarray(self.input_factory(seed))
            if tuple(values.shape) != self.input_shape:
                raise CheckFailed(f"input_factory({seed}) gave shape {values.shape}, expected "
                                  f"{self.input_shape}")
            return tf.constant(values, dtype=self.input_dtype)
        generator = np.random.default_rng(seed)
        if self.input_dtype.is_integer:
            ids = generator.integers(0, DEFAULT_INTEGER_HIGH, self.input_shape)
            return tf.constant(ids, self.input_dtype)
        return tf.constant(generator.standard_normal(self.input_shape), self.input_dtype)

    def loss(self, output):
        """sum(output * r) / size for a fixed random r: a scalar whose gradient reaches every
        output element with a different weight (a plain sum is blind to mean-free outputs,
        e.g. after a normalization)."""
        output = tf.cast(output, tf.float32)
        projection = tf.random.stateless_normal(tf.shape(output), seed=[self.seed, 1])
        return tf.reduce_sum(output * projection) / tf.cast(tf.size(output), tf.float32)

    def expected_output_dtype(self, layer):
        """What dtype `layer`'s output must have under the policy it was constructed with."""
        if self.output_dtype is not None:
            return tf.as_dtype(self.output_dtype)
        # A layer constructed with dtype="float32" under a mixed policy declares float32 outputs.
        return tf.as_dtype(layer.dtype_policy.compute_dtype)


def variable_name(variable):
    """The variable's path in the layer tree (e.g. "block0/attention/qkv_kernel"), for messages."""
    return getattr(variable, "path", variable.name)
