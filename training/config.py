"""Every setting of a training run, with its default, in one frozen dataclass.

Field names equal the absl flag names of `training.train`, so a validation error can name the
flag a user typed. Validation runs on construction and checks values only (types, ranges,
choices, settings that contradict each other): a config that exists is a valid value, and it can
be built on one machine for another. What the run's machine must provide (files, importable
modules, a cluster) is checked when the run starts (training/environment_checks.py).
"""

import dataclasses
import math

from core.cluster import parse_worker_hosts
from core.data_service import MODES as DATA_SERVICE_MODES, parse_service_address
from core.data import AUGMENTATIONS, DATASETS, FILE_DATASETS, RESIZABLE_DATASETS
from core.data.text_catalog import TEXT_DATASETS, TEXT_FILE_DATASETS
from core.distribution import STRATEGIES
from core.precision import PRECISIONS
from training.metric_goals import parse_metric_goal
from training.nan_policy import NAN_POLICIES
from training.optimizers import OPTIMIZERS
from training.profiling import parse_profile_steps
from training.schedules import LR_SCHEDULES

JIT_COMPILE_CHOICES = ("auto", "true", "false", "loop")
MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 1024  # A 1024x1024x3 image is 12 MB as float32, per example.
# Counts (steps, batch size, replicas...) pass through int32 tensors (the steps of a compiled loop,
# dataset sizes); a larger value fails deep inside TensorFlow, after run_config.json is written.
MAX_INT = 2**31 - 1
MAX_SEED = 2**32 - 1  # NumPy's seed range (keras.utils.set_random_seed seeds NumPy too).
# What an empty --model, --dataset and --sequence_length mean for each built-in task; a user's task
# gets image classification's (the defaults before tasks existed). Resolved on construction, so a
# stored run_config.json holds the values the run used.
TASK_DEFAULTS = {
    "image_classification": {"model": "small_cnn", "dataset": "digits", "sequence_length": 0},
    "language_model": {"model": "lm_small", "dataset": "python_stdlib", "sequence_length": 256},
}
MAX_SEQUENCE_LENGTH = 65536
# Image classification's data and transfer flags, which a language model has no use for.
IMAGE_ONLY_FLAGS = {"image_size": 0, "augment": "none", "mixup_alpha": 0.0, "cutmix_alpha": 0.0,
                    "pretrained_weights": None, "freeze_base": False, "unfreeze_from": ""}
# train: train, test, report, export; evaluate: test a checkpoint and report; continuous_evaluate:
# validate each new checkpoint of a run another process trains (training/evaluation_run.py).
MODES = ("train", "evaluate", "continuous_evaluate")


