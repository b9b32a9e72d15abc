"""Whether the compiled step uses XLA (`--jit_compile=auto|true|false|loop`).

`auto` follows what was measured on the devices we have (benchmarks/RESULTS.md, "XLA per step, XLA
over the whole loop, or no XLA"):
- GPU and TPU: XLA fuses elementwise work around matmuls and convolutions; on, per step (not
  measured here: no accelerator).
- CPU: XLA's convolutions, and above all their gradients, are slower than oneDNN's, and so are its
  attention matmuls and embedding gradients; in bfloat16, oneDNN's matmuls outran XLA's. So on CPU
  XLA is on only for float32 networks with no op of SLOW_ON_XLA_CPU, and then for the whole loop
  (`loop`), which ran faster than the XLA step launched once per step by a graph loop.
- Any device: a model with an op XLA has no kernel for (tf.py_function, string ops...) runs
  without XLA under `auto`; with `true` the first step stops with an XlaCompileError naming the
  op and the fallback, `--jit_compile=false`.

The CPU figures: examples/s medians, with XLA vs without, in one run (2 cores, 2026-11-23):
  MLP 784-512-512-10, float32: XLA step 1.02x (39,742 vs 38,842), whole loop 1.14x (44,446 vs 38,842);
    mixed_bfloat16: XLA step 0.75x (33,863 vs 45,304), whole loop 0.91x (41,438 vs 45,304);
  transformer classifier, float32: XLA step 0.81x (284 vs 352), whole loop 0.87x (305 vs 352);
  CIFAR CNN, float32: XLA step 0.54x (401 vs 739); mixed_bfloat16: 0.34x (401 vs 1,190);
from benchmarks/results/jit_dense.jsonl, written by
  python -m benchmarks.throughput --workload=mlp,transformer --precision=float32,mixed_bfloat16
      --jit_compile=loop,true,false --steps_per_loop=16 --steps=32 --repeats=5 ...
and benchmarks/results/jit_cnn.jsonl, written by
  python -m benchmarks.throughput --workload=cifar_cnn --precision=float32,mixed_bfloat16
      --jit_compile=true,false --steps_per_loop=4 --steps=4 --repeats=5 --nomfu ...
(the lines' `command` fields have the full commands).
"""

import contextlib
import re

import tensorflow as tf

from core.devices import DeviceInfo


# Parts of op type names whose XLA CPU code (with its gradients) ran slower than TensorFlow's
# kernels: convolutions, attention's batched matmuls, embedding lookups.
SLOW_ON_XLA_CPU = ("Conv", "BatchMatMul", "Einsum", "Gather")


def forward_ops(model, input_shape, name_parts, dtype=tf.float32):
    """Names the forward graph's op types containing any of `name_parts` (any layer, user's too)."""
    forward = tf.function(lambda inputs: model(inputs, training=False))
    graph = forward.get_concrete_function(_input_spec(input_shape, dtype)).graph
    return sorted({op.type for op in graph.get_operations() if any(part in op.type for part in name_parts)})


def resolve_jit_compile(setting, device: DeviceInfo, model, input_shape, compute_dtype, cpu_measurement=None):
    """Decides XLA for this device, model and precision.

    Args:
      setting: "auto", "true", "false" or "loop" (XLA for the step and the loop around it).
      device: where the step runs.
      model: a built model, or a task's forward `(batch, training) -> ...`, inspected for ops of
        SLOW_ON_XLA_CPU when `setting` is "auto" on CPU.
      input_shape: one example's shape, or a nest of tf.TensorSpec of a one-example batch.
      compute_dtype: the policy's compute dtype ("float32", "bfloat16", "float16").
      cpu_measurement: optional, a task's own float32 CPU verdict from a measurement of its
        workload, (use_xla, reason), which replaces the op rule: the language model's attention,
        unlike the transformer classifier's, ran faster under XLA (training/tasks/language_model.py).

    Returns:
      (jit_compile, reason).
    """
    if setting in ("true", "false", "loop"):
        return setting != "false", "requested"
    if device.kind == "cpu":
        if compute_dtype != "float32":
            return False, f"oneDNN's {compute_dtype} kernels outrun XLA's on CPU"
        slow = forward_ops(model, input_shape, SLOW_ON_XLA_CPU)
        if cpu_measurement is not None:
            use_xla, reason = cpu_measurement
            if not use_xla:
                return False, reason
            slow = []
        if slow:
            return False, f"the model has ops ({', '.join(slow)}) that XLA runs slowly on CPU"
    unsupported = uncompilable_ops(model, input_shape)
    if unsupported:
        return False, f"XLA cannot compile the model's op {unsupported}"
    if device.kind in ("gpu", "tpu"):
        return True, f"XLA fuses the step on {device.kind.upper()}"
    if cpu_measurement is not None:
        return True, cpu_measurement[1]
    return True, "a float32 model without convolutions, attention or embeddings compiles well with XLA on CPU"


