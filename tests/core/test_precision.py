"""Precision policy: what `auto` picks, which dtypes variables and computations get, loss scale state."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from core.checkpointing import TrainingCheckpoint
from core.devices import DeviceInfo
from layers.registry import create_model

PRECISIONS = ["float32", "mixed_float16", "mixed_bfloat16"]
COMPUTE_DTYPES = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


@pytest.mark.parametrize("device,policy,reason", [
    (DeviceInfo("gpu", "V100", 1, (7, 0)), "mixed_float16", "capability 7.x has float16 tensor cores only"),
    (DeviceInfo("gpu", "T4", 1, (7, 5)), "mixed_float16", "float16 tensor cores only"),
    (DeviceInfo("gpu", "A100", 1, (8, 0)), "mixed_bfloat16", "capability 8.x has bfloat16 tensor cores"),
    (DeviceInfo("gpu", "H100", 8, (9, 0)), "mixed_bfloat16", "bfloat16 tensor cores"),
    (DeviceInfo("gpu", "P100", 1, (6, 0)), "float32", "has no tensor cores"),
    (DeviceInfo("tpu", "TPU", 8), "mixed_bfloat16", "TPUs compute natively in bfloat16"),
    (DeviceInfo("cpu", "Xeon", 1, cpu_bfloat16=True), "mixed_bfloat16", "native bfloat16 instructions"),
    (DeviceInfo("cpu", "old CPU", 1, cpu_bfloat16=False), "float32", "no native bfloat16 instructions"),
], ids=["gpu7.0", "gpu7.5", "gpu8.0", "gpu9.0", "gpu6.0", "tpu", "cpu-bf16", "cpu"])
def test_auto_picks_by_device_and_says_why(device, policy, reason):
    chosen, why = precision_lib.resolve_precision("auto", device)
    assert chosen == policy
    assert reason in why


def test_a_requested_precision_is_kept_whatever_the_device():
    tpu = DeviceInfo("tpu", "TPU", 8)
    for name in PRECISIONS:
        assert precision_lib.resolve_precision(name, tpu) == (name, "requested")
    with pytest.raises(ValueError, match="unknown precision 'float8'"):
        precision_lib.resolve_precision("float8", tpu)


class ScaledDense(keras.layers.Layer):
    """A user's layer written with no precision code at all."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, inputs):
        self.seen_kernel_dtype = tf.convert_to_tensor(self.kernel).dtype.name  # The dtype it computes with.
        return tf.matmul(inputs, self.kernel) * self.scale


@pytest.mark.parametrize("policy", PRECISIONS)
def test_a_users_layer_stores_float32_and_computes_in_the_policy_dtype(policy):
    with precision_lib.precision_scope(policy):
        layer = ScaledDense(3)
    outputs = layer(tf.ones((2, 4)))  # float32 inputs, as the input pipeline gives them.
    assert layer.kernel.dtype == "float32" and layer.scale.dtype == "float32"
    assert layer.seen_kernel_dtype == COMPUTE_DTYPES[policy]
    assert outputs.dtype == COMPUTE_DTYPES[policy]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_layer_can_insist_on_float32_with_dtype_float32(policy):
    with precision_lib.precision_scope(policy):
        layer = ScaledDense(3, dtype="float32")  # How a numerically delicate layer opts out.
    outputs = layer(tf.ones((2, 4), COMPUTE_DTYPES[policy]))  # Low-precision inputs are cast up.
    assert layer.seen_kernel_dtype == "float32"
    assert outputs.dtype == "float32"


@pytest.mark.parametrize("policy", PRECISIONS)
def test_batchnorm_statistics_stay_float32_even_beyond_float16_range(policy):
    with precision_lib.precision_scope(policy):
        norm = keras.layers.BatchNormalization(momentum=0.0)  # momentum 0: moving stats = this batch's.
    # Values of ~300 have a variance of ~90,000: past float16's largest finite value, 65,504.
    inputs = np.random.RandomState(0).normal(0.0, 300.0, size=(256, 4)).astype(np.float32)
    outputs = norm(inputs, training=True)
    assert outputs.dtype == COMPUTE_DTYPES[policy]
    assert norm.moving_variance.dtype == "float32" and norm.moving_mean.dtype == "float32"
    # The statistics of the inputs as the layer received them (rounded to the compute dtype).
    received = tf.cast(tf.cast(inputs, COMPUTE_DTYPES[policy]), tf.float32).numpy()
    np.testing.assert_allclose(norm.moving_variance.numpy(), received.var(axis=0), rtol=1e-3)
    np.testing.assert_allclose(norm.moving_mean.numpy(), received.mean(axis=0), rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("model_name", ["mlp", "small_cnn"])
@pytest.mark.parametrize("policy", PRECISIONS)
def test_registered_models_keep_float32_variables_and_give_float32_logits(model_name, policy):
    with precision_lib.precision_scope(policy):
        model = create_model(model_name, num_classes=10)
    logits = model(tf.zeros((2, 8, 8, 1)), training=False)
    assert logits.dtype == "float32"
    assert {variable.dtype for variable in model.variables} <= {"float32", "int64", "uint32", "int32"}
    assert all(variable.dtype == "float32" for variable in model.trainable_variables)


def test_only_float16_gets_a_loss_scale_optimizer():
    for policy, scaled in [("float32", False), ("mixed_bfloat16", False), ("mixed_float16", True)]:
        optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.SGD(0.1), policy)
        optimizer.build([tf.Variable(1.0)])
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) is scaled
        assert (precision_lib.loss_scale_of(optimizer) is None) is not scaled


def test_the_loss_scale_and_its_growth_counter_live_in_the_optimizer_checkpoint(tmp_path):
    variables = [tf.Variable(tf.ones((3, 2)))]

    def make_optimizer():
        optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.Adam(0.1), "mixed_float16")
        optimizer.build(variables)
        return optimizer

    saved = make_optimizer()
    saved.dynamic_scale.assign(2.0**7)
    saved.step_counter.assign(5)
    TrainingCheckpoint(str(tmp_path), optimizer=saved).save(step=1)

    restored = make_optimizer()
    assert float(restored.dynamic_scale) == precision_lib.INITIAL_LOSS_SCALE  # Fresh, before restoring.
    TrainingCheckpoint(str(tmp_path), optimizer=restored).restore_latest()
    assert float(restored.dynamic_scale) == 2.0**7
    assert int(restored.step_counter) == 5
