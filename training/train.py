"""Train a task's model and print its test metrics.

  python -m training.train                       # image classification: small_cnn on the embedded digits
  python -m training.train --task=my_project.tasks:MyTask --train_steps=500
  python -m training.train --model=resnet20 --dataset=synthetic --train_steps=200
  python -m training.train --model=my_project.nets:MyNet --precision=mixed_float16
  python -m training.train --model=mlp --dataset=mnist --data_dir=~/data/mnist
  python -m training.train --model=resnet20 --dataset=cifar10 --data_dir=~/data --batch_size=128 \
      --augment=crop_flip --optimizer=sgd --learning_rate=0.1
  python -m training.train --model=vgg16 --dataset=image_folder --data_dir=~/data/flowers --nonormalize \
      --pretrained_weights=~/weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 \
      --freeze_base --unfreeze_from=block5 --model_dir=runs/flowers_vgg16
  python -m training.train --distribution_strategy=mirrored                 # every GPU of this machine
  python -m training.train --distribution_strategy=multi_worker \
      --worker_hosts=10.0.0.1:2222,10.0.0.2:2222 --task_index=0             # on 10.0.0.1; 1 on 10.0.0.2
  python -m training.train --profile_steps=100,110                          # a trace for TensorBoard's Profile tab
  python -m training.train --flagfile=runs/default/flags.txt --model_dir=runs/again   # a run's flags, reused
  python -m training.train --data_service=grpc://10.0.0.5:5050   # batches made by a tf.data service
"""

import os
import re
import sys

# TensorFlow's C++ logging would bury the progress lines; `training` also imports TensorFlow
# with its start-up notices captured (core/quiet_import.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from core.flag_parsing import parse_flags_or_exit  # noqa: E402
from layers.registry import LANGUAGE_MODELS, MODELS  # noqa: E402
from training import config as config_lib  # noqa: E402

_DEFAULTS = config_lib.TrainConfig()

flags.DEFINE_string("task", _DEFAULTS.task, "What is learned: image_classification (the data, model and "
                    "report flags below), language_model (a byte-level decoder-only transformer on text), or "
                    "an import path package.module:ClassName of your own task (README: Your own task).")
flags.DEFINE_string("model", "", "Registered model name (image classification: " + ", ".join(sorted(MODELS))
                    + "; language_model: " + ", ".join(LANGUAGE_MODELS) + ") or an import path "
                    "package.module:ClassName of your own model. Empty: small_cnn, or lm_small for "
                    "--task=language_model.")
flags.DEFINE_string("dataset", "", "Dataset name (image classification: " + ", ".join(sorted(config_lib.DATASETS))
                    + "; language_model: " + ", ".join(sorted(config_lib.TEXT_DATASETS)) + "). Empty: digits, or "
                    "python_stdlib (this Python's standard library source) for --task=language_model.")
flags.DEFINE_string("data_dir", _DEFAULTS.data_dir,
                    "Directory holding the dataset's files. mnist: mnist.npz or the four IDX files; "
                    "cifar10/cifar100: the python or binary .tar.gz, or the folder it unpacks to; "
                    "image_folder: one subfolder of JPEG/PNG images per class; text_folder: UTF-8 text "
                    "files, in subfolders or not.")
flags.DEFINE_integer("image_size", _DEFAULTS.image_size,
                     "image_folder only: resize images to this square side (0: 224).")
flags.DEFINE_boolean("normalize", _DEFAULTS.normalize,
                     "mnist, cifar10, cifar100, image_folder: normalize each channel with the training "
                     "split's mean and std (--nonormalize: pixels in [0, 1]).")
flags.DEFINE_string("augment", _DEFAULTS.augment,
                    "Per-example augmentation of training images: none, crop (zero padding of 1/8 of the "
                    "side, 4 px on CIFAR, then a random crop) or crop_flip (also a random horizontal flip).")
flags.DEFINE_float("mixup_alpha", _DEFAULTS.mixup_alpha,
                   "Mixup's Beta(alpha, alpha) parameter, e.g. 0.2; 0: off.")
flags.DEFINE_float("cutmix_alpha", _DEFAULTS.cutmix_alpha,
                   "CutMix's Beta(alpha, alpha) parameter, e.g. 1.0; 0: off. With mixup also on, each batch "
                   "uses one of the two.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Global batch size (summed over replicas).")
flags.DEFINE_integer("train_steps", _DEFAULTS.train_steps, "Total training steps.")
flags.DEFINE_float("learning_rate", _DEFAULTS.learning_rate, "Peak learning rate.")
flags.DEFINE_string("optimizer", _DEFAULTS.optimizer, "One of " + ", ".join(config_lib.OPTIMIZERS) + ".")
flags.DEFINE_string("lr_schedule", _DEFAULTS.lr_schedule, "After the warmup: cosine (decay to 0 at "
                    "--train_steps), step (x0.1 at 50% and 75% of the steps after warmup) or constant.")
