"""Evaluation as its own job: `--mode=evaluate` and `--mode=continuous_evaluate`.

Model Garden runs `eval` and `continuous_eval` as separate jobs beside the trainer; so does
tapecraft. Both build the task's data and model exactly as training does (same flags), restore
only the model (and the weights' moving average, when the run keeps one) from a checkpoint, and
run the task's loss and metrics. Neither takes the run directory's lock nor writes a checkpoint:
a trainer may be running there.

- evaluate: the test split of the newest checkpoint (`--checkpoint=PATH` or `best` for another),
  then the task's report (image classification: evaluation_report.json and the confusion matrix).
- continuous_evaluate: a sidecar. It evaluates the validation split of each new checkpoint once
  (when several appeared meanwhile, the newest) and writes the figures under
  `<model_dir>/eval_sidecar` for TensorBoard, apart from the trainer's `validation`. It ends once
  the run's final step (--train_steps) is evaluated, or when no trainer holds the directory's lock
  (core/run_lock.py) and no new checkpoint is left, provided a trainer was seen or the run has
  checkpoints: started on an empty directory it waits for the trainer; started on a stopped run it
  evaluates the newest checkpoint and ends (so start it after a trainer that resumes a run).
  Evaluation runs on one device, without XLA.
"""

import dataclasses
import os
import time

import keras
import tensorflow as tf

from core import precision as precision_lib
from core.checkpointing import CheckpointError, checkpoint_candidates, restore_objects
from core.devices import detect_device
from core.distributed_input import distribute_evaluation_batches
from core.run_config_store import check_resumable
from core.run_lock import run_directory_in_use
from core.summaries import SummaryWriter
from training.best_checkpoint import best_checkpoint_path
from training.config import CHANGEABLE_ON_RESUME
from training.ema import ExponentialMovingAverage, averaged_weights
from training.environment_checks import check_environment
from training.loop import make_eval_loop
from training.metrics import TaskMetrics
from training.step import make_eval_step
from training.task_checks import check_model
from training.tasks import create_task

SIDECAR_DIRECTORY = "eval_sidecar"
POLL_SECONDS = 1.0  # Between looks at the run directory: a listing and, rarely, a lock probe.


@dataclasses.dataclass
class EvaluationResult:
    """One checkpoint evaluated."""

    checkpoint: str
    step: int
    metrics: dict  # {"loss": ..., and the task's metrics} of the split evaluated.
    report: dict | None = None  # The task's report (evaluate mode, on tasks that have one).


class CheckpointEvaluator:
    """The task's model and metrics, built once, evaluated at any checkpoint of the run.

    Args:
      config: the run's TrainConfig (the trainer's flags; --model_dir names the run).
      task: the task object.
      log: where lines go.

    Raises:
      RunConfigMismatch: when `config` differs from the run's run_config.json where a resume could not.
    """

    def __init__(self, config, task, log=print):
        for name, old, new in check_resumable(config.model_dir, config.to_dict(), CHANGEABLE_ON_RESUME):
            if name not in ("mode", "checkpoint"):
                log(f"Evaluating with --{name}={new!r} (the run was made with {old!r})")
        self.config, self.task, self.log = config, task, log
        policy, _ = precision_lib.resolve_precision(config.precision, detect_device())
        keras.utils.set_random_seed(config.seed)
        self.data = task.build_datasets()
        with precision_lib.precision_scope(policy):
            self.model = task.build_model()
            check_model(task, self.model, config)
            self.ema = (ExponentialMovingAverage(self.model.trainable_variables, config.ema_decay)
                        if config.ema_decay else None)
            self.metrics = TaskMetrics("eval", task)
        strategy = tf.distribute.get_strategy()  # One device, whatever the trainer used.
        self.eval_loop = make_eval_loop(make_eval_step(task, self.model, self.metrics), strategy, jit_compile=False)
        self.batches = {split: distribute_evaluation_batches(strategy, getattr(self.data, split), config.batch_size)
                        for split in ("validation", "test")}

    def evaluate(self, path, split) -> EvaluationResult:
        """Restores checkpoint `path` and evaluates `split` ("validation" or "test").

        Raises:
          CheckpointError: naming `path` when it cannot be read or does not fit the task's model.
        """
        restore_objects(path, model=self.model, model_variables=list(self.model.variables),
                        **({"ema": self.ema} if self.ema else {}))
        self.metrics.reset()
        with averaged_weights(self.ema):
            self.eval_loop(self.batches[split])
        return EvaluationResult(checkpoint=path, step=checkpoint_step(path), metrics=self.metrics.results())


