"""The datasheet peak FLOP/s of known accelerators: the denominator of a run's MFU.

A run cannot afford to measure its device's peak at start (benchmarks/peak.py times large matmuls
for that); it looks the device up instead. Only devices whose vendor publishes a dense matmul peak
per dtype are listed; any other device, CPUs included, has no entry and the run says that MFU is
unavailable rather than guess. Figures are dense (no 2:4 sparsity), in TFLOP/s, from NVIDIA's
product datasheets (V100, T4, A100, L4, H100 SXM). float32 on Ampere and later runs its matmuls in
TF32 when TensorFlow allows it (the default), so that peak applies.
"""

import re

import tensorflow as tf

# name pattern -> {compute dtype: dense TFLOP/s}; "tfloat32" is float32 matmuls run as TF32.
_PEAK_TFLOPS = (
    (r"\bH100\b(?!.*PCIe)", {"float32": 67.0, "tfloat32": 494.7, "bfloat16": 989.4, "float16": 989.4}),
    (r"\bA100\b", {"float32": 19.5, "tfloat32": 156.0, "bfloat16": 312.0, "float16": 312.0}),
    (r"\bL4\b", {"float32": 30.3, "tfloat32": 60.0, "bfloat16": 121.0, "float16": 121.0}),
    (r"\bV100\b", {"float32": 15.7, "float16": 125.0}),
    (r"\bT4\b", {"float32": 8.1, "float16": 65.0}),
)


def peak_flops_per_second(device_name: str, compute_dtype: str):
    """The datasheet peak of one device for matmuls in `compute_dtype`, or None when unknown.

    Args:
      device_name: core/devices.py's DeviceInfo.name, e.g. "NVIDIA A100-SXM4-40GB".
      compute_dtype: the precision policy's compute dtype: "float32", "bfloat16" or "float16".
    """
    for pattern, peaks in _PEAK_TFLOPS:
        if re.search(pattern, device_name.replace("-", " ")):
            if compute_dtype == "float32" and "tfloat32" in peaks and \
                    tf.config.experimental.tensor_float_32_execution_enabled():
                compute_dtype = "tfloat32"
            tflops = peaks.get(compute_dtype)
            return None if tflops is None else tflops * 1e12
    return None
