"""The training loop: config, GradientTape steps, compiled multi-step loops, train_and_evaluate."""

from training.config import ConfigError, TrainConfig
from training.train_lib import TrainResult, train_and_evaluate

__all__ = ["ConfigError", "TrainConfig", "TrainResult", "train_and_evaluate"]
