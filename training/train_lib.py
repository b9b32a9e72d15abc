"""train_and_evaluate: a whole training run, readable top to bottom."""

import contextlib
import dataclasses
import math

import keras
import tensorflow as tf
from tensorflow.python.framework import config as tf_framework_config

from core import precision as precision_lib
from core.checkpointing import NonFiniteWeightsError, TrainingCheckpoint, has_checkpoint_files, saved_names
from core.cluster import is_chief, remove_temporary_directory, write_directory
from core.data import evaluation_dataset, load_dataset, training_input
from core.data.validation import validate_splits
from core.run_lock import run_directory_lock
from core.devices import detect_device
from core.distributed_input import (distribute_evaluation_batches, distribute_training_batches,
                                    is_checkpointable)
from core.replica_agreement import check_workers_agree, make_replica_state_averager
from core.run_config_store import check_resumable, write_run_config
from core.summaries import SummaryWriter
from layers.registry import create_model
from training.config import CHANGEABLE_ON_RESUME
from training.ema import ExponentialMovingAverage, averaged_weights
from training.jit import explain_xla_errors, resolve_jit_compile, resolve_loop_compilation
from training.loop import make_eval_loop, make_train_loop, steps_until_boundary
from training.metrics import ClassificationMetrics
from training.nan_policy import NonFiniteHandler, ScaledLearningRate
from training.optimizers import create_optimizer
from training.progress import (ProgressReporter, current_learning_rate, gradient_norm_scalar,
                               loss_scale_scalar)
from training.run_strategy import create_run_strategy, permit_xla
from training.schedules import create_schedule
from training.signals import StopRequests, TrainingStopped, stopped_message
from training.step import make_eval_step, make_train_step


@dataclasses.dataclass
class TrainResult:
    """What a finished run reports."""

    test_accuracy: float
    test_loss: float
    validation_history: list  # [(step, {"loss": ..., "accuracy": ...}), ...]
    final_step: int
    precision: str
    jit_compile: bool
    model: object
    ema: object = None  # The ExponentialMovingAverage of the weights with --ema_decay, else None.
    is_chief: bool = True  # False on the other workers of a multi-worker job, which log no results.
    strategy: object = None  # The tf.distribute strategy the model's variables live under.


def train_and_evaluate(config, datasets=None, model_fn=None, log=print) -> TrainResult:
    """Trains `config.model` on `config.dataset`, evaluating as it goes, and tests the result.

    Resumes from the newest checkpoint in `config.model_dir` when there is one, after checking
    that the run there was made with compatible settings (its run_config.json).

    Args:
      config: a TrainConfig.
      datasets: DatasetSplits to use instead of loading `config.dataset`.
      model_fn: num_classes -> model, used instead of `config.model`.
      log: where progress lines go.

    Returns:
      TrainResult with the test accuracy of the final weights.

    Raises:
      TrainingStopped: after saving, when SIGTERM or SIGINT arrived during training.
      RunConfigMismatch, CheckpointError, InvalidSplitsError, NonFiniteLossError: one-line
        errors for another run's directory, a bad checkpoint, bad data, and NaN/Inf.
    """
    # --deterministic switches TensorFlow's op determinism on for the process; a caller's later
    # work (another run in a notebook, a sweep) gets the setting it had before. TF 2.21 exports
    # only enable_op_determinism; the query and the switch-off live in its framework module.
    was_deterministic = tf_framework_config.is_op_determinism_enabled()
    try:
        with contextlib.ExitStack() as held:  # The run directory's lock, once the chief takes it.
            return _train_and_evaluate(config, datasets, model_fn, log, held)
    finally:
        if not was_deterministic:
            tf_framework_config.disable_op_determinism()