def evaluate_checkpoint(config, datasets=None, log=print, task=None) -> EvaluationResult:
    """`--mode=evaluate`: the test metrics and the task's report of one checkpoint of a run.

    Args:
      config: a TrainConfig; `config.checkpoint` names the checkpoint (a path, or `best`), else the
        newest in `config.model_dir` is used.
      datasets, log, task: as for train_and_evaluate.

    Raises:
      CheckpointError: naming the path when there is no such checkpoint, or it is unreadable or
        another model's. RunConfigMismatch: `--model_dir` holds a run made with other flags.
    """
    check_environment(config, task)
    path = _checkpoint_to_evaluate(config)
    task = task or create_task(config, datasets=datasets, log=log)
    evaluator = CheckpointEvaluator(config, task, log)
    result = evaluator.evaluate(path, "test")
    log(f"Evaluated {path} (step {result.step}): test " + _format(result.metrics))
    if hasattr(task, "report"):
        with averaged_weights(evaluator.ema):
            result.report = task.report(evaluator.model, config.model_dir, log)
    return result


def evaluate_continuously(config, datasets=None, log=print, task=None, poll_seconds=POLL_SECONDS) -> list:
    """`--mode=continuous_evaluate`: validates each new checkpoint of a run another process trains.

    Returns:
      The EvaluationResult of every checkpoint evaluated, oldest first.
    """
    check_environment(config, task)
    task = task or create_task(config, datasets=datasets, log=log)
    evaluator = CheckpointEvaluator(config, task, log)
    summaries = SummaryWriter(config.model_dir, SIDECAR_DIRECTORY)
    log(f"Watching {config.model_dir} for checkpoints up to step {config.train_steps}")
    results, seen, trainer_seen = [], set(), False
    try:
        while True:
            # The lock first: a checkpoint written before the trainer released it is then listed below.
            training = run_directory_in_use(config.model_dir)
            trainer_seen = trainer_seen or training
            candidates = checkpoint_candidates(config.model_dir)
            if candidates and candidates[0] not in seen:
                path = candidates[0]
                seen.add(path)
                try:
                    result = evaluator.evaluate(path, "validation")
                except CheckpointError:
                    if os.path.exists(f"{path}.index"):
                        raise
                    log(f"{path} was deleted by the trainer's rotation before it was evaluated")
                    continue
                summaries.scalars(result.step, result.metrics)
                log(f"step {result.step}: validation " + _format(result.metrics) + f" ({path})")
                results.append(result)
                if result.step >= config.train_steps:
                    log(f"Reached the final step {config.train_steps}; the sidecar ends")
                    return results
                continue
            if not training and (trainer_seen or candidates):
                log(f"No trainer holds {config.model_dir} (its lock is released) and every checkpoint is "
                    "evaluated; the sidecar ends")
                return results
            time.sleep(poll_seconds)
    finally:
        summaries.close()


def checkpoint_step(path) -> int:
    """The global step a checkpoint holds (its name's number when it holds none)."""
    try:
        return int(tf.train.load_checkpoint(path).get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError):
        number = path.rsplit("-", 1)[-1]
        return int(number) if number.isdigit() else -1


def _checkpoint_to_evaluate(config) -> str:
    if config.checkpoint == "best":
        path = best_checkpoint_path(config.model_dir)
        if path is None:
            raise CheckpointError(f"--checkpoint=best: {config.model_dir} holds no best checkpoint (the run "
                                  "needs --best_metric)")
        return path
    if config.checkpoint:
        if not os.path.exists(f"{config.checkpoint}.index"):
            raise CheckpointError(f"--checkpoint={config.checkpoint}: no such checkpoint (no "
                                  f"{config.checkpoint}.index)")
        return config.checkpoint
    candidates = checkpoint_candidates(config.model_dir)
    if not candidates:
        raise CheckpointError(f"--model_dir={config.model_dir}: holds no checkpoint to evaluate")
    return candidates[0]


def _format(metrics):
    return " | ".join(f"{name} {value:.4f}" for name, value in metrics.items())
