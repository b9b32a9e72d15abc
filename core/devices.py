"""What hardware this process trains on, described once so that `auto` choices can use it."""

import dataclasses
import platform

import tensorflow as tf

# CPU flags (as /proc/cpuinfo spells them) that give native bfloat16 matmuls through oneDNN.
_CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """The accelerator kind and what it supports.

    Attributes:
      kind: "gpu", "tpu" or "cpu": the device the training step runs on.
      name: a human-readable model name, e.g. "NVIDIA A100-SXM4-40GB" or "AMD EPYC".
      count: how many devices of that kind are visible.
      compute_capability: (major, minor) for NVIDIA GPUs, else None.
      cpu_bfloat16: whether the CPU has native bfloat16 instructions (AVX512_BF16 or AMX).
    """

    kind: str
    name: str
    count: int
    compute_capability: tuple | None = None
    cpu_bfloat16: bool = False


def _cpu_flags_and_name():
    """Reads the CPU model name and feature flags; empty on systems without /proc/cpuinfo."""
    name, flags = platform.processor() or "CPU", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    name = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                if flags and name:
                    break
    except OSError:
        pass
    return name, flags


def detect_device() -> DeviceInfo:
    """Describes the device TensorFlow will place the training step on (TPU > GPU > CPU)."""
    if tf.config.list_logical_devices("TPU"):
        return DeviceInfo(kind="tpu", name="TPU", count=len(tf.config.list_logical_devices("TPU")))
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return DeviceInfo(
            kind="gpu",
            name=details.get("device_name", "GPU"),
            count=len(gpus),
            compute_capability=details.get("compute_capability"),
        )
    name, flags = _cpu_flags_and_name()
    return DeviceInfo(
        kind="cpu",
        name=name,
        count=1,
        cpu_bfloat16=any(flag in flags for flag in _CPU_BFLOAT16_FLAGS),
    )
