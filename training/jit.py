"""Whether the compiled step uses XLA (`--jit_compile=auto|true|false`).

`auto` follows measurements on the devices we run (benchmarks/RESULTS.md):
- GPU and TPU: XLA fuses elementwise work around matmuls and convolutions; on.
- CPU: XLA sped up dense networks (~1.2x over the graph loop), but its convolutions, and
  especially their gradients, are much slower than oneDNN's; and oneDNN's bfloat16 matmuls ran
  about 2x faster than XLA's. So on CPU XLA is on only for float32 models without convolutions.
"""

import tensorflow as tf

from core.devices import DeviceInfo


def convolution_ops(model, input_shape, dtype=tf.float32):
    """Names the convolution op types in the model's forward graph (any layer, built-in or user's)."""
    forward = tf.function(lambda images: model(images, training=False))
    graph = forward.get_concrete_function(tf.TensorSpec((1,) + tuple(input_shape), dtype)).graph
    return sorted({op.type for op in graph.get_operations() if "Conv" in op.type})


def resolve_jit_compile(setting, device: DeviceInfo, model, input_shape, compute_dtype):
    """Decides XLA for this device, model and precision.

    Args:
      setting: "auto", "true" or "false".
      device: where the step runs.
      model: a built model, inspected for convolutions when `setting` is "auto" on CPU.
      input_shape: one example's shape, to trace the model.
      compute_dtype: the policy's compute dtype ("float32", "bfloat16", "float16").

    Returns:
      (jit_compile, reason).
    """
    if setting in ("true", "false"):
        return setting == "true", "requested"
    if device.kind in ("gpu", "tpu"):
        return True, f"XLA fuses the step on {device.kind.upper()}"
    if compute_dtype != "float32":
        return False, f"oneDNN's {compute_dtype} kernels outrun XLA's on CPU"
    convolutions = convolution_ops(model, input_shape)
    if convolutions:
        return False, f"the model has convolutions ({', '.join(convolutions)}), which XLA compiles slowly on CPU"
    return True, "a float32 model without convolutions compiles well with XLA on CPU"
