"""train_and_evaluate: one phase of training any task, readable top to bottom.

The run is generic: strategy and device, precision, the compiled multi-step loop, checkpoints,
summaries, progress, signals, the NaN policy and evaluation at loop boundaries. What is learned
(data, model, loss, metrics) is the task's (training/task.py); nothing here knows about images.
"""

import contextlib
import dataclasses
import math

import keras
import tensorflow as tf

from core import determinism
from core import precision as precision_lib
from core.checkpointing import NonFiniteWeightsError, TrainingCheckpoint, has_checkpoint_files, saved_names
from core.cluster import is_chief, remove_temporary_directory, write_directory
from core.data_service import create_data_service
from core.data.record_reading import explain_bad_records
from core.run_lock import run_directory_lock
from core.devices import detect_device
from core.distributed_input import (distribute_evaluation_batches, distribute_training_batches,
                                    is_checkpointable)
from core.replica_agreement import check_workers_agree, make_replica_state_averager
from core.run_config_store import check_resumable, write_run_config
from core.summaries import SummaryWriter
from training.best_checkpoint import BestCheckpoint
from training.config import CHANGEABLE_ON_RESUME
from training.environment_checks import check_environment
from training.ema import ExponentialMovingAverage, averaged_weights
from training.hooks import call_hooks, hooks_from_config
from training.jit import explain_xla_errors, resolve_jit_compile, resolve_loop_compilation
from training.loop import make_eval_loop, make_train_loop, steps_until_boundary
from training.metric_goals import check_metric_flags, flatten_metrics
from training.metrics import TaskMetrics
from training.nan_policy import NonFiniteHandler, ScaledLearningRate
from training.optimizers import create_optimizer
from training.progress import (ProgressReporter, current_learning_rate, gradient_norm_scalar,
                               loss_scale_scalar)
from training.run_strategy import create_run_strategy, permit_xla
from training.schedules import create_schedule
from training.signals import StopRequests, TrainingStopped, stopped_message
from training.step import make_eval_step, make_train_step
from training.task_checks import check_model, check_task_batches, create_optimizers
from training.tasks import create_task
from training.telemetry import Telemetry, checkpoint_event, evaluation_event
from training.utilization import StepCost, measure_step_cost, throughput_unit


@dataclasses.dataclass
class TrainResult:
    """What a finished phase reports."""

    test_metrics: dict  # The test split's {"loss": ..., and the task's metrics}.
    validation_history: list  # [(step, {"loss": ..., and the task's metrics}), ...]
    final_step: int
    precision: str
    jit_compile: bool
    model: object
    ema: object = None  # The ExponentialMovingAverage of the weights with --ema_decay, else None.
    is_chief: bool = True  # False on the other workers of a multi-worker job, which log no results.
    strategy: object = None  # The tf.distribute strategy the model's variables live under.
    task: object = None  # The task trained.
    best_checkpoint: str | None = None  # With --best_metric and --use_best: the checkpoint tested.
    run_figures: dict = dataclasses.field(default_factory=dict)  # Peak memory, the last loop's throughput and MFU.

    @property
    def test_loss(self) -> float:
        return self.test_metrics["loss"]

    @property
    def test_accuracy(self) -> float:
        """The test accuracy, for tasks that measure one (image classification does)."""
        return self.test_metrics["accuracy"]


def train_and_evaluate(config, datasets=None, model_fn=None, log=print, task=None, hooks=None) -> TrainResult:
    """Trains `config.task` (image classification: `config.model` on `config.dataset`), evaluating
    as it goes, and tests the result.

    Resumes from the newest checkpoint in `config.model_dir` when there is one, after checking
    that the run there was made with compatible settings (its run_config.json).

    Args:
      config: a TrainConfig.
      datasets: image classification: DatasetSplits to use instead of loading `config.dataset`.
      model_fn: image classification: num_classes -> model, used instead of `config.model`.
      log: where progress lines go.
      task: a task object (training/task.py) to train instead of `config.task`.
      hooks: callables hook(step, metrics, model) run at every loop boundary (training/hooks.py),
        before those `--hooks` and early stopping add.

    Returns:
      TrainResult with the test metrics of the final weights (the best checkpoint's with
      `--best_metric`, unless `--nouse_best`).

    Raises:
      TrainingStopped: after saving, when SIGTERM or SIGINT arrived during training.
      HookError: after saving, when a hook raised.
      TaskError, RunConfigMismatch, CheckpointError, InvalidSplitsError, NonFiniteLossError:
        one-line errors for a task that cannot run, another run's directory, a bad checkpoint,
        bad data, and NaN/Inf.
    """
    check_environment(config, task, model_given=model_fn is not None)
    task = task or create_task(config, datasets=datasets, model_fn=model_fn, log=log)
    return train_phase(config, task, log, list(hooks or []) + hooks_from_config(config, log))


