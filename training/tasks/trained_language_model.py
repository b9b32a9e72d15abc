"""A language model as a run left it: its settings from run_config.json, its weights from the
newest checkpoint (or a named one), the weights' moving average swapped in when the run kept one
(as evaluation and export use it). What `python -m training.generate` samples from.
"""

import os


from core.checkpointing import CheckpointError, checkpoint_candidates, restore_objects
from core.run_config_store import read_run_config, run_config_path
from training.config import ConfigError, TrainConfig
from training.ema import ExponentialMovingAverage
from training.tasks.language_model import LanguageModel


class TrainedModelError(ValueError):
    """The run directory holds no usable language model; the message names the path."""


def language_model_run_config(model_dir: str) -> TrainConfig:
    """The TrainConfig of the language-model run in `model_dir`, from its run_config.json.

    Raises:
      TrainedModelError: no run there, or not a language model's.
    """
    model_dir = os.path.expanduser(model_dir)
    try:
        values = read_run_config(model_dir)
    except ValueError as error:  # RunConfigMismatch: an unreadable run_config.json.
        raise TrainedModelError(str(error)) from None
    if values is None:
        raise TrainedModelError(f"--model_dir={model_dir}: no {os.path.basename(run_config_path(model_dir))}; "
                                "not the directory of a training run")
    fields = TrainConfig.__dataclass_fields__
    try:
        config = TrainConfig(**{name: value for name, value in values.items() if name in fields})
    except ConfigError as error:
        raise TrainedModelError(f"{run_config_path(model_dir)}: {error}") from None
    if config.task != "language_model":
        raise TrainedModelError(f"--model_dir={model_dir}: a run of --task={config.task}, not language_model")
    return config


def load_trained_language_model(model_dir: str, checkpoint: str = ""):
    """(config, model) of the language-model run in `model_dir`.

    Args:
      model_dir: a run directory of `python -m training.train --task=language_model`.
      checkpoint: a checkpoint prefix (e.g. <model_dir>/ckpt-1200); empty: the newest.

    Raises:
      TrainedModelError: no run there, not a language model, no checkpoint, or one that does not fit.
    """
    config = language_model_run_config(model_dir)
    model_dir = os.path.expanduser(model_dir)
    path = checkpoint or next(iter(checkpoint_candidates(model_dir)), None)
    if path is None:
        raise TrainedModelError(f"--model_dir={model_dir}: no checkpoint yet (the run saves one every "
                                f"--checkpoint_every={config.checkpoint_every} steps and at its end)")
    model = LanguageModel(config).build_model()
    ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay) if config.ema_decay else None
    try:  # What an evaluation job restores (core/checkpointing.py), so both read checkpoints alike.
        restore_objects(path, model=model, model_variables=list(model.variables), **({"ema": ema} if ema else {}))
    except CheckpointError as error:
        raise TrainedModelError(str(error)) from None
    if ema is not None:
        for weight, average in zip(model.trainable_variables, ema.averages):
            weight.assign(average.read_value())
    return config, model
