"""The task contract: what is learned, as opposed to the run that learns it.

A task is a plain class in any module, named by `--task=package.module:ClassName` (or a built-in
name, `training/tasks/__init__.py`) and constructed as `TaskClass(config)` with the run's
TrainConfig. The run (training/training_phase.py) calls:

  build_datasets() -> TaskDatasets           the batches: any nest of tensors, leading axis = batch
  build_model() -> keras model or layer      every weight created (call it on a sample input)
  compute_loss(model, batch, training)       -> (per-example loss float32 [B], outputs)

and, when the task has them:

  build_metrics() -> {name: keras.metrics.Metric}   besides the loss, which the run always keeps
  update_metrics(metrics, batch, outputs)           inside the compiled step
  train_step(model, batch, step: StepTools)         the task's own step (several networks/optimizers)
  build_optimizers(model, new_optimizer) -> {name: optimizer}   with its own step
  report(model, model_dir, log) -> dict             after training, on the chief, once
  serving_signatures(model) -> {name: tf.function}  the SavedModel export (`--export`)
  serving_hint(export_directory) -> str             how to use the export, for the log line after it
  next_phase() -> (config, task) or None            another phase of training (fine-tuning)
  throughput_unit() -> (name, count per example)   what the progress line counts per second; by
                                                    default ("examples", 1), e.g. ("tokens", 512)

The run averages the per-example loss over the *global* batch, so replicas' summed gradients are
the gradient of the mean; it scales the loss under float16, votes on overflow across replicas,
clips, accumulates micro-batches, applies the NaN policy, keeps the EMA and checkpoints the model
and every optimizer. A task with its own `train_step` gets those pieces through `StepTools`
(training/step.py). Everything the task trains must be reachable from the model it builds (a
keras.Model may hold several), so that the checkpoint holds it.
"""

import dataclasses
import importlib
from typing import Callable

import tensorflow as tf

REQUIRED_METHODS = ("build_datasets", "build_model", "compute_loss")


class TaskError(ValueError):
    """A task that cannot run; the one-line message names the --task and what is wrong."""


@dataclasses.dataclass(frozen=True)
class TaskDatasets:
    """How a task's batches are made. Each function takes a per-replica batch size.

    Attributes:
      train: batch_size -> endless tf.data.Dataset of batches of exactly batch_size examples,
        shuffled by the task from the run's seed: identical on every worker (the run shards it,
        core/distributed_input.py) and deterministic for its seed (exact resume replays it).
      validation: batch_size -> one pass over the validation examples, in order.
      test: batch_size -> one pass over the test examples, in order.
      description: one log line saying what the data are.
      positioned_train: optional (batch_size, tf.distribute.InputContext, steps_done) -> the
        training batches of that input pipeline from global step `steps_done` on, sharded by the
        task itself (record files: core/data/record_splits.py). The run then uses it instead of
        `train`, and a checkpoint holds no input state: a resumed run asks for its step.
      check_input: optional () -> {name: number} called after every loop, whose figures are
        logged and written to TensorBoard; it may raise DatasetError to stop.
    """

    train: Callable[[int], tf.data.Dataset]
    validation: Callable[[int], tf.data.Dataset]
    test: Callable[[int], tf.data.Dataset]
    description: str = ""
    positioned_train: Callable | None = None
    check_input: Callable[[], dict] | None = None


def resolve_task_class(name: str, built_in: dict):
    """The task class registered as `name` in `built_in`, or imported from `module:Class`.

    Raises:
      TaskError: naming --task when it is unknown, cannot be imported, or lacks a required method.
    """
    if ":" not in name:
        if name not in built_in:
            raise TaskError(f"--task={name!r}: unknown task; expected one of {', '.join(sorted(built_in))} "
                            "or an import path package.module:ClassName")
        task_class = built_in[name]
    else:
        module_name, _, class_name = name.partition(":")
        if not module_name or not class_name:
            raise TaskError(f"--task={name!r}: an import path must look like package.module:ClassName")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # noqa: BLE001  A user's module may raise anything on import.
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise TaskError(f"--task={name!r}: cannot import module {module_name!r} "
                            f"({type(error).__name__}: {reason})") from None
        task_class = getattr(module, class_name, None)
        if task_class is None:
            raise TaskError(f"--task={name!r}: module {module_name!r} has no attribute {class_name!r}")
    missing = [method for method in REQUIRED_METHODS if not callable(getattr(task_class, method, None))]
    if missing:
        raise TaskError(f"--task={name!r}: {getattr(task_class, '__name__', task_class)!r} lacks "
                        f"{', '.join(missing)} (training/task.py lists what a task defines)")
    return task_class


def has_own_step(task) -> bool:
    return callable(getattr(task, "train_step", None))


def first_line(error) -> str:
    """An exception's first line, for one-line errors (TensorFlow's messages run to pages)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
