"""The best checkpoint by a validation (or training) metric, kept beside the newest ones.

With `--best_metric`, each time the metric improves at a loop boundary the run writes the whole
training state to `<model_dir>/best/ckpt-<step>` and records it in `best/best_checkpoint.json`
(metric, direction, value, step, checkpoint). The best lives in its own directory, outside the
keep-N rotation of `<model_dir>/ckpt-*`, so rotation never deletes it; the older best is deleted
only after the record names the new one, so a kill at any point leaves a record naming a whole
checkpoint. Resume is unaffected (it restores the newest checkpoint); the record carries the best
value so a resumed run keeps comparing against it. A record of another metric is left for the
new one to replace.

After training, the test, the report and the export use the best weights unless `--nouse_best`.
"""

import contextlib
import glob
import json
import os
import shutil

import tensorflow as tf

from core.checkpointing import PREFIX, CheckpointError, restore_objects
from core.cluster import remove_temporary_directory
from core.storage_errors import storage_error
from training.metric_goals import parse_metric_goal

BEST_DIRECTORY = "best"
RECORD_FILE = "best_checkpoint.json"


def read_best_record(model_dir) -> dict | None:
    """The record of `model_dir`'s best checkpoint, or None when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(model_dir, BEST_DIRECTORY, RECORD_FILE), encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and {"metric", "value", "step", "checkpoint"} <= set(record) else None


def best_checkpoint_path(model_dir) -> str | None:
    """The prefix of `model_dir`'s best checkpoint, or None."""
    record = read_best_record(model_dir)
    return None if record is None else os.path.join(model_dir, BEST_DIRECTORY, record["checkpoint"])


class BestCheckpoint:
    """Writes a checkpoint whenever `--best_metric` improves.

    Args:
      metric: `[min:|max:]<split>/<name>`.
      checkpoint: the run's TrainingCheckpoint; its objects are what a best checkpoint holds.
      model_dir: the run directory (where the record is read and, on the chief, written).
      write_dir: where this worker writes checkpoints (`model_dir`, or a non-chief's temporary one).
      log: where the line about each new best goes.
      chief: whether this worker keeps the record and logs.
    """

    def __init__(self, metric, checkpoint, model_dir, write_dir, log, chief=True):
        self.goal = parse_metric_goal(metric)
        self.checkpoint = checkpoint
        self.model_dir = model_dir
        self.write_dir = write_dir
        self.log = log if chief else (lambda line: None)
        self.chief = chief
        record = read_best_record(model_dir)
        if record is not None and record["metric"] != self.goal.key:
            self.log(f"The best checkpoint of {model_dir} was chosen by {record['metric']}; it is replaced at "
                     f"the first evaluation by {self.goal.key}")
            record = None
        self.record = record

    @property
    def best_value(self) -> float | None:
        return None if self.record is None else self.record["value"]

    def consider(self, step: int, metrics: dict):
        """Saves the run as the best when `metrics` (flattened, "validation/accuracy": ...) improve it.

        Raises:
          StorageError: when the disk refuses the checkpoint; the previous best stays.
        """
        value = metrics.get(self.goal.key)
        if value is None or not self.goal.improves(value, self.best_value):
            return
        if self.checkpoint.first_non_finite_variable() is not None:
            return  # The NaN policy deals with it; a best checkpoint must be usable.
        name = f"{PREFIX}-{step}"
        directory = os.path.join(self.write_dir, BEST_DIRECTORY)
        try:
            self.checkpoint.checkpoint.write(os.path.join(directory, name))
        except (OSError, tf.errors.OpError) as error:
            problem = storage_error(os.path.join(directory, name), error)
            if problem is None:
                raise
            raise problem from None
        remove_temporary_directory(self.write_dir, self.model_dir)  # A non-chief's copy.
        self.record = {"metric": self.goal.key, "lower_is_better": self.goal.lower_is_better,
                       "value": float(value), "step": int(step), "checkpoint": name}
        if self.chief:
            _write_record(directory, self.record)
            _remove_other_checkpoints(directory, name)
        self.log(f"New best {self.goal.key} {value:.4f} at step {step}: saved {os.path.join(directory, name)}")

    def restore_best(self, model, ema, log) -> str | None:
        """Loads the best checkpoint's model (and EMA) into `model` for the test and export.

        Returns its path, or None when there is no best (then the newest weights stay) or it cannot
        be read (said in the log).
        """
        path = best_checkpoint_path(self.model_dir)
        if path is None:
            return None
        try:
            restore_objects(path, model=model, model_variables=list(model.variables), **({"ema": ema} if ema else {}))
        except CheckpointError as error:
            log(f"{error}; testing the newest weights instead")
            return None
        record = read_best_record(self.model_dir)
        log(f"Testing the best checkpoint {path} ({record['metric']} {record['value']:.4f} at step "
            f"{record['step']}); --nouse_best tests the newest")
        return path


def _write_record(directory, record):
    path = os.path.join(directory, RECORD_FILE)
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(record, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise (storage_error(path, error) or error) from None


def _remove_other_checkpoints(directory, keep):
    """Deletes the best directory's checkpoint files other than `keep`'s: the previous best, and
    what a killed save left (a `ckpt-N_temp/` directory, a data file without its index)."""
    for path in glob.glob(os.path.join(directory, f"{PREFIX}-*")):
        if os.path.basename(path).startswith(f"{keep}."):
            continue
        with contextlib.suppress(OSError):
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