def _train_and_evaluate(config, datasets, model_fn, log, held) -> TrainResult:
    # The run directory: refuse one holding a run made with incompatible settings before
    # anything else, and say which allowed settings changed.
    if has_checkpoint_files(config.model_dir):
        for name, old, new in check_resumable(config.model_dir, config.to_dict(), CHANGEABLE_ON_RESUME):
            log(f"Resuming with --{name}={new!r} (the run was made with {old!r})")

    # Device, precision, distribution, randomness.
    strategy = create_run_strategy(config)
    chief = is_chief(strategy)
    device = detect_device()
    policy, precision_reason = precision_lib.resolve_precision(config.precision, device)
    log(f"Device: {device.kind} ({device.name}); precision {policy}: {precision_reason}")
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    # Input pipeline. Each replica gets batches of global / replicas examples; the sharding
    # policy and how a resumed run finds its place are in core/distributed_input.py.
    datasets = datasets or load_dataset(config.dataset, config.data_dir, config.normalize, config.image_size)
    validate_splits(datasets, config.batch_size)
    # Bad data is refused before the run directory is touched; from here on the chief holds it.
    # Other workers write to their own temporary directories (core/cluster.py).
    if chief:
        held.enter_context(run_directory_lock(config.model_dir))
    log(_describe_data(datasets, config))

    def make_training_batches(batch_size):
        return training_input(datasets, batch_size, config.seed, config.augment, config.mixup_alpha,
                              config.cutmix_alpha, config.steps_per_loop)

    train_iterator = distribute_training_batches(strategy, make_training_batches, config.batch_size)
    # The checkpoint holds the input's position when it can (the default strategy) and did before;
    # otherwise the restored step gives it.
    saved = saved_names(config.model_dir)
    save_iterator = is_checkpointable(train_iterator) and (saved is None or "train_iterator" in saved)
    validation_batches = distribute_evaluation_batches(
        strategy, lambda batch_size: evaluation_dataset(datasets.validation, batch_size), config.batch_size)
    test_batches = distribute_evaluation_batches(
        strategy, lambda batch_size: evaluation_dataset(datasets.test, batch_size), config.batch_size)

    # Model, optimizer, weight average and metrics, created under the policy (layer dtypes) and the
    # strategy (variable placement). The optimizer's slots are built now so a checkpoint can fill them.
    with precision_lib.precision_scope(policy), strategy.scope():
        model = (model_fn or (lambda n: create_model(config.model, n)))(datasets.num_classes)
        model(tf.zeros((1,) + datasets.input_shape), training=False)  # Creates the weights.
        # `--on_nan=restore` lowers the scale; it is 1.0 (an exact no-op) otherwise.
        learning_rate_scale = tf.Variable(1.0, trainable=False, name="learning_rate_scale")
        # Replicas agree on every skip (`--on_nan=skip`), so the first replica's count is the count.
        skipped_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        schedule = create_schedule(config.lr_schedule, config.learning_rate, config.warmup_steps,
                                   config.train_steps)
        schedule = ScaledLearningRate(schedule, learning_rate_scale)
        weights = model.trainable_variables
        optimizer = create_optimizer(config.optimizer, schedule, config.weight_decay, weights)
        optimizer = precision_lib.wrap_for_loss_scaling(optimizer, policy)
        optimizer.build(weights)
        ema = ExponentialMovingAverage(weights, config.ema_decay) if config.ema_decay else None
        train_metrics = ClassificationMetrics("train")
        gradient_norm = keras.metrics.Mean(name="gradient_norm")
        eval_metrics = ClassificationMetrics("eval")
        global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    jit_compile, jit_reason = resolve_jit_compile(
        config.jit_compile, device, model, datasets.input_shape, precision_lib.compute_dtype(policy))
    jit_compile, jit_reason = permit_xla(strategy, device.kind, jit_compile, jit_reason, config.jit_compile)
    compile_loop, loop_reason = resolve_loop_compilation(
        config.jit_compile, jit_compile, device, strategy.num_replicas_in_sync)
    log(f"XLA {'on' if jit_compile else 'off'}: {jit_reason}" + (f"; {loop_reason}" if compile_loop else ""))

    # Checkpoint: everything needed to continue exactly. `model.variables` adds the state
    # Keras keeps outside the layer attributes (dropout seed generators); variables reached
    # twice are saved once. Every worker saves; only the chief's checkpoints stay.
    checkpoint_directory = write_directory(config.model_dir, strategy)
    checkpoint = TrainingCheckpoint(
        checkpoint_directory, config.keep_checkpoints, restore_directory=config.model_dir, model=model,
        optimizer=optimizer, global_step=global_step, model_variables=list(model.variables),
        learning_rate_scale=learning_rate_scale, skipped_steps=skipped_steps,
        **({"train_iterator": train_iterator} if save_iterator else {}),
        **({"ema": ema} if ema else {}))
    restored = checkpoint.restore_latest(log)
    if strategy.cluster_resolver is not None:
        check_workers_agree(strategy, int(global_step.numpy()), "the step to resume (is --model_dir shared?)")
    if restored:
        step = int(global_step.numpy())
        if not save_iterator:
            train_iterator = distribute_training_batches(
                strategy, make_training_batches, config.batch_size, skip_steps=step)
        replayed = "" if save_iterator else f"; input replayed to step {step}"
        log(f"Resumed from {restored} at step {step}{replayed}")
    if chief:
        write_run_config(config.model_dir, config.to_dict())

    # Compiled loops.
    train_step = make_train_step(model, optimizer, train_metrics, config.batch_size, config.grad_accum_steps,
                                 config.clip_grad_norm, gradient_norm, ema,
                                 skipped_steps=skipped_steps if config.on_nan == "skip" else None)
    train_loop = make_train_loop(train_step, strategy, jit_compile, compile_loop=compile_loop)
    eval_loop = make_eval_loop(make_eval_step(model, eval_metrics), strategy, jit_compile)
    average_replica_state = make_replica_state_averager(strategy, model)

    def evaluate(batches):
        """Metrics of the weights' moving average when there is one, else of the weights."""
        eval_metrics.reset()
        with averaged_weights(ema), explain_xla_errors():
            eval_loop(batches)
        return eval_metrics.results()

    # The loop: each host call runs up to `steps_per_loop` steps, stopping at evaluation and
    # checkpoint boundaries; summaries, evaluation, checkpoints, the NaN policy and stop
    # requests (SIGTERM/SIGINT) are handled between calls.
    summaries = SummaryWriter(config.model_dir, "train", enabled=chief)
    validation_summaries = SummaryWriter(config.model_dir, "validation", enabled=chief)
    progress = ProgressReporter(config.train_steps, config.batch_size)
    non_finite = NonFiniteHandler(config.on_nan, checkpoint, learning_rate_scale, global_step, log)
    if config.on_nan == "restore" and checkpoint.latest_path is None:
        checkpoint.save(int(global_step))  # `restore` needs a checkpoint to go back to.
    validation_history = []
    step = int(global_step.numpy())
    with StopRequests() as stop_requests:
        while step < config.train_steps:
            steps = steps_until_boundary(step, config)
            train_metrics.reset()
            gradient_norm.reset_state()
            skipped_before = int(skipped_steps.numpy())
            with explain_xla_errors():  # An op XLA cannot compile fails the first call: name it.
                train_loop(train_iterator, tf.constant(steps, tf.int32))
            average_replica_state()  # One value of BatchNorm statistics on every replica.
            step = int(global_step.assign_add(steps).numpy())
            figures = progress.report(step, steps, train_metrics.results())
            if not math.isfinite(figures["loss"]):
                step = non_finite.recover(step, f"the training loss is {figures['loss']}")
                continue
            log(progress.format(step, figures))
            non_finite.report_skipped(step, steps, int(skipped_steps.numpy()) - skipped_before,
                                      loss_scale_scalar(optimizer).get("loss_scale"))
            summaries.scalars(step, dict(figures, learning_rate=current_learning_rate(optimizer),
                                         **loss_scale_scalar(optimizer),
                                         **gradient_norm_scalar(gradient_norm, config)))
            if step == config.train_steps or (config.eval_every and step % config.eval_every == 0):
                validation = evaluate(validation_batches)
                validation_history.append((step, validation))
                validation_summaries.scalars(step, validation)
                log(f"step {step}: validation loss {validation['loss']:.4f} | "
                    f"accuracy {validation['accuracy']:.4f}")
            if (step == config.train_steps or stop_requests.signal_name
                    or (config.checkpoint_every and step % config.checkpoint_every == 0)):
                try:
                    path = checkpoint.save(step)
                except NonFiniteWeightsError as error:
                    step = non_finite.recover(step, f"variable {error.variable} holds NaN or Inf")
                    continue
                remove_temporary_directory(checkpoint_directory, config.model_dir)
                non_finite.checkpoint_saved()
                if chief:
                    log(f"Saved checkpoint {path}")
                progress.restart_clock()
            if stop_requests.signal_name:
                raise TrainingStopped(stopped_message(stop_requests.signal_name, step, path), step, path)
    summaries.close()
    validation_summaries.close()

    test = evaluate(test_batches)
    return TrainResult(
        test_accuracy=test["accuracy"], test_loss=test["loss"], validation_history=validation_history,
        final_step=step, precision=policy, jit_compile=jit_compile, model=model, ema=ema, is_chief=chief,
        strategy=strategy)


def _describe_data(datasets, config):
    """One log line: the dataset's splits, normalization and augmentation."""
    counts = "/".join(str(datasets.num_examples[split]) for split in ("train", "validation", "test"))
    line = f"Data: {datasets.name}, {counts} train/validation/test examples of {datasets.input_shape}"
    if datasets.normalization is not None:
        mean = ", ".join(f"{value:.3f}" for value in datasets.normalization.mean)
        std = ", ".join(f"{value:.3f}" for value in datasets.normalization.std)
        line += f"; normalized by the training split's mean ({mean}) and std ({std})"
    line += f"; augmentation {config.augment}"
    for name, alpha in (("mixup", config.mixup_alpha), ("cutmix", config.cutmix_alpha)):
        if alpha:
            line += f", {name} {alpha}"
    return line
