"""Peak memory of the training device, per loop: what a batch size or model costs.

On a GPU, TensorFlow's allocator counts the bytes it holds and their peak since the last reset
(`tf.config.experimental.get_memory_info` / `reset_memory_stats`), so each loop gets its own
peak. On a CPU the allocator reports nothing (`{'current': 0, 'peak': 0}`); the figure is the
process's peak resident set size (`getrusage`'s ru_maxrss), which the kernel cannot reset: it is
the peak of the whole process so far, a bound on any one loop's.
"""

import resource
import sys

import tensorflow as tf


class PeakMemory:
    """Reads, then resets, the peak memory of the devices a run trains on.

    Args:
      device_kind: "gpu", "tpu" or "cpu" (core/devices.py).
    """

    def __init__(self, device_kind: str):
        self.kind = device_kind
        self._devices = ([device.name.replace("/physical_device:", "") for device in
                          tf.config.list_physical_devices("GPU")] if device_kind == "gpu" else [])
        # TPU memory info needs the TPU runtime's own API; the host's RSS is what we can say there too.
        self.source = "device allocator peak" if self._devices else "process peak RSS"

    def peak_bytes(self) -> int:
        """The largest peak over the devices since the last call (GPU), or the process's peak RSS.

        A GPU whose allocator cannot be read counts as 0.
        """
        if self._devices:
            peaks = []
            for device in self._devices:
                try:
                    peaks.append(tf.config.experimental.get_memory_info(device)["peak"])
                    tf.config.experimental.reset_memory_stats(device)
                except (ValueError, tf.errors.OpError):
                    peaks.append(0)
            return max(peaks)
        return process_peak_rss_bytes()

    def scalar_name(self) -> str:
        """The TensorBoard tag: device memory and host memory are different figures."""
        return "peak_device_memory_bytes" if self._devices else "peak_host_memory_bytes"


def process_peak_rss_bytes() -> int:
    """The process's peak resident set size in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def format_bytes(count: int) -> str:
    """1536 -> '1.5 KiB'; 3 * 2**30 -> '3.0 GiB'."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.1f} GiB"