class ConfigError(ValueError):
    """A setting has a value the run cannot use; the message names the flag and what is allowed."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A training run. Defaults train `small_cnn` on the embedded `digits` (image classification).

    An empty `model`, `dataset` or a zero `sequence_length` takes the task's default
    (TASK_DEFAULTS) when the config is made.
    """

    task: str = "image_classification"
    model: str = ""
    dataset: str = ""
    data_dir: str | None = None
    image_size: int = 0
    normalize: bool = True
    augment: str = "none"
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    batch_size: int = 64
    train_steps: int = 1200
    learning_rate: float = 3e-3
    optimizer: str = "adam"
    lr_schedule: str = "cosine"
    warmup_steps: int = 60
    weight_decay: float | None = None
    clip_grad_norm: float = 0.0
    grad_accum_steps: int = 1
    ema_decay: float = 0.0
    precision: str = "auto"
    jit_compile: str = "auto"
    steps_per_loop: int = 60
    eval_every: int = 300
    model_dir: str = "runs/default"
    keep_checkpoints: int = 3
    checkpoint_every: int = 300
    on_nan: str = "stop"
    seed: int = 0
    deterministic: bool = False
    distribution_strategy: str = "default"
    num_replicas: int = 0
    worker_hosts: str = ""
    task_index: int = 0
    pretrained_weights: str | None = None
    freeze_base: bool = False
    unfreeze_from: str = ""
    fine_tune_steps: int = 300
    fine_tune_learning_rate: float = 1e-5
    export: bool = True
    # Sequence tasks (language_model).
    sequence_length: int = 0
    remat: bool = False
    skip_undecodable_files: bool = False
    # Evaluation jobs, the best checkpoint, hooks (issue 18): training/evaluation_run.py,
    # best_checkpoint.py, hooks.py.
    mode: str = "train"
    checkpoint: str = ""
    best_metric: str = ""
    use_best: bool = True
    hooks: str = ""
    early_stopping_metric: str = ""
    early_stopping_patience: int = 0
    # Seeing inside a run (profiler window; memory, MFU and hyperparameters in TensorBoard).
    profile_steps: str = ""
    # Data at scale: the training stream made by a tf.data service (core/data_service.py).
    data_service: str = ""
    data_service_mode: str = "dynamic"
    # Data at scale (record files).
    skip_bad_records: bool = False
    max_bad_records_fraction: float = 0.001
    shuffle_buffer: int = 10_000

    def __post_init__(self):
        defaults = TASK_DEFAULTS.get(self.task, TASK_DEFAULTS["image_classification"])
        for name, default in defaults.items():
            if getattr(self, name) in ("", 0):
                object.__setattr__(self, name, default)  # Frozen: set once, while it is being made.
        _require_choice("optimizer", self.optimizer, OPTIMIZERS)
        _require_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _require_choice("precision", self.precision, PRECISIONS)
        _require_choice("jit_compile", self.jit_compile, JIT_COMPILE_CHOICES)
        _require_choice("distribution_strategy", self.distribution_strategy, STRATEGIES)
        self._validate_task_data()
        _require_choice("on_nan", self.on_nan, NAN_POLICIES)
        for name in ("batch_size", "train_steps", "steps_per_loop", "keep_checkpoints"):
            _require_int(name, getattr(self, name), minimum=1)
        for name in ("warmup_steps", "eval_every", "checkpoint_every", "num_replicas", "task_index"):
            _require_int(name, getattr(self, name), minimum=0)
        _require_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        if not isinstance(self.learning_rate, (int, float)) or not 0 < self.learning_rate < 10:
            raise ConfigError(f"--learning_rate={self.learning_rate!r}: must be a number in (0, 10)")
        if self.warmup_steps >= self.train_steps:
            raise ConfigError(
                f"--warmup_steps={self.warmup_steps}: must be smaller than --train_steps={self.train_steps}"
            )
        self._validate_optimization()
        self._validate_cluster()
        if not self.model_dir:
            raise ConfigError("--model_dir='': must name a directory for checkpoints and summaries")
        for name in ("task", "model"):
            value = getattr(self, name)
            module, colon, class_name = value.partition(":") if isinstance(value, str) else ("", "", "")
            if not module or (colon and not class_name):
                raise ConfigError(f"--{name}={value!r}: must name a built-in {name} or an import path that "
                                  "must look like package.module:ClassName")
        self._validate_transfer()
        self._validate_data_service()
        self._validate_observability()
        self._validate_evaluation()
        self._validate_records()

    def _validate_evaluation(self):
        """--mode and its --checkpoint, --best_metric, the hooks and early stopping."""
        _require_choice("mode", self.mode, MODES)
        for name in ("checkpoint", "best_metric", "hooks", "early_stopping_metric"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"--{name}={getattr(self, name)!r}: must be a string")
        if self.checkpoint and self.mode != "evaluate":
            raise ConfigError(f"--checkpoint={self.checkpoint!r}: names the checkpoint --mode=evaluate tests; "
                              f"--mode={self.mode} does not use it")
        if not isinstance(self.use_best, bool):
            raise ConfigError(f"--use_best={self.use_best!r}: must be true or false")
        for name in ("best_metric", "early_stopping_metric"):
            if getattr(self, name):
                try:
                    parse_metric_goal(getattr(self, name))
                except ValueError as error:
                    raise ConfigError(f"--{name}={getattr(self, name)!r}: {error}") from None
        _require_int("early_stopping_patience", self.early_stopping_patience, minimum=0)
        if bool(self.early_stopping_metric) != bool(self.early_stopping_patience):
            raise ConfigError(f"--early_stopping_patience={self.early_stopping_patience}: early stopping needs "
                              "both --early_stopping_metric and a patience of 1 or more evaluations")
        for path in filter(None, self.hooks.split(",")):
            module, colon, attribute = path.strip().partition(":")
            if not module or not colon or not attribute:
                raise ConfigError(f"--hooks={self.hooks!r}: each entry must look like package.module:make_hooks")

    def _validate_records(self):
        """The record-file flags: only with --dataset=records."""
        if not isinstance(self.skip_bad_records, bool):
            raise ConfigError(f"--skip_bad_records={self.skip_bad_records!r}: must be true or false")
        _require_number("max_bad_records_fraction", self.max_bad_records_fraction, "a number in [0, 1)",
                        lambda value: 0 <= value < 1)
        _require_int("shuffle_buffer", self.shuffle_buffer, minimum=1)
        if self.skip_bad_records and self.dataset != "records":
            raise ConfigError("--skip_bad_records: only --dataset=records reads records one by one; the other "
                              "datasets are checked whole when they load")

    def _validate_transfer(self):
        """Pretrained weights, the frozen-base phase and the fine-tuning phase, export."""
        if self.pretrained_weights is not None and not isinstance(self.pretrained_weights, str):
            raise ConfigError(f"--pretrained_weights={self.pretrained_weights!r}: must be a file path")
        for name in ("freeze_base", "export"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"--{name}={getattr(self, name)!r}: must be true or false")
        if self.pretrained_weights:
            if self.normalize and self.dataset in FILE_DATASETS:
                raise ConfigError(f"--normalize=True: --pretrained_weights needs the plain pixels its "
                                  f"weights were trained on ({self.model} applies their ImageNet "
                                  "preprocessing itself); pass --nonormalize")
        if self.freeze_base and not self.pretrained_weights:
            raise ConfigError("--freeze_base=True: needs --pretrained_weights; a frozen random base teaches "
                              "the head nothing")
        if self.unfreeze_from and not self.freeze_base:
            raise ConfigError(f"--unfreeze_from={self.unfreeze_from!r}: fine-tuning is the phase after "
                              "--freeze_base; pass --freeze_base too")
        _require_int("fine_tune_steps", self.fine_tune_steps, minimum=1)
        rate = self.fine_tune_learning_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < 10:
            raise ConfigError(f"--fine_tune_learning_rate={rate!r}: must be a number in (0, 10)")

    def _validate_task_data(self):
        """--dataset and the flags of the task's kind of data."""
        for name in ("remat", "skip_undecodable_files"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"--{name}={getattr(self, name)!r}: must be true or false")
        _require_int("sequence_length", self.sequence_length, minimum=0, maximum=MAX_SEQUENCE_LENGTH)
        if self.task == "language_model":
            _require_choice("dataset", self.dataset, tuple(sorted(TEXT_DATASETS)))
            if self.dataset in TEXT_FILE_DATASETS and not self.data_dir:
                raise ConfigError(f"--data_dir={self.data_dir!r}: --dataset={self.dataset} reads the text "
                                  "files under a directory; give its path")
            if self.sequence_length < 2:
                raise ConfigError(f"--sequence_length={self.sequence_length}: a language model needs at "
                                  "least 2 tokens per sequence")
            for name, unused in IMAGE_ONLY_FLAGS.items():
                if getattr(self, name) != unused:
                    raise ConfigError(f"--{name}={getattr(self, name)!r}: an image classification flag; "
                                      "--task=language_model does not use it")
            return
        if self.task == "image_classification":
            _require_choice("dataset", self.dataset, tuple(sorted(DATASETS)))
            for name, unused in (("sequence_length", 0), ("remat", False), ("skip_undecodable_files", False)):
                if getattr(self, name) != unused:
                    raise ConfigError(f"--{name}={getattr(self, name)!r}: a sequence-task flag; "
                                      "--task=image_classification does not use it")
        else:  # A user's task reads what it wants; the names must still be ones tapecraft knows.
            _require_choice("dataset", self.dataset, tuple(sorted(DATASETS)) + tuple(sorted(TEXT_DATASETS)))
        self._validate_data()
    def _validate_observability(self):
        """The profiler window: two steps of this run, in order."""
        try:
            parse_profile_steps(self.profile_steps, self.train_steps)
        except ValueError as error:
            raise ConfigError(f"--profile_steps={self.profile_steps!r}: {error}") from None

    def _validate_data(self):
        """The image data flags: where the files are, image size, normalization, augmentation."""
        if self.dataset in FILE_DATASETS and not self.data_dir:
            raise ConfigError(f"--data_dir={self.data_dir!r}: --dataset={self.dataset} reads its files "
                              "from a directory; give its path")
        _require_int("image_size", self.image_size, minimum=0)
        if self.image_size and not MIN_IMAGE_SIZE <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"--image_size={self.image_size}: must be 0 (the dataset's default) or from "
                              f"{MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}")
        if self.image_size and self.dataset not in RESIZABLE_DATASETS:
            resizable = "/".join(RESIZABLE_DATASETS)
            raise ConfigError(f"--image_size={self.image_size}: only --dataset={resizable} resizes its "
                              f"images; {self.dataset} has a fixed size, leave it 0")
        if not isinstance(self.normalize, bool):
            raise ConfigError(f"--normalize={self.normalize!r}: must be true or false")
        _require_choice("augment", self.augment, AUGMENTATIONS)
        for name in ("mixup_alpha", "cutmix_alpha"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ConfigError(f"--{name}={value!r}: must be a number from 0 (off) to 100")

    def _validate_optimization(self):
        """The optimizer toolbox: weight decay, clipping, accumulation, EMA."""
        if self.weight_decay is not None:
            _require_number("weight_decay", self.weight_decay, "a number in [0, 1), or unset for the "
                            "optimizer's default", lambda value: 0 <= value < 1)
            if self.weight_decay and self.optimizer == "adam":
                raise ConfigError(f"--weight_decay={self.weight_decay!r}: --optimizer=adam has no weight "
                                  "decay; use --optimizer=adamw (or sgd)")
        _require_number("clip_grad_norm", self.clip_grad_norm, "a number >= 0 (0 disables clipping)",
                        lambda value: value >= 0)
        _require_int("grad_accum_steps", self.grad_accum_steps, minimum=1)
        if self.batch_size % self.grad_accum_steps:
            raise ConfigError(f"--grad_accum_steps={self.grad_accum_steps}: must divide "
                              f"--batch_size={self.batch_size} into equal micro-batches")
        _require_number("ema_decay", self.ema_decay, "0 (off) or a number in (0, 1), e.g. 0.999",
                        lambda value: value == 0 or 0 < value < 1)

    def _validate_cluster(self):
        """The multi-worker flags: only with multi_worker, and describing a cluster that holds together."""
        if not isinstance(self.worker_hosts, str):
            raise ConfigError(f"--worker_hosts={self.worker_hosts!r}: must be a comma-separated "
                              "host:port list")
        if self.distribution_strategy != "multi_worker":
            for name, unused in (("worker_hosts", ""), ("task_index", 0)):
                value = getattr(self, name)
                if value != unused:
                    raise ConfigError(f"--{name}={value!r}: only --distribution_strategy=multi_worker "
                                      "uses it")
            return
        if self.task_index and not self.worker_hosts:
            raise ConfigError(f"--task_index={self.task_index}: goes with --worker_hosts "
                              "(TF_CONFIG has its own index)")
        if self.worker_hosts:
            try:
                hosts = parse_worker_hosts(self.worker_hosts)
            except ValueError as error:
                raise ConfigError(f"--worker_hosts={self.worker_hosts!r}: {error}") from None
            if not 0 <= self.task_index < len(hosts):
                raise ConfigError(f"--task_index={self.task_index!r}: must be in 0-{len(hosts) - 1} "
                                  "(one per --worker_hosts entry)")

    def _validate_data_service(self):
        """The tf.data service: a dispatcher address, a processing mode that fits the run."""
        if not isinstance(self.data_service, str):
            raise ConfigError(f"--data_service={self.data_service!r}: must be a dispatcher address "
                              "grpc://host:port, or empty")
        if self.data_service:
            try:
                parse_service_address(self.data_service)
            except ValueError as error:
                raise ConfigError(f"--data_service={self.data_service!r}: {error}") from None
        _require_choice("data_service_mode", self.data_service_mode, DATA_SERVICE_MODES)
        if self.data_service and self.deterministic and self.data_service_mode == "dynamic":
            raise ConfigError("--deterministic=True: --data_service_mode=dynamic hands the run its batches in "
                              "the order the service's workers finish them; use --data_service_mode=off with "
                              "one service worker for the local order")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Settings a run in an existing --model_dir may change on resume: how long and how it is
# watched, where the data and the initial weights live (a checkpoint supersedes those), and
# execution choices that leave the saved state's meaning alone: XLA, determinism, the machines
# (a run resumes on another replica count; core/distributed_input.py) and where the input is made
# (a tf.data service or not; core/data_service.py says what a resume then replays). Every other setting (and
# any new one, by default) must match the stored run_config.json. train_steps is here so a run
# can be extended; the schedule then stretches to the new end.
CHANGEABLE_ON_RESUME = frozenset({
    "train_steps", "fine_tune_steps", "eval_every", "checkpoint_every", "keep_checkpoints", "steps_per_loop",
    "jit_compile", "deterministic", "on_nan", "data_dir", "model_dir", "pretrained_weights", "export",
    "distribution_strategy", "num_replicas", "worker_hosts", "task_index", "remat", "profile_steps",
    "data_service", "data_service_mode",
    # Data at scale: how bad records are handled leaves the example order alone (shuffle_buffer does not).
    "skip_bad_records", "max_bad_records_fraction",
    # What a command does with the run and what watches it; the best checkpoint's record names its
    # metric, so another --best_metric starts a new record (training/best_checkpoint.py).
    "mode", "checkpoint", "best_metric", "use_best", "hooks", "early_stopping_metric", "early_stopping_patience",
})


def _require_choice(name, value, choices):
    if value not in choices:
        raise ConfigError(f"--{name}={value!r}: must be one of {', '.join(choices)}")


def _require_int(name, value, minimum, maximum=MAX_INT):
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"--{name}={value!r}: must be {kind} no larger than {maximum}")


def _require_number(name, value, allowed, accept):
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or not accept(value):
        raise ConfigError(f"--{name}={value!r}: must be {allowed}")