def train_phase(config, task, log, hooks=()) -> TrainResult:
    """`train_and_evaluate` of a task object: one phase (training/run.py runs every phase)."""
    # --deterministic switches TensorFlow's op determinism on for the process; a caller's later
    # work (another run in a notebook, a sweep) gets the setting it had before. TF 2.21 exports
    # only enable_op_determinism; the query and the switch-off live in its framework module.
    was_deterministic = determinism.is_op_determinism_enabled()
    try:
        # A bad record found while reading stops the run with one line naming it (record files).
        with contextlib.ExitStack() as held, explain_bad_records():  # held: the run directory's lock.
            return _train_phase(config, task, log, held, hooks)
    finally:
        if not was_deterministic:
            determinism.disable_op_determinism()


def _train_phase(config, task, log, held, hooks) -> TrainResult:
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

    # Input pipeline: the task's batches. Each replica gets batches of global / replicas examples;
    # the sharding policy and how a resumed run finds its place are in core/distributed_input.py.
    data = task.build_datasets()

    # Model, optimizers, weight average and metrics, created under the policy (layer dtypes) and the
    # strategy (variable placement). The optimizers' slots are built now so a checkpoint can fill them.
    with precision_lib.precision_scope(policy), strategy.scope():
        model = task.build_model()
        check_model(task, model, config)
        # `--on_nan=restore` lowers the scale; it is 1.0 (an exact no-op) otherwise.
        learning_rate_scale = tf.Variable(1.0, trainable=False, name="learning_rate_scale")
        # Replicas agree on every skip (`--on_nan=skip`), so the first replica's count is the count.
        skipped_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_steps",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        schedule = create_schedule(config.lr_schedule, config.learning_rate, config.warmup_steps,
                                   config.train_steps)
        schedule = ScaledLearningRate(schedule, learning_rate_scale)

        def new_optimizer(variables):
            optimizer = create_optimizer(config.optimizer, schedule, config.weight_decay, variables)
            optimizer = precision_lib.wrap_for_loss_scaling(optimizer, policy)
            optimizer.build(variables)
            return optimizer

        optimizers = create_optimizers(task, model, new_optimizer)
        optimizer = next(iter(optimizers.values()))  # Its count of updates drives schedule and EMA.
        weights = model.trainable_variables
        ema = ExponentialMovingAverage(weights, config.ema_decay) if config.ema_decay else None
        train_metrics = TaskMetrics("train", task)
        gradient_norm = keras.metrics.Mean(name="gradient_norm")
        eval_metrics = TaskMetrics("eval", task)
        global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    check_metric_flags(config, ["loss", *eval_metrics.task_metrics])  # --best_metric and early stopping.
    # Model and data must agree before the run directory is touched: one validation batch through
    # the task's loss, eagerly, so a mismatch is one line naming the task rather than a trace.
    check_task_batches(task, model, data, config)
    # From here on the chief holds the run directory; other workers write to their own temporary
    # directories (core/cluster.py).
    if chief:  # Held to the end of the phase, or of an enclosing deferred_release (training/run.py).
        held.enter_context(run_directory_lock(config.model_dir))
    log(data.description or f"Data: {type(task).__name__}")
    # A tf.data service job starts once the step to start at is known (after the restore).
    with_service = bool(config.data_service)
    train_iterator = None if with_service else distribute_training_batches(
        strategy, data.train, config.batch_size, positioned=data.positioned_train)
    # The checkpoint holds the input's position when it can (the default strategy, no service, not a
    # positioned stream) and did before; otherwise the restored step gives it (always for a
    # positioned stream: record files).
    saved = saved_names(config.model_dir)
    save_iterator = (not with_service and data.positioned_train is None and is_checkpointable(train_iterator)
                     and (saved is None or "train_iterator" in saved))
    validation_batches = distribute_evaluation_batches(strategy, data.validation, config.batch_size)
    test_batches = distribute_evaluation_batches(strategy, data.test, config.batch_size)
    # XLA's verdict inspects the graph of the task's loss on one example (training/jit.py).
    one_example = tf.nest.map_structure(lambda spec: tf.TensorSpec((1,) + tuple(spec.shape[1:]), spec.dtype),
                                        data.train(1).element_spec)
    jit_compile, jit_reason = resolve_jit_compile(
        config.jit_compile, device, lambda batch, training: task.compute_loss(model, batch, training),
        one_example, precision_lib.compute_dtype(policy),
        cpu_measurement=getattr(task, "xla_on_cpu", lambda: None)())
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
        global_step=global_step, model_variables=list(model.variables),
        learning_rate_scale=learning_rate_scale, skipped_steps=skipped_steps,
        **_checkpoint_names(optimizers),
        **({"train_iterator": train_iterator} if save_iterator else {}),
        **({"ema": ema} if ema else {}))
    best = BestCheckpoint(config.best_metric, checkpoint, config.model_dir, checkpoint_directory, log,
                          chief) if config.best_metric else None
    restored = checkpoint.restore_latest(log)
    if strategy.cluster_resolver is not None:
        check_workers_agree(strategy, int(global_step.numpy()), "the step to resume (is --model_dir shared?)")
    step = int(global_step.numpy())
    service = create_data_service(config.data_service, config.data_service_mode, config.model_dir, step)
    if service is not None:
        log(service.describe())
    replay = restored and (not save_iterator or "train_iterator" in checkpoint.unrestored)
    if replay or service is not None:
        train_iterator = distribute_training_batches(strategy, data.train, config.batch_size, skip_steps=step,
                                                     service=service, positioned=data.positioned_train)
        if save_iterator:  # An older pipeline's position did not fit: this run and its resumes replay.
            checkpoint.forget("train_iterator")
            save_iterator = False
    if restored:
        replayed = "" if save_iterator or data.positioned_train else (
            service.resume_note(step) if service is not None else f"; input replayed to step {step}")
        log(f"Resumed from {restored} at step {step}{replayed}")
    if chief:
        write_run_config(config.model_dir, config.to_dict())

    # Compiled loops.
    train_step = make_train_step(task, model, optimizers, train_metrics, config.batch_size, config.grad_accum_steps,
                                 config.clip_grad_norm, gradient_norm, ema,
                                 skipped_steps=skipped_steps if config.on_nan == "skip" else None)
    train_loop = make_train_loop(train_step, strategy, jit_compile, compile_loop=compile_loop)
    eval_loop = make_eval_loop(make_eval_step(task, model, eval_metrics), strategy, jit_compile)
    average_replica_state = make_replica_state_averager(strategy, model)
    # MFU's numerator, counted once in the step's HLO when the device's peak is known (training/utilization.py).
    step_cost = measure_step_cost(train_step, one_example, config.batch_size, device,
                                  precision_lib.compute_dtype(policy), strategy, log) if chief else StepCost()

    def evaluate(batches):
        """Metrics of the weights' moving average when there is one, else of the weights."""
        eval_metrics.reset()
        with averaged_weights(ema), explain_xla_errors(), evaluation_event():
            eval_loop(batches)
        return eval_metrics.results()

    # The loop: each host call runs up to `steps_per_loop` steps, stopping at evaluation and
    # checkpoint boundaries; summaries, evaluation, checkpoints, the NaN policy and stop
    # requests (SIGTERM/SIGINT) are handled between calls.
    summaries = SummaryWriter(config.model_dir, "train", enabled=chief)
    validation_summaries = SummaryWriter(config.model_dir, "validation", enabled=chief)
    progress = ProgressReporter(config.train_steps, config.batch_size, throughput_unit(task), step_cost)
    # Hyperparameters, memory, the profiler window.
    telemetry = Telemetry(config, device.kind, log, enabled=chief, restart_clock=progress.restart_clock)
    telemetry.start()
    figures = {}
    non_finite = NonFiniteHandler(config.on_nan, checkpoint, learning_rate_scale, global_step, log)
    if config.on_nan == "restore" and checkpoint.latest_path is None:
        checkpoint.save(int(global_step))  # `restore` needs a checkpoint to go back to.
    validation_history = []
    step = int(global_step.numpy())
    with StopRequests() as stop_requests, telemetry.watching():
        while step < config.train_steps:
            steps = steps_until_boundary(step, config)
            validation = None
            train_metrics.reset()
            gradient_norm.reset_state()
            skipped_before = int(skipped_steps.numpy())
            with explain_xla_errors(), telemetry.loop_call(step, steps):  # XLA's failure names the op.
                train_loop(train_iterator, tf.constant(steps, tf.int32))
            average_replica_state()  # One value of BatchNorm statistics on every replica.
            step = int(global_step.assign_add(steps).numpy())
            loop_metrics = train_metrics.results()
            figures = progress.report(step, steps, loop_metrics)
            if not math.isfinite(figures["loss"]):
                step = non_finite.recover(step, f"the training loss is {figures['loss']}")
                continue
            log(progress.format(step, figures))
            non_finite.report_skipped(step, steps, int(skipped_steps.numpy()) - skipped_before,
                                      loss_scale_scalar(optimizer).get("loss_scale"))
            summaries.scalars(step, dict(figures, learning_rate=current_learning_rate(optimizer),
                                         **loss_scale_scalar(optimizer),
                                         **gradient_norm_scalar(gradient_norm, config),
                                         **telemetry.loop_scalars()))
            if data.check_input is not None:  # Bad records skipped so far (record files), or a stop.
                input_figures = data.check_input()
                summaries.scalars(step, input_figures)
                log(f"step {step}: input " + ", ".join(f"{k} {v}" for k, v in input_figures.items()))
            if step == config.train_steps or (config.eval_every and step % config.eval_every == 0):
                validation = evaluate(validation_batches)
                validation_history.append((step, validation))
                validation_summaries.scalars(step, validation)
                log(f"step {step}: validation " + _format_metrics(validation))
            if best:
                best.consider(step, flatten_metrics(loop_metrics, validation))
            # A hook that stops or fails ends training after the checkpoint below (training/hooks.py).
            hooks_stop = call_hooks(hooks, step, loop_metrics, validation, model)
            if (step == config.train_steps or stop_requests.signal_name or hooks_stop
                    or (config.checkpoint_every and step % config.checkpoint_every == 0)):
                try:
                    with checkpoint_event(step):
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
            if hooks_stop:
                hooks_stop.finish(path, log)  # Raises HookError for a hook that failed.
                break
    summaries.close()
    validation_summaries.close()
    best_path = None
    if best and config.use_best:
        if strategy.cluster_resolver is not None:  # Also waits for the chief's record of the best.
            check_workers_agree(strategy, int(best.record["step"]) if best.record else -1, "the best checkpoint")
        best_path = best.restore_best(model, ema, log if chief else (lambda line: None))
    test_metrics = evaluate(test_batches)
    telemetry.finish(step, test_metrics)
    run_figures = telemetry.run_figures(step_cost, figures)

    return TrainResult(
        test_metrics=test_metrics, validation_history=validation_history, final_step=step,
        precision=policy, jit_compile=jit_compile, model=model, ema=ema, is_chief=chief, strategy=strategy,
        task=task, best_checkpoint=best_path, run_figures=run_figures)


def _checkpoint_names(optimizers):
    """Checkpoint keys of the optimizers: `optimizer` for the run's own (as before tasks), and
    `optimizer_<name>` for each other one a task creates."""
    return {name if name == "optimizer" else f"optimizer_{name}": optimizer
            for name, optimizer in optimizers.items()}


def _format_metrics(metrics):
    return " | ".join(f"{name} {value:.4f}" for name, value in metrics.items())