def resolve_loop_compilation(setting, jit_compile, device: DeviceInfo, num_replicas):
    """Decides whether XLA compiles the whole training loop (training.loop's `compile_loop`).

    Args:
      setting: the `--jit_compile` value.
      jit_compile: the step's XLA decision from `resolve_jit_compile`.
      device: where the step runs.
      num_replicas: replicas in sync; the loop reads its batches ahead for one replica only.

    Returns:
      (compile_loop, reason); the reason is "" when the loop is not compiled.
    """
    if not jit_compile or setting in ("true", "false"):
        return False, ""
    if num_replicas != 1:
        return False, ""  # Each replica's step is compiled; the loop stays a graph loop.
    if setting == "loop":
        return True, "the whole loop is compiled, as requested"
    if device.kind == "cpu":
        # The reason names the cost, not a figure: the measured gain depends on the model (above).
        return True, "the whole loop is compiled: on CPU a graph loop pays a host launch of the XLA step per step"
    # GPU/TPU: stacking steps_per_loop image batches in device memory could take gigabytes.
    return False, ""


class XlaCompileError(RuntimeError):
    """The model uses an op XLA cannot compile; the message names it and the fallback."""


# How TensorFlow reports an op without an XLA kernel:
#   "... on XLA_CPU_JIT: PyFunc (No registered 'PyFunc' OpKernel for XLA_CPU_JIT devices
#    compatible with node {{node my_net/bad_layer/PyFunc}}){{node my_net/bad_layer/PyFunc}}"
_UNSUPPORTED_OP = re.compile(
    r"No registered '(\w+)' OpKernel for \w+ devices compatible with node \{\{node ([^}]+)\}\}")
# Other compilation failures (shapes XLA needs as constants, conversion errors).
_COMPILE_FAILURES = ("Detected unsupported operations", "tf2xla conversion failed",
                     "XLA compilation requires")
_ANY_NODE = re.compile(r"\{\{node ([^}]+)\}\}")
FALLBACK_ADVICE = "run with --jit_compile=false (TrainConfig(jit_compile='false')) to train without XLA"


def describe_xla_failure(message):
    """One sentence naming what XLA could not compile, or None when `message` is not an XLA failure."""
    unsupported = dict.fromkeys(_UNSUPPORTED_OP.findall(message))  # Ordered, without repeats.
    if unsupported:
        ops = ", ".join(f"{op_type} (node {node})" for op_type, node in unsupported)
        return (f"XLA cannot compile the step: the model uses op {ops}, which has no XLA kernel; "
                f"{FALLBACK_ADVICE}")
    reasons = [line.strip() for line in message.splitlines()
               if any(mark in line for mark in _COMPILE_FAILURES)]
    if not reasons:
        return None
    node = _ANY_NODE.search(message)
    where = f" at node {node.group(1)}" if node else ""
    return f"XLA cannot compile the step{where} ({reasons[0][:200]}); {FALLBACK_ADVICE}"


@contextlib.contextmanager
def explain_xla_errors():
    """Re-raises an XLA compilation failure of the code inside as one clear XlaCompileError.

    Compilation happens on a compiled function's first call (and on a retrace), before the
    step changes any variable; only the input iterator has moved on by one batch.
    """
    try:
        yield
    except tf.errors.OpError as error:
        explanation = describe_xla_failure(error.message)
        if explanation is None:
            raise
        raise XlaCompileError(explanation) from None


def uncompilable_ops(model, input_shape):
    """Describes the ops of the model's forward pass that XLA cannot compile; "" when none.

    Converts the graph to XLA's HLO without compiling it to machine code: cheap next to a step.
    """
    spec = _input_spec(input_shape, tf.float32)
    # The compiler-IR call takes flat tensor specs, not a nest: the batch is packed inside.
    forward = tf.function(lambda *flat: model(tf.nest.pack_sequence_as(spec, flat), training=False),
                          jit_compile=True)
    try:
        forward.experimental_get_compiler_ir(*tf.nest.flatten(spec))(stage="hlo")
    except (ValueError, tf.errors.OpError) as error:
        return ", ".join(op_type for op_type, _ in _UNSUPPORTED_OP.findall(str(error))) or "unknown"
    return ""


def _input_spec(input_shape, dtype):
    """What to trace `model` on: `input_shape` itself when it is a nest of tf.TensorSpec (a task's
    batch), else one example of that shape."""
    if all(isinstance(spec, tf.TensorSpec) for spec in tf.nest.flatten(input_shape)):
        return input_shape
    return tf.TensorSpec((1,) + tuple(input_shape), dtype)
