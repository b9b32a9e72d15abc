"""What a run's machine must provide, checked once when the run starts: the files the flags name,
the modules they import, the cluster and the tf.data service dispatcher they name.

A TrainConfig checks values only (training/config.py), so it can be built anywhere; these checks
need the machine the run trains on. Each failure is one ConfigError naming the flag.
"""

import os

from core.cluster import create_cluster_resolver
from core.data import FILE_DATASETS
from core.data_service import check_dispatcher, parse_service_address
from layers.freezing import resolve_block_index
from layers.registry import resolve_model_class
from training.config import ConfigError
from training.tasks import task_class
from training.tasks.classifier_checks import import_model_module
from training.tasks.image_classification import ImageClassification


def check_environment(config, task=None, model_given=False):
    """Raises ConfigError (or TaskError, for --task) when this machine cannot run `config`.

    Args:
      config: a TrainConfig.
      task: the task object the caller brings, if any, instead of `config.task`.
      model_given: the caller brings its own model (`model_fn=`), so --model is not resolved.
    """
    if task is None:
        task_class(config.task)  # Imports a user's task module: one line when it cannot.
    if isinstance(task, ImageClassification) or (task is None and config.task == "image_classification"):
        _check_classification(config, model_given or getattr(task, "model_fn", None) is not None)
    if config.data_service:
        try:
            check_dispatcher(parse_service_address(config.data_service))
        except ValueError as error:
            raise ConfigError(f"--data_service={config.data_service!r}: {error}") from None
    if config.distribution_strategy == "multi_worker":
        try:
            create_cluster_resolver(config.worker_hosts, config.task_index)
        except ValueError as error:
            raise ConfigError(str(error)) from None


def _check_classification(config, model_given):
    if config.dataset in FILE_DATASETS:
        # "~" is expanded here and by the loaders: not every shell expands it inside --flag=~/path.
        data_dir = os.path.expanduser(config.data_dir)
        if os.path.isfile(data_dir):
            raise ConfigError(f"--data_dir={config.data_dir!r}: is a file; give the directory that holds it")
        if not os.path.isdir(data_dir):
            raise ConfigError(f"--data_dir={config.data_dir!r}: no such directory")
    if model_given:
        return
    import_model_module(config.model)  # Whatever a user's module raises on import, in one line.
    try:
        model_class = resolve_model_class(config.model)
    except ValueError as error:
        raise ConfigError(f"--model={config.model!r}: {error}") from None
    block_names = getattr(model_class, "BLOCK_NAMES", None)
    if config.pretrained_weights:
        if block_names is None:
            raise ConfigError(f"--pretrained_weights={config.pretrained_weights!r}: --model={config.model} "
                              "has no pretrained base to load; use vgg16 or resnet50")
        if not os.path.isfile(os.path.expanduser(config.pretrained_weights)):
            raise ConfigError(f"--pretrained_weights={config.pretrained_weights!r}: no such file; download "
                              "the keras.applications weight file by hand (README: Transfer learning)")
    if config.unfreeze_from:
        try:
            resolve_block_index(block_names, config.unfreeze_from)
        except ValueError as error:
            raise ConfigError(f"--unfreeze_from={config.unfreeze_from!r}: {error}") from None
