"""Built-in tasks by name; a user's task is named by its import path (training/task.py)."""

from training.task import TaskError, first_line, resolve_task_class


from training.tasks.image_classification import ImageClassification
from training.tasks.language_model import LanguageModel

BUILT_IN_TASKS = {"image_classification": ImageClassification, "language_model": LanguageModel}


def task_class(name: str):
    """The class of --task=`name`: built-in, or `package.module:ClassName`.

    Raises:
      TaskError: one line naming --task.
    """
    return resolve_task_class(name, BUILT_IN_TASKS)


def create_task(config, datasets=None, model_fn=None, log=print):
    """The task of `config.task`, constructed for this run.

    `datasets` and `model_fn` (the Python API's own DatasetSplits and model constructor) are
    image classification's; another task builds its own.
    """
    cls = task_class(config.task)
    if config.task == "image_classification":
        return cls(config, datasets=datasets, model_fn=model_fn, log=log)
    if config.task == "language_model" and datasets is None and model_fn is None:
        return cls(config, log=log)
    if datasets is not None or model_fn is not None:
        raise TaskError(f"--task={config.task!r}: datasets= and model_fn= are image_classification's; "
                        "a task builds its own datasets and model")
    try:
        return cls(config)
    except TaskError:
        raise
    except Exception as error:  # noqa: BLE001  A user's constructor may raise anything.
        raise TaskError(f"--task={config.task!r}: constructing it failed: {type(error).__name__}: "
                        f"{first_line(error)}") from None
