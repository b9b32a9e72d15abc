"""XLA: the compiled step agrees with the graph step under each precision; uncompilable ops are named."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from core.devices import DeviceInfo
from layers.models import MLP
from layers.registry import create_model
from training import TrainConfig, train_and_evaluate
from training.ema import ExponentialMovingAverage
from training.jit import XlaCompileError, describe_xla_failure, resolve_jit_compile
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

# Largest difference in the weights' change (and the averages) after 3 steps, XLA against the
# graph step, as a fraction of the largest change. XLA fuses and reorders the arithmetic, which
# moves float32's last bits (measured 7e-7); in bfloat16 it rounds intermediates differently
# (measured 3.5e-3; one bfloat16 rounding is 4e-3). float16 measured 7e-7 here; its bound allows
# two float16 roundings (2 x 4.9e-4). SGD keeps this a fair comparison: Adam divides tiny
# gradients by their own size and turns a rounding difference into a full-size step.
TOLERANCES = {"float32": 1e-5, "mixed_float16": 1e-3, "mixed_bfloat16": 2e-2}


def _train_with_toolbox(policy, jit_compile, batches):
    """Weight changes and averages of an MLP trained with accumulation, clipping and EMA."""
    keras.utils.set_random_seed(0)
    with precision_lib.precision_scope(policy):
        model = MLP(10, hidden_units=(64,))  # One hidden layer: XLA compiles it in a fraction of the time.
        model(tf.zeros((1, 8, 8, 1)))
    optimizer = precision_lib.wrap_for_loss_scaling(keras.optimizers.SGD(0.1, momentum=0.9), policy)
    optimizer.build(model.trainable_variables)
    ema = ExponentialMovingAverage(model.trainable_variables, 0.9)
    step = make_train_step(CLASSIFICATION, model, optimizer, TaskMetrics("train", CLASSIFICATION), 32,
                           grad_accum_steps=2, clip_grad_norm=1.0, gradient_norm=keras.metrics.Mean(), ema=ema)
    compiled = tf.function(step, jit_compile=jit_compile)
    initial = [v.numpy() for v in model.trainable_variables]
    for batch in batches:
        compiled(batch)
    changes = [v.numpy() - i for v, i in zip(model.trainable_variables, initial)]
    return changes, [a.numpy() for a in ema.averages]


@pytest.mark.parametrize("policy", sorted(TOLERANCES))
def test_xla_and_graph_steps_agree_with_the_whole_toolbox(policy):
    rng = np.random.RandomState(0)
    batches = [(tf.constant(rng.uniform(size=(32, 8, 8, 1)).astype(np.float32)),
                tf.constant(rng.randint(0, 10, size=32).astype(np.int32))) for _ in range(3)]
    graph_changes, graph_averages = _train_with_toolbox(policy, False, batches)
    xla_changes, xla_averages = _train_with_toolbox(policy, True, batches)
    largest = max(np.abs(change).max() for change in graph_changes)
    assert largest > 1e-3, "the steps did not train"
    for a, b in zip(graph_changes, xla_changes):
        np.testing.assert_allclose(b, a, rtol=0, atol=TOLERANCES[policy] * largest)
    for a, b in zip(graph_averages, xla_averages):
        np.testing.assert_allclose(b, a, rtol=0, atol=TOLERANCES[policy] * largest)


class HostRounding(keras.layers.Layer):
    """A user's layer that calls back into Python, which XLA cannot compile."""

    def call(self, inputs):
        outputs = tf.numpy_function(np.round, [inputs], inputs.dtype)
        outputs.set_shape(inputs.shape)
        return inputs + tf.stop_gradient(outputs - inputs)


class NetWithHostRounding(keras.Model):
    def __init__(self, num_classes):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.rounding = HostRounding(name="host_rounding")
        self.classifier = keras.layers.Dense(num_classes, dtype="float32")

    def call(self, images, training=False):
        return self.classifier(self.rounding(self.flatten(images)))


def test_forced_xla_stops_with_one_clear_error_naming_the_op_and_the_fallback(tmp_path):
    config = TrainConfig(model="mlp", train_steps=4, warmup_steps=1, steps_per_loop=2, precision="float32",
                         jit_compile="true", model_dir=str(tmp_path))
    with pytest.raises(XlaCompileError) as error:
        train_and_evaluate(config, model_fn=NetWithHostRounding, log=lambda line: None)
    message = str(error.value)
    assert "op PyFunc" in message and "host_rounding" in message  # The op type and where it is.
    assert "--jit_compile=false" in message
    assert "\n" not in message


def test_the_script_reports_it_in_one_line_on_stderr(tmp_path):
    # A subprocess (~6 s, mostly TensorFlow's import): the point is what a user's terminal shows.
    (tmp_path / "user_nets.py").write_text(textwrap.dedent("""
        import keras, numpy as np, tensorflow as tf

        class Net(keras.Model):
            def __init__(self, num_classes):
                super().__init__()
                self.flatten = keras.layers.Flatten()
                self.classifier = keras.layers.Dense(num_classes)

            def call(self, images, training=False):
                x = self.flatten(images)
                rounded = tf.numpy_function(np.round, [x], x.dtype)
                rounded.set_shape(x.shape)
                return self.classifier(x + tf.stop_gradient(rounded - x))
    """))
    repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run(
        [sys.executable, "-m", "training.train", "--model=user_nets:Net", "--jit_compile=true",
         "--train_steps=4", "--warmup_steps=1", "--steps_per_loop=2", "--precision=float32",
         f"--model_dir={tmp_path / 'run'}"],
        cwd=repository, env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), repository])),
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: XLA cannot compile the step: the model uses op PyFunc (node ")
    assert "--jit_compile=false" in lines[0]


def test_auto_leaves_xla_off_for_a_model_xla_cannot_compile():
    model = NetWithHostRounding(10)
    model(tf.zeros((1, 8, 8, 1)))
    for device in (DeviceInfo("gpu", "A100", 1, (8, 0)), DeviceInfo("cpu", "CPU", 1)):
        jit_compile, reason = resolve_jit_compile("auto", device, model, (8, 8, 1), "float32")
        assert not jit_compile
        assert reason == "XLA cannot compile the model's op PyFunc"
    mlp = create_model("mlp", 10)
    mlp(tf.zeros((1, 8, 8, 1)))
    assert resolve_jit_compile("auto", DeviceInfo("gpu", "A100", 1, (8, 0)), mlp, (8, 8, 1), "bfloat16") == (
        True, "XLA fuses the step on GPU")


def test_errors_that_are_not_xla_compilation_failures_are_left_alone():
    assert describe_xla_failure("Graph execution error: OOM when allocating tensor") is None
    shapes = describe_xla_failure("XLA compilation requires that operator arguments that represent shapes be "
                                  "compile-time constants {{node net/reshape}}")
    assert shapes.startswith("XLA cannot compile the step at node net/reshape (XLA compilation requires")
