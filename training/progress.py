"""The progress line printed after every loop (step, loss, the task's metrics, throughput in the task's
unit, MFU when known, ETA) and the training scalars written to TensorBoard beside it."""

import datetime
import time

import tensorflow as tf

from core import precision as precision_lib
from training.utilization import DEFAULT_UNIT, StepCost, throughput_figures


class ProgressReporter:
    """Measures throughput between loop boundaries and formats a line per loop.

    Args:
      total_steps: the step the run ends at, for the ETA.
      global_batch_size: examples per step over all replicas.
      unit: the task's throughput unit, (name, count per example) (training/utilization.py).
      cost: the step's FLOPs and the devices' peak, for MFU (training/utilization.py).
    """

    def __init__(self, total_steps, global_batch_size, unit=DEFAULT_UNIT, cost=StepCost()):
        self.total_steps = total_steps
        self.global_batch_size = global_batch_size
        self.unit = unit
        self.cost = cost
        self._unit_key = f"{unit[0]}_per_second"
        self._last_time = time.perf_counter()

    def restart_clock(self):
        """Excludes what happened since the last line (evaluation, checkpointing) from throughput."""
        self._last_time = time.perf_counter()

    def report(self, step, steps_done, metrics) -> dict:
        """Returns the loop's figures with examples_per_second (and the task's unit per second when it
        is not examples), mfu (when known) and eta_seconds added.

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
            **throughput_figures(steps_per_second, self.global_batch_size, self.unit, self.cost),
            eta_seconds=(self.total_steps - step) / steps_per_second,
        )

    def format(self, step, figures) -> str:
        eta = datetime.timedelta(seconds=round(figures["eta_seconds"]))
        shown_apart = ("examples_per_second", self._unit_key, "mfu", "eta_seconds")
        metrics = "".join(f" | {name} {value:.4f}" for name, value in figures.items() if name not in shown_apart)
        # Significant digits rather than decimals: a small model sits far below 1%.
        mfu = f" | MFU {100 * figures['mfu']:.3g}%" if "mfu" in figures else ""
        return (f"step {step}/{self.total_steps}{metrics} | {figures[self._unit_key]:,.0f} {self.unit[0]}/s"
                f"{mfu} | ETA {eta}")


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
