"""The run: config, tasks, GradientTape steps, compiled multi-step loops, train_and_evaluate."""

import os

from core.quiet_import import import_tensorflow_quietly

# TensorFlow reads its C++ log level once, at import: `python -m training.train` imports this
# package before the script's own code runs, so the script's default must be set here. Level 2
# keeps errors; INFO and WARNING lines (an XLA compile failure logs the whole op trace twice)
# would bury the one-line errors and progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# First, so that the absl script's one-line errors are not preceded by TensorFlow's notices.
import_tensorflow_quietly()

from training.config import ConfigError, TrainConfig  # noqa: E402
from training.evaluation_run import EvaluationResult, evaluate_checkpoint, evaluate_continuously  # noqa: E402
from training.hooks import EarlyStopping, HookError, StopTraining  # noqa: E402
from training.jit import XlaCompileError  # noqa: E402
from training.task import TaskDatasets, TaskError  # noqa: E402
from training.training_phase import TrainResult, train_and_evaluate  # noqa: E402

__all__ = ["ConfigError", "EarlyStopping", "EvaluationResult", "HookError", "StopTraining", "TaskDatasets",
           "TaskError", "TrainConfig", "TrainResult", "XlaCompileError", "evaluate_checkpoint",
           "evaluate_continuously", "train_and_evaluate"]