flags.DEFINE_integer("warmup_steps", _DEFAULTS.warmup_steps, "Linear warmup steps before the schedule.")
flags.DEFINE_float("weight_decay", _DEFAULTS.weight_decay, "Decoupled weight decay (w -= lr * weight_decay "
                   "* w) for adamw and sgd, on kernels only (not biases or normalization parameters). Unset: "
                   "0.01 for adamw, 0 for sgd.")
flags.DEFINE_float("clip_grad_norm", _DEFAULTS.clip_grad_norm, "Clip the global norm of the (unscaled) "
                   "gradient to this bound; 0 disables. The norm is logged to TensorBoard as gradient_norm.")
flags.DEFINE_integer("grad_accum_steps", _DEFAULTS.grad_accum_steps, "Split each batch into this many "
                     "micro-batches and apply their summed gradients once: the same update with 1/K of the "
                     "activation memory.")
flags.DEFINE_float("ema_decay", _DEFAULTS.ema_decay, "Keep an exponential moving average of the weights with "
                   "this decay (e.g. 0.999) and evaluate with it; 0 disables.")
flags.DEFINE_string("precision", _DEFAULTS.precision, "float32, mixed_float16 (dynamic loss scaling), "
                    "mixed_bfloat16, or auto (picked for the device; the choice is logged).")
flags.DEFINE_string("jit_compile", _DEFAULTS.jit_compile, "XLA for the train and eval steps: auto, true, "
                    "false, or loop (the whole training loop too; one replica). auto picks the faster path "
                    "for the device, model and precision and logs it.")
flags.DEFINE_integer("steps_per_loop", _DEFAULTS.steps_per_loop, "Training steps per compiled host call.")
flags.DEFINE_integer("eval_every", _DEFAULTS.eval_every, "Validate every N steps (0: at the end only).")
flags.DEFINE_string("model_dir", _DEFAULTS.model_dir, "Run directory: checkpoints, run_config.json and "
                    "TensorBoard events. A run started again with the same directory resumes (its flags must "
                    "be compatible).")
flags.DEFINE_integer("keep_checkpoints", _DEFAULTS.keep_checkpoints, "How many newest checkpoints to keep.")
flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Checkpoint every N steps (at a loop "
                     "boundary), at the end, and on SIGTERM/SIGINT (0: at the end and on signals only).")
flags.DEFINE_string("on_nan", _DEFAULTS.on_nan, "When the loss or weights become NaN/Inf: stop (error), skip "
                    "(drop each such step), restore (reload the last checkpoint at half the learning rate, "
                    "up to 3 times).")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed for weights, shuffling and dropout.")
flags.DEFINE_boolean("deterministic", _DEFAULTS.deterministic, "Enable TensorFlow op determinism.")
flags.DEFINE_string("distribution_strategy", _DEFAULTS.distribution_strategy,
                    "One of " + ", ".join(config_lib.STRATEGIES) + ".")
flags.DEFINE_integer("num_replicas", _DEFAULTS.num_replicas, "Replicas for 'mirrored' (0: every GPU; on a "
                     "CPU-only machine, that many logical CPU devices, for testing).")
flags.DEFINE_string("pretrained_weights", _DEFAULTS.pretrained_weights,
                    "A keras.applications weight file for --model=vgg16/resnet50, loaded before "
                    "training: the .h5 as downloaded (e.g. "
                    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) or a .weights.h5. Nothing is "
                    "downloaded.")
flags.DEFINE_boolean("freeze_base", _DEFAULTS.freeze_base, "Transfer learning, phase one: freeze the "
                     "pretrained base (BatchNorm in inference mode) and train only the head, for "
                     "--train_steps.")
flags.DEFINE_string("unfreeze_from", _DEFAULTS.unfreeze_from, "Phase two, after --freeze_base: unfreeze the "
                    "base from this block to its end (a name: block5 for vgg16, conv5 or conv5_block2 for "
                    "resnet50; or an index, -1 = the last block; BatchNorm stays frozen) and train "
                    "--fine_tune_steps more. Empty: no phase two.")
flags.DEFINE_integer("fine_tune_steps", _DEFAULTS.fine_tune_steps, "Training steps of phase two "
                     "(--unfreeze_from).")
flags.DEFINE_float("fine_tune_learning_rate", _DEFAULTS.fine_tune_learning_rate, "Peak learning rate of "
                   "phase two, small so the pretrained filters move little.")
