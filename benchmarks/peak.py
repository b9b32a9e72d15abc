"""The device's peak FLOP/s, measured in the same run: the denominator of MFU.

A datasheet peak says little on a shared 2-core VM (turbo, neighbours, AVX-512 clocks), so we
measure the fastest thing the device does, a large square matmul, at the dtype the policy
computes in. Both TensorFlow's own kernel (oneDNN on CPU, cuBLAS on GPU) and XLA's run, as
runners (timing.py) taking turns with the training steps, so the peak sees the same load; the
best repeat of either counts. MFU then says how close the step comes to the best matmul this
device gave us during the run.
"""

import tensorflow as tf

from benchmarks.timing import time_calls

# Matmul side: big enough that the kernel, not the launch, dominates; 2 * 2048**3 = 17 GFLOP
# takes ~0.1-0.2 s on two CPU cores.
CPU_MATMUL_SIZE = 2048
GPU_MATMUL_SIZE = 8192
KERNELS = ("tensorflow", "xla")


class MatmulRunner:
    """A runner whose "step" is one `size` x `size` matmul in `dtype`.

    Args:
      dtype: "float32", "bfloat16" or "float16".
      kernel: "tensorflow" (oneDNN / cuBLAS) or "xla".
      size: matmul side; by default CPU_MATMUL_SIZE, or GPU_MATMUL_SIZE when a GPU is present.
      calls_per_repeat: matmuls per timed repeat, whatever the training steps per repeat.
    """

    steps_per_call = 1

    def __init__(self, dtype: str, kernel: str, size: int | None = None, calls_per_repeat: int = 3):
        if size is None:
            size = GPU_MATMUL_SIZE if tf.config.list_physical_devices("GPU") else CPU_MATMUL_SIZE
        self.dtype = dtype
        self.kernel = kernel
        self.size = size
        self.flops_per_step = 2 * size**3
        self.calls_per_repeat = calls_per_repeat
        generator = tf.random.Generator.from_seed(0)
        self._left = tf.cast(generator.normal((size, size)), dtype)
        self._right = tf.cast(generator.normal((size, size)), dtype)
        self._matmul = tf.function(tf.linalg.matmul, jit_compile=kernel == "xla")
        self._product = None

    def run(self, calls):
        return time_calls(self._multiply, self.sync, calls), calls

    def _multiply(self):
        self._product = self._matmul(self._left, self._right)

    def sync(self):
        """Copies one element of the last product to the host, which waits for the matmul."""
        return float(self._product[0, 0].numpy())


def peak_runners(dtypes) -> dict:
    """{label: MatmulRunner} for each dtype and kernel."""
    return {f"peak {dtype} matmul ({kernel})": MatmulRunner(dtype, kernel)
            for dtype in dtypes for kernel in KERNELS}


def best_flops_per_second(runners: dict, timings: dict) -> dict:
    """{dtype: (FLOP/s, label)}: the fastest repeat of any runner of that dtype."""
    best = {}
    for label, runner in runners.items():
        rate = max(timings[label].steps_per_second()) * runner.flops_per_step
        if rate > best.get(runner.dtype, (0.0, None))[0]:
            best[runner.dtype] = (rate, label)
    return best
