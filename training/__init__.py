"""The training loop: config, GradientTape steps, compiled multi-step loops, train_and_evaluate."""

from core.quiet_import import import_tensorflow_quietly

# First, so that the absl script's one-line errors are not preceded by TensorFlow's notices.
import_tensorflow_quietly()

from training.config import ConfigError, TrainConfig  # noqa: E402
from training.jit import XlaCompileError  # noqa: E402
from training.train_lib import TrainResult, train_and_evaluate  # noqa: E402

__all__ = ["ConfigError", "TrainConfig", "TrainResult", "XlaCompileError", "train_and_evaluate"]
