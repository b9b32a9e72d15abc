"""What the progress line says about speed: the task's unit per second and MFU.

MFU (model FLOPs utilization) = the step's FLOPs x steps per second / the devices' peak FLOP/s.
The FLOPs are counted once, at start, in the HLO of the run's own training step (core/flops.py:
matmuls and convolutions, as XLA's cost analysis counts them); the peak is the device's datasheet
figure (core/device_peak.py). Without a known peak, counting would be wasted work: the run says
once that MFU is unavailable, and why.
"""

import dataclasses
import math

import tensorflow as tf

from core import device_peak
from core.flops import step_flops
from training.task import TaskError, first_line

DEFAULT_UNIT = ("examples", 1)


@dataclasses.dataclass(frozen=True)
class StepCost:
    """Work per global step and the device's capacity; None where unknown.

    Attributes:
      flops_per_step: FLOPs of one global step (every replica's), from its HLO.
      peak_flops_per_second: the datasheet peak of all the run's devices together.
    """

    flops_per_step: float | None = None
    peak_flops_per_second: float | None = None

    def mfu(self, steps_per_second: float):
        """The fraction of the peak that the step's FLOPs at this rate use, or None."""
        if not self.flops_per_step or not self.peak_flops_per_second:
            return None
        return self.flops_per_step * steps_per_second / self.peak_flops_per_second

    def figures(self) -> dict:
        """For the run report: the FLOPs and the peak MFU was computed from, when known."""
        if not self.flops_per_step or not self.peak_flops_per_second:
            return {}
        return {"flops_per_step": self.flops_per_step, "peak_flops_per_second": self.peak_flops_per_second}


def throughput_unit(task) -> tuple:
    """The task's `throughput_unit()`: (name, count per example), e.g. ("tokens", 512); by default
    ("examples", 1).

    Raises:
      TaskError: when the task returns something else.
    """
    method = getattr(task, "throughput_unit", None)
    if method is None:
        return DEFAULT_UNIT
    unit = method()
    if (not isinstance(unit, tuple) or len(unit) != 2 or not isinstance(unit[0], str) or not unit[0]
            or isinstance(unit[1], bool) or not isinstance(unit[1], (int, float)) or not unit[1] > 0):
        raise TaskError(f"{type(task).__name__}.throughput_unit() returned {unit!r}; it must return "
                        "(name, count per example), e.g. ('tokens', 512)")
    return unit


def measure_step_cost(train_step, example_spec, global_batch_size, device, compute_dtype, strategy,
                      log) -> StepCost:
    """Counts the FLOPs of `train_step` on one replica's batch when the device's peak is known.

    Args:
      train_step: the run's per-replica step, batch -> None (training/step.py).
      example_spec: the nest of tf.TensorSpec of a batch; its leading (batch) size is replaced.
      global_batch_size: examples per step over all replicas.
      device: core/devices.py's DeviceInfo.
      compute_dtype: the precision policy's compute dtype name.
      strategy: the run's tf.distribute strategy (replicas multiply both FLOPs and peak).
      log: receives one line when MFU is unavailable.
    """
    peak = device_peak.peak_flops_per_second(device.name, compute_dtype)
    if peak is None:
        log(f"MFU unavailable: no datasheet peak for {device.kind} {device.name!r} in {compute_dtype} "
            "(core/device_peak.py)")
        return StepCost()
    if strategy.num_replicas_in_sync != 1:
        log("MFU unavailable: the step's FLOPs are counted on a single replica only")
        return StepCost()
    try:
        # Traced (not run) under XLA to read its HLO; no variable changes. A nest of TensorSpecs is not
        # accepted as one argument, so the batch is zeros of its shape (one replica: the global batch).
        batch = tf.nest.map_structure(
            lambda spec: tf.zeros((global_batch_size,) + tuple(spec.shape[1:]), spec.dtype), example_spec)
        flops = step_flops(train_step, batch)
    except (tf.errors.OpError, ValueError, TypeError, NotImplementedError) as error:
        log(f"MFU unavailable: the step's FLOPs cannot be counted ({first_line(error)[:160]})")
        return StepCost()
    if not flops:
        log("MFU unavailable: the step's HLO holds no matmul or convolution to count")
        return StepCost()
    return StepCost(flops_per_step=float(flops), peak_flops_per_second=peak)


def throughput_figures(steps_per_second, global_batch_size, unit, cost: StepCost) -> dict:
    """{examples_per_second, <unit>_per_second (when not examples), mfu (when known)}."""
    name, per_example = unit
    figures = {"examples_per_second": steps_per_second * global_batch_size}
    if name != "examples":
        figures[f"{name}_per_second"] = steps_per_second * global_batch_size * per_example
    mfu = cost.mfu(steps_per_second)
    if mfu is not None and math.isfinite(mfu):
        figures["mfu"] = mfu
    return figures