flags.DEFINE_boolean("export", _DEFAULTS.export, "After training, write a SavedModel for serving (images in, "
                     "class probabilities and names out) to <model_dir>/export (--noexport: skip).")
flags.DEFINE_string("worker_hosts", _DEFAULTS.worker_hosts, "For 'multi_worker': host:port of every worker, "
                    "comma-separated, the chief first; the same list on every worker. Empty: read TF_CONFIG.")
flags.DEFINE_integer("task_index", _DEFAULTS.task_index, "For 'multi_worker' with --worker_hosts: this "
                     "worker's position in the list (0 is the chief).")
# Sequence tasks (language_model).
flags.DEFINE_integer("sequence_length", 0, "language_model: tokens (bytes) per training sequence, which is "
                     "also the model's context (0: 256).")
flags.DEFINE_boolean("remat", _DEFAULTS.remat, "language_model: recompute each transformer block's activations "
                     "in the backward pass instead of storing them (less memory for long sequences, more time).")
flags.DEFINE_boolean("skip_undecodable_files", _DEFAULTS.skip_undecodable_files, "--dataset=text_folder: leave "
                     "out files that are not UTF-8 (each named in the log) instead of stopping at the first.")
# Evaluation jobs, the best checkpoint, hooks (issue 18).
flags.DEFINE_string("mode", _DEFAULTS.mode, "train; evaluate (test a checkpoint of --model_dir and write the "
                    "report; nothing is trained or locked); continuous_evaluate (a sidecar beside a trainer of "
                    "--model_dir: validate each new checkpoint, TensorBoard under eval_sidecar, end with the run). "
                    "Give the trainer's flags.")
flags.DEFINE_string("checkpoint", _DEFAULTS.checkpoint, "--mode=evaluate: the checkpoint to test, a path "
                    "(runs/x/ckpt-300) or best; empty: the newest in --model_dir.")
flags.DEFINE_string("best_metric", _DEFAULTS.best_metric, "Keep the best checkpoint by this metric in "
                    "<model_dir>/best, e.g. validation/accuracy or validation/loss: lower is better for names "
                    "ending in loss or error or holding perplexity or bits_per, higher otherwise; min:/max: "
                    "prefixes say it. Empty: off.")
flags.DEFINE_boolean("use_best", _DEFAULTS.use_best, "With --best_metric: the final test, report and export use "
                     "the best checkpoint (--nouse_best: the newest weights).")
flags.DEFINE_string("hooks", _DEFAULTS.hooks, "Comma-separated import paths package.module:make_hooks of "
                    "callables taking the TrainConfig and returning hooks called as hook(step, metrics, model) "
                    "after each training loop (README: Hooks).")
flags.DEFINE_string("early_stopping_metric", _DEFAULTS.early_stopping_metric, "Stop training (with a "
                    "checkpoint; test and export follow) when this metric, e.g. validation/loss, has not "
                    "improved for --early_stopping_patience evaluations. Direction as for --best_metric.")
flags.DEFINE_integer("early_stopping_patience", _DEFAULTS.early_stopping_patience, "Evaluations without "
                     "improvement of --early_stopping_metric before stopping.")
# Seeing inside a run (profiler window; memory, MFU and hyperparameters in TensorBoard).
flags.DEFINE_string("profile_steps", _DEFAULTS.profile_steps, "START,END: trace training steps START to END "
                    "(from 1, both included) with TensorFlow's profiler into <model_dir>/train, for "
                    "TensorBoard's Profile tab (needs tensorboard-plugin-profile to view) or "
                    "`python -m benchmarks.op_profile --run_dir=<model_dir>`. Empty: no trace.")
# Data at scale: the training stream made by a tf.data service.
flags.DEFINE_string("data_service", _DEFAULTS.data_service, "grpc://host:port of a tf.data service dispatcher "
                    "(python -m training.data_service_dispatcher) whose workers make the training batches; "
                    "empty: this process makes them. Validation and test batches are always made here.")
flags.DEFINE_string("data_service_mode", _DEFAULTS.data_service_mode, "With --data_service: dynamic (the "
                    "batches are split between the service's workers, each made once; order by timing; a resume "
                    "restarts the stream) or off (every worker makes the whole stream: one worker gives the local "
                    "order and an exact resume, W workers repeat each batch W times). README: tf.data service.")
# Data at scale (record files).
flags.DEFINE_boolean("skip_bad_records", _DEFAULTS.skip_bad_records, "--dataset=records: leave out records "
                     "that cannot be read, parsed or decoded or whose label is out of range, counting them "
                     "(logged per loop and in TensorBoard), instead of stopping at the first one.")
flags.DEFINE_float("max_bad_records_fraction", _DEFAULTS.max_bad_records_fraction, "With --skip_bad_records: "
                   "stop when more than this fraction of the records read are bad.")
