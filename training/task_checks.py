"""What the run checks of a task before training: only what the run itself relies on.

The task validates its own data (image classification: core/data/validation.py). The run needs
batches whose tensors share a leading batch axis, a loss per example, and optimizers it can
checkpoint; a task that breaks one of these stops here with one line naming --task, before the
run directory is touched, instead of failing inside a compiled step.
"""

import keras
import tensorflow as tf

from training.task import TaskError, first_line, has_own_step

# A batch this small still exercises every op of the loss; the check runs eagerly, once.
_CHECK_BATCH_SIZE = 2
# What a model and a batch that do not fit raise in Keras and TensorFlow.
_MISMATCH_ERRORS = (ValueError, TypeError, KeyError, IndexError, tf.errors.InvalidArgumentError)


def check_task_batches(task, model, data, config):
    """Runs the task's loss on one validation batch, eagerly, and checks what comes back.

    Raises:
      TaskError: for a batch without a common leading axis, a loss that fails on it, or a loss
        that is not one float per example.
    """
    label = f"--task={config.task!r}"
    if config.grad_accum_steps > 1 and has_own_step(task):
        raise TaskError(f"--grad_accum_steps={config.grad_accum_steps}: {label} has its own train_step, "
                        "which the run cannot split into micro-batches; use 1")
    try:
        batch = next(iter(data.validation(_CHECK_BATCH_SIZE)))
    except StopIteration:
        raise TaskError(f"{label}: the validation split yields no batch") from None
    leaves = tf.nest.flatten(batch)
    sizes = {int(leaf.shape[0]) if getattr(leaf, "shape", None) is not None and leaf.shape.rank else None
             for leaf in leaves}
    if not leaves or None in sizes or len(sizes) != 1:
        shapes = tf.nest.map_structure(lambda leaf: tuple(getattr(leaf, "shape", ())), batch)
        raise TaskError(f"{label}: a batch must be a nest of tensors sharing a leading batch axis; "
                        f"a validation batch has shapes {shapes}")
    try:
        per_example_loss, _ = task.compute_loss(model, batch, training=False)
    except _MISMATCH_ERRORS as error:
        raise TaskError(f"{label}: the model and the data do not fit: compute_loss on a validation batch "
                        f"failed: {type(error).__name__}: {first_line(error)[:300]}") from None
    per_example_loss = tf.convert_to_tensor(per_example_loss)
    if per_example_loss.shape != (sizes.pop(),) or not per_example_loss.dtype.is_floating:
        raise TaskError(f"{label}: compute_loss must return a float loss per example [batch] first; it returned "
                        f"{per_example_loss.dtype.name} of shape {tuple(per_example_loss.shape)}")


def check_model(task, model, config):
    """Refuses what the run cannot train or checkpoint: not a Keras layer, or nothing to train.

    Raises:
      TaskError: one line naming --task.
    """
    if not isinstance(model, keras.layers.Layer):
        raise TaskError(f"--task={config.task!r}: build_model must return a Keras model or layer; it returned "
                        f"{type(model).__name__}")
    if not model.trainable_variables:
        raise TaskError(f"--task={config.task!r}: the model built has no trainable weights (build it on a "
                        "sample input so its weights exist, or give it some)")


def create_optimizers(task, model, new_optimizer) -> dict:
    """{name: built optimizer}: the run's one optimizer over the model's trainable weights, or the
    task's own set (`build_optimizers(model, new_optimizer)`, for a task with its own step).

    `new_optimizer(variables)` makes an optimizer of the run's flags (--optimizer, schedule,
    weight decay, loss scaling) built for `variables`.
    """
    build = getattr(task, "build_optimizers", None)
    if build is None:
        return {"optimizer": new_optimizer(model.trainable_variables)}
    if not has_own_step(task):
        raise TaskError(f"task {type(task).__name__}: build_optimizers goes with a train_step of its own; "
                        "the default step trains one optimizer")
    optimizers = build(model, new_optimizer)
    if not isinstance(optimizers, dict) or not optimizers or not all(isinstance(n, str) for n in optimizers):
        raise TaskError(f"task {type(task).__name__}: build_optimizers must return a non-empty dict "
                        f"{{name: optimizer}}; it returned {type(optimizers).__name__}")
    return optimizers
