"""Running metrics of a task: the loss, which every run keeps, and the task's own metrics.

They accumulate inside the compiled loop and are read at its boundaries.
"""

import keras
import tensorflow as tf

from training.task import TaskError


class TaskMetrics:
    """Mean loss plus `task.build_metrics()`, over the batches seen since the last `reset`.

    Create it under the strategy's scope so the accumulators are reduced across replicas.

    Args:
      prefix: a name prefix for the Keras metric objects ("train", "eval").
      task: a task (training/task.py); its `build_metrics` and `update_metrics` are optional.
    """

    def __init__(self, prefix, task):
        self.task = task
        self.loss = keras.metrics.Mean(name=f"{prefix}_loss")
        build = getattr(task, "build_metrics", None)
        self.task_metrics = dict(build()) if build is not None else {}
        if "loss" in self.task_metrics:
            raise TaskError(f"task {type(task).__name__}: build_metrics returns a metric named 'loss'; the "
                            "run keeps the loss itself, name yours otherwise")

    def update(self, batch, outputs, per_example_loss):
        """Adds a batch. Per-example losses weight every example equally whatever the batch sizes
        (an empty batch adds nothing)."""
        self.loss.update_state(per_example_loss)
        if self.task_metrics:
            self.task.update_metrics(self.task_metrics, batch, outputs)

    def reset(self):
        self.loss.reset_state()
        for metric in self.task_metrics.values():
            metric.reset_state()

    def results(self) -> dict:
        """Host floats, the loss first; reading them waits for the device, so call it at loop
        boundaries only."""
        return {"loss": float(self.loss.result()),
                **{name: float(tf.convert_to_tensor(metric.result()))
                   for name, metric in self.task_metrics.items()}}