flags.DEFINE_integer("shuffle_buffer", _DEFAULTS.shuffle_buffer, "--dataset=records: encoded records "
                     "shuffled together in memory (README: Training from record files).")

FLAGS = flags.FLAGS


def config_from_flags() -> config_lib.TrainConfig:
    """Fills a TrainConfig from the flags; raises ConfigError naming a bad flag."""
    fields = {name: FLAGS[name].value for name in config_lib.TrainConfig.__dataclass_fields__}
    return config_lib.TrainConfig(**fields)


def main(argv):
    """Runs the script; SIGTERM/SIGINT in any phase end it cleanly with one line and status 0."""
    # pylint: disable=import-outside-toplevel
    from training.signals import StopSignal, stop_on_signals, stopped_outside_training_message

    try:
        with stop_on_signals():  # Outside the training loop a signal stops at once (training/signals.py).
            _main(argv)
    except StopSignal as stopped:  # Locks and partial outputs are gone by now; say where the run stands.
        if FLAGS.mode != "train":  # An evaluation job leaves the run as it found it.
            print(f"Stopped by {stopped.signal_name}; --mode={FLAGS.mode} wrote no checkpoint of {FLAGS.model_dir}")
            return
        print(stopped_outside_training_message(stopped.signal_name, _newest_checkpoint()))


def _newest_checkpoint():
    """The newest checkpoint of the run, fine-tuning's first; None when there is none yet."""
    from core.checkpointing import checkpoint_candidates  # pylint: disable=import-outside-toplevel
    from training.tasks.transfer_learning import FINE_TUNE_DIRECTORY  # pylint: disable=import-outside-toplevel

    directories = [FLAGS.model_dir] + ([os.path.join(FLAGS.model_dir, FINE_TUNE_DIRECTORY)]
                                       if FLAGS.unfreeze_from else [])
    for directory in reversed(directories):
        candidates = checkpoint_candidates(directory)
        if candidates:
            return candidates[0]
    return None


def _main(argv):
    logging.set_verbosity(logging.WARNING)  # TensorFlow's Python INFO lines (checkpoint sharding...).
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    try:
        config = config_from_flags()
    except config_lib.ConfigError as error:
        sys.exit(f"error: {error}")

    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from core.checkpointing import CheckpointError
    from core.data import DatasetError
    from core.run_config_store import RunConfigMismatch
    from core.run_lock import RunDirectoryLockedError
    from core.storage_errors import StorageError
    from layers.pretrained_weights import PretrainedWeightsError
    from training.jit import XlaCompileError
    from training.nan_policy import NonFiniteLossError
    from training.evaluation_run import evaluate_checkpoint, evaluate_continuously
    from training.hooks import HookError
    from training.run import run_training
    from training.signals import TrainingStopped
    from training.task import TaskError

    try:
        if config.mode == "evaluate":
            test_metrics = evaluate_checkpoint(config).metrics
        elif config.mode == "continuous_evaluate":
            evaluate_continuously(config)
            return
        else:
            result = run_training(config)
            if not result.training.is_chief:
                return
            test_metrics = result.training.test_metrics
    except TrainingStopped as stopped:  # A clean, resumable stop: exit status 0.
        print(stopped)
        return
    # Each message names the flag, file or step concerned and what to do; anything else (a bug,
    # an exhausted device) keeps its traceback. Unusable data files or splits; a run directory or
    # checkpoint of another run; NaN/Inf the --on_nan policy gives up on; an op XLA cannot
    # compile; model, data and weights that disagree; a run directory another process trains in; a
    # full or read-only disk.
    except (CheckpointError, DatasetError, RunConfigMismatch, NonFiniteLossError, XlaCompileError,
            config_lib.ConfigError, PretrainedWeightsError, RunDirectoryLockedError, StorageError,
            TaskError, HookError) as error:
        sys.exit(f"error: {error}")
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
        if config.distribution_strategy != "multi_worker":
            raise
        # A worker died or became unreachable: the coordination service aborts everyone's collectives.
        # The error names the dead task: "remote target /job:worker/replica:0/task:1" (its socket
        # closed) or "The following tasks are unhealthy ... /job:worker/replica:0/task:1" (no heartbeat).
        tasks = sorted(set(re.findall(r"/job:\w+/replica:\d+/task:\d+\b(?!/device)", error.message)))
        cause = ", ".join(tasks) or "a peer stopped responding"
        sys.exit(f"error: the multi-worker job lost a worker ({cause[:200]}); start every worker again with "
                 f"the same flags to resume from the last checkpoint in {config.model_dir}")
    for name, value in test_metrics.items():
        print(f"Test {name.replace('_', ' ')}: {value:.4f}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
