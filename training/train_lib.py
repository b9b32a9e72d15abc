"""train_and_evaluate: a whole training run, readable top to bottom."""

import dataclasses

import keras
import tensorflow as tf

from core import precision as precision_lib
from core.checkpointing import TrainingCheckpoint
from core.data import (create_augmentation, create_batch_mixing, evaluation_dataset, load_dataset,
                       training_dataset)
from core.devices import detect_device
from core.distribution import create_strategy, per_replica_batch_size
from core.summaries import SummaryWriter
from layers.registry import create_model
from training.accumulation import check_micro_batches
from training.ema import ExponentialMovingAverage, averaged_weights
from training.jit import explain_xla_errors, resolve_jit_compile, resolve_loop_compilation
from training.loop import make_eval_loop, make_train_loop
from training.metrics import ClassificationMetrics
from training.optimizers import create_optimizer
from training.progress import ProgressReporter
from training.schedules import create_schedule
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


def train_and_evaluate(config, datasets=None, model_fn=None, log=print) -> TrainResult:
    """Trains `config.model` on `config.dataset`, evaluating as it goes, and tests the result.

    Resumes from the newest checkpoint in `config.model_dir` when there is one.

    Args:
      config: a TrainConfig.
      datasets: DatasetSplits to use instead of loading `config.dataset`.
      model_fn: num_classes -> model, used instead of `config.model`.
      log: where progress lines go.

    Returns:
      TrainResult with the test accuracy of the final weights.
    """
    # Device, precision, distribution, randomness.
    # The strategy comes first: it may split the CPU into logical devices, which must happen
    # before anything initializes TensorFlow's devices.
    strategy = create_strategy(config.distribution_strategy, config.num_replicas)
    device = detect_device()
    policy, precision_reason = precision_lib.resolve_precision(config.precision, device)
    log(f"Device: {device.kind} ({device.name}); precision {policy}: {precision_reason}")
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    # Input pipeline. Batches are split over replicas; each replica sees global / replicas.
    datasets = datasets or load_dataset(config.dataset, config.data_dir, config.normalize, config.image_size)
    log(_describe_data(datasets, config))
    # Refuses an uneven split over replicas, or into micro-batches, early.
    check_micro_batches(per_replica_batch_size(config.batch_size, strategy), config.grad_accum_steps)
    train_batches = training_dataset(
        datasets.train, datasets.num_examples["train"], config.batch_size, config.seed,
        augment=create_augmentation(config.augment, datasets.input_shape),
        mix_batches=create_batch_mixing(config.mixup_alpha, config.cutmix_alpha, datasets.num_classes),
        examples=datasets.train_examples)
    train_iterator = iter(strategy.experimental_distribute_dataset(train_batches))
    validation_batches = strategy.experimental_distribute_dataset(
        evaluation_dataset(datasets.validation, config.batch_size))
    test_batches = strategy.experimental_distribute_dataset(evaluation_dataset(datasets.test, config.batch_size))

    # Model, optimizer, weight average and metrics, created under the policy (layer dtypes) and the
    # strategy (variable placement). The optimizer's slots are built now so a checkpoint can fill them.
    with precision_lib.precision_scope(policy), strategy.scope():
        model = (model_fn or (lambda n: create_model(config.model, n)))(datasets.num_classes)
        model(tf.zeros((1,) + datasets.input_shape), training=False)  # Creates the weights.
        schedule = create_schedule(config.lr_schedule, config.learning_rate, config.warmup_steps, config.train_steps)
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
    compile_loop, loop_reason = resolve_loop_compilation(
        config.jit_compile, jit_compile, device, strategy.num_replicas_in_sync)
    log(f"XLA {'on' if jit_compile else 'off'}: {jit_reason}" + (f"; {loop_reason}" if compile_loop else ""))

    # Checkpoint: everything needed to continue exactly. `model.variables` adds the state
    # Keras keeps outside the layer attributes (dropout seed generators); variables reached
    # twice are saved once.
    checkpoint = TrainingCheckpoint(
        config.model_dir, config.keep_checkpoints, model=model, optimizer=optimizer, global_step=global_step,
        train_iterator=train_iterator, model_variables=list(model.variables), **({"ema": ema} if ema else {}))
    restored = checkpoint.restore_latest()
    if restored:
        log(f"Resumed from {restored} at step {int(global_step)}")

    # Compiled loops.
    train_step = make_train_step(model, optimizer, train_metrics, config.batch_size, config.grad_accum_steps,
                                 config.clip_grad_norm, gradient_norm, ema)
    train_loop = make_train_loop(train_step, strategy, jit_compile, compile_loop=compile_loop)
    eval_loop = make_eval_loop(make_eval_step(model, eval_metrics), strategy, jit_compile)

    def evaluate(batches):
        """Metrics of the weights' moving average when there is one, else of the weights."""
        eval_metrics.reset()
        with averaged_weights(ema), explain_xla_errors():
            eval_loop(batches)
        return eval_metrics.results()

    # The loop: each host call runs up to `steps_per_loop` steps, stopping at evaluation
    # boundaries; summaries, evaluation and checkpoints happen between calls.
    summaries = SummaryWriter(config.model_dir, "train")
    validation_summaries = SummaryWriter(config.model_dir, "validation")
    progress = ProgressReporter(config.train_steps, config.batch_size)
    validation_history = []
    step = int(global_step)
    while step < config.train_steps:
        steps = _steps_until_boundary(step, config)
        train_metrics.reset()
        gradient_norm.reset_state()
        with explain_xla_errors():  # An op XLA cannot compile fails the first call: name it.
            train_loop(train_iterator, tf.constant(steps, tf.int32))
        step = int(global_step.assign_add(steps))
        figures = progress.report(step, steps, train_metrics.results())
        if not tf.math.is_finite(figures["loss"]):
            raise FloatingPointError(
                f"training loss became {figures['loss']} by step {step}; try a lower --learning_rate")
        log(progress.format(step, figures))
        summaries.scalars(step, dict(figures, learning_rate=_current_learning_rate(optimizer),
                                     **_loss_scale_scalar(optimizer),
                                     **_gradient_norm_scalar(gradient_norm, config)))
        if step == config.train_steps or (config.eval_every and step % config.eval_every == 0):
            validation = evaluate(validation_batches)
            validation_history.append((step, validation))
            validation_summaries.scalars(step, validation)
            log(f"step {step}: validation loss {validation['loss']:.4f} | accuracy {validation['accuracy']:.4f}")
            path = checkpoint.save(step)
            log(f"Saved checkpoint {path}")
            progress.restart_clock()
    summaries.close()
    validation_summaries.close()

    test = evaluate(test_batches)
    return TrainResult(
        test_accuracy=test["accuracy"], test_loss=test["loss"], validation_history=validation_history,
        final_step=step, precision=policy, jit_compile=jit_compile, model=model, ema=ema)


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


def _steps_until_boundary(step, config):
    """Steps to run in the next loop: at most steps_per_loop, stopping at eval and the end."""
    boundary = config.train_steps
    if config.eval_every:
        boundary = min(boundary, (step // config.eval_every + 1) * config.eval_every)
    return min(config.steps_per_loop, boundary - step)


def _current_learning_rate(optimizer):
    # Keras evaluates a schedule at the optimizer's applied-update count here.
    return float(optimizer.learning_rate)


def _loss_scale_scalar(optimizer):
    scale = precision_lib.loss_scale_of(optimizer)
    return {} if scale is None else {"loss_scale": float(scale)}


def _gradient_norm_scalar(gradient_norm, config):
    # Measured only when clipping: under several replicas it costs an extra all-reduce.
    return {"gradient_norm": float(gradient_norm.result())} if config.clip_grad_norm else {}
