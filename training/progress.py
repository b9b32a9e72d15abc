"""The progress line printed after every loop (step, loss, the task's metrics, throughput, ETA) and the
training scalars written to TensorBoard beside it."""

import datetime
import time

import tensorflow as tf

from core import precision as precision_lib


class ProgressReporter:
    """Measures throughput between loop boundaries and formats a line per loop.

    Args:
      total_steps: the step the run ends at, for the ETA.
      global_batch_size: examples per step over all replicas.
    """

    def __init__(self, total_steps, global_batch_size):
        self.total_steps = total_steps
        self.global_batch_size = global_batch_size
        self._last_time = time.perf_counter()

    def restart_clock(self):
        """Excludes what happened since the last line (evaluation, checkpointing) from throughput."""
        self._last_time = time.perf_counter()

    def report(self, step, steps_done, metrics) -> dict:
        """Returns the loop's figures with examples_per_second and eta_seconds added.

        Args:
          step: the global step reached.
          steps_done: steps run since the last report.
          metrics: host floats, e.g. {"loss": ..., "accuracy": ...}.
        """
        now = time.perf_counter()
        seconds = max(now - self._last_time, 1e-9)
        self._last_time = now
        steps_per_second = steps_done / seconds
        return dict(
            metrics,
            examples_per_second=steps_per_second * self.global_batch_size,
            eta_seconds=(self.total_steps - step) / steps_per_second,
        )

    def format(self, step, figures) -> str:
        eta = datetime.timedelta(seconds=round(figures["eta_seconds"]))
        metrics = "".join(f" | {name} {value:.4f}" for name, value in figures.items()
                          if name not in ("examples_per_second", "eta_seconds"))
        return (f"step {step}/{self.total_steps}{metrics} | {figures['examples_per_second']:,.0f} examples/s"
                f" | ETA {eta}")


def current_learning_rate(optimizer):
    # Keras evaluates a schedule at the optimizer's applied-update count here. A constant rate
    # is a variable, mirrored under a strategy: float() needs it converted first.
    return float(tf.convert_to_tensor(optimizer.learning_rate))


def loss_scale_scalar(optimizer):
    scale = precision_lib.loss_scale_of(optimizer)
    return {} if scale is None else {"loss_scale": float(tf.convert_to_tensor(scale))}


def gradient_norm_scalar(gradient_norm, config):
    # Measured only when clipping: under several replicas it costs an extra all-reduce.
    return {"gradient_norm": float(gradient_norm.result())} if config.clip_grad_norm else {}
