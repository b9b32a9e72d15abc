"""What a run shows about itself in TensorBoard, beside the training scalars: its flags as
hyperparameters, its final metrics, peak memory per loop, and the profiler window.

The run (training/training_phase.py) calls this at the start, around every loop call, at
evaluation and checkpoint boundaries, and at the end; only the chief writes.

HParams: the run directory holds one session of TensorBoard's HParams dashboard. Its
hyperparameters are the TrainConfig's fields (unset ones left out), written at the directory's
top; its metrics are the scalars of its `validation` and `test` directories (the final test
metrics are written at the final step), so `tensorboard --logdir=runs/` over a sweep shows one row
per run with validation/accuracy, test/loss and the rest side by side.
"""

import contextlib

from core.memory import PeakMemory
from core.summaries import SummaryWriter
from training.profiling import ProfileWindow, stopped_on_exit, traced, training_loop_event


class Telemetry:
    """One phase's hyperparameters, memory figures, profile window and named trace events.

    Args:
      config: the TrainConfig.
      device_kind: "gpu", "tpu" or "cpu".
      log: where the profiler's lines go.
      enabled: False on non-chief workers: nothing is written or traced there.
      restart_clock: called after the profiler starts or stops, so throughput leaves that out.
    """

    def __init__(self, config, device_kind, log, enabled=True, restart_clock=lambda: None):
        self._config = config
        self._restart_clock = restart_clock
        self._enabled = enabled
        self.memory = PeakMemory(device_kind)
        self.peak_memory_bytes = 0
        self._window = ProfileWindow(config, log, enabled=enabled)

    def start(self):
        """Writes the run's flags as its hyperparameters (again on resume: the same row)."""
        writer = SummaryWriter(self._config.model_dir, "", enabled=self._enabled)
        writer.hyperparameters(hyperparameters(self._config.to_dict()))
        writer.close()

    def watching(self):
        """The context around the training loop: a trace in progress is written however it ends."""
        return stopped_on_exit(self._window)

    @contextlib.contextmanager
    def loop_call(self, step, steps):
        """Around one call of the compiled loop from global step `step`: starts or stops the
        profiler at the window's edges and marks the call in the trace."""
        if self._window.before_loop(step):
            self._restart_clock()
        with training_loop_event(step, steps):
            yield

    def loop_scalars(self) -> dict:
        """The loop's peak memory as a scalar; the run's peak so far is kept for its report."""
        peak = self.memory.peak_bytes()
        self.peak_memory_bytes = max(self.peak_memory_bytes, peak)
        return {self.memory.scalar_name(): float(peak)}

    def run_figures(self, step_cost, last_loop) -> dict:
        """For the run report: the peak memory and its source, the FLOPs and peak behind MFU (a
        training/utilization.py StepCost), and the last loop's throughput and MFU (its progress figures)."""
        speed = {name: value for name, value in last_loop.items() if name.endswith("_per_second") or name == "mfu"}
        return dict(peak_memory_bytes=self.peak_memory_bytes, peak_memory_source=self.memory.source,
                    **step_cost.figures(), **speed)

    def finish(self, step, test_metrics):
        """Writes the final test metrics as scalars of `<model_dir>/test`, the HParams table's test columns."""
        writer = SummaryWriter(self._config.model_dir, "test", enabled=self._enabled)
        writer.scalars(step, test_metrics)
        writer.close()


def evaluation_event():
    return traced("evaluate")


def checkpoint_event(step):
    return traced("checkpoint", step_num=step)


def hyperparameters(values: dict) -> dict:
    """The flags TensorBoard's HParams plugin can show (bool, int, float, str); unset (None) ones
    are left out, and any other value becomes its text."""
    return {name: value if isinstance(value, (bool, int, float, str)) else str(value)
            for name, value in sorted(values.items()) if value is not None}
