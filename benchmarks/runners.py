"""The training loops the benchmarks time, each behind the runner interface of `timing.py`.

- TapecraftRunner: tapecraft's step and compiled loop, made by the functions training/training_phase.py uses.
- KerasFitRunner: the same kind of model and optimizer through `model.fit`.
- EagerRunner: tapecraft's step called eagerly from a plain Python loop.
- PipelineRunner: the input pipeline alone, batches pulled and dropped.
Every runner gets its own model and optimizer, so no variant warms or changes another's state.
"""

import time

import keras
import tensorflow as tf

from benchmarks.timing import time_calls
from benchmarks.workloads import Workload, create_model
from core import precision as precision_lib
from training.jit import resolve_jit_compile, resolve_loop_compilation
from training.loop import make_train_loop
from training.metrics import TaskMetrics
from training.optimizers import create_optimizer
from training.step import make_train_step
from training.tasks.image_classification import ImageClassification

LEARNING_RATE = 1e-3


def tapecraft_adam():
    """The Adam `--optimizer=adam` trains with (fused update, training/fused_optimizers.py)."""
    return create_optimizer("adam", LEARNING_RATE)


def keras_adam():
    """keras.optimizers.Adam: what a Keras `fit` user trains with."""
    return keras.optimizers.Adam(LEARNING_RATE)


def build_model(workload: Workload, policy: str, strategy=None, model_factory=create_model,
                optimizer_factory=tapecraft_adam):
    """A fresh model with its weights and a built Adam optimizer, made under `policy` and `strategy`.

    Args:
      model_factory: workload -> model; tapecraft's registered model by default, or
        keras_reference.create_reference_model for the stock-Keras one.
      optimizer_factory: () -> unbuilt optimizer; tapecraft_adam or keras_adam.

    Returns:
      (model, optimizer); the optimizer is a LossScaleOptimizer under mixed_float16.
    """
    strategy = strategy or tf.distribute.get_strategy()
    with precision_lib.precision_scope(policy), strategy.scope():
        model = model_factory(workload)
        model(tf.zeros((1,) + tuple(workload.input_shape), workload.input_dtype), training=False)
        optimizer = precision_lib.wrap_for_loss_scaling(optimizer_factory(), policy)
        optimizer.build(model.trainable_variables)
    return model, optimizer


def workload_task(workload: Workload | None):
    """The task whose loss tapecraft's step computes: the language model's, or image classification's."""
    if workload is not None and workload.is_language_model:
        from benchmarks.language_model_inputs import language_model_task  # pylint: disable=import-outside-toplevel

        return language_model_task(workload)
    return ImageClassification()


def make_step(model, optimizer, batch_size, strategy=None, workload=None):
    """tapecraft's train_step for `model` on `workload`'s task, with its metrics created under the strategy."""
    task = workload_task(workload)
    with (strategy or tf.distribute.get_strategy()).scope():
        metrics = TaskMetrics("train", task)
    return make_train_step(task, model, optimizer, metrics, batch_size)


def resolve_compilation(setting, device, model, workload: Workload, policy, num_replicas=1):
    """(jit_compile, compile_loop, reason) for `--jit_compile=setting`, decided as training/training_phase.py decides."""
    inspected, example, measurement = model, workload.input_shape, None
    if workload.is_language_model:  # As a run decides: the graph of the task's loss on one window.
        task = workload_task(workload)
        inspected = lambda batch, training: task.compute_loss(model, batch, training)  # noqa: E731
        example = tf.TensorSpec((1, workload.input_shape[0] + 1), tf.uint8)
        measurement = task.xla_on_cpu()
    jit_compile, reason = resolve_jit_compile(setting, device, inspected, example,
                                              precision_lib.compute_dtype(policy), cpu_measurement=measurement)
    compile_loop, loop_reason = resolve_loop_compilation(setting, jit_compile, device, num_replicas)
    return jit_compile, compile_loop, reason + (f"; {loop_reason}" if compile_loop else "")


def describe_compilation(jit_compile, compile_loop) -> str:
    """"loop", "step" or "off": what XLA compiles."""
    return "loop" if compile_loop else "step" if jit_compile else "off"


class TapecraftRunner:
    """`make_train_loop(make_train_step(...))`: `steps_per_loop` steps per host call.

    Args:
      model, optimizer: from `build_model` under the same strategy.
      strategy: the tf.distribute strategy.
      iterator: what the loop calls `next()` on (a DeviceBatch or a distributed dataset's iterator).
      batch_size: global batch size.
      jit_compile: XLA for the step (already resolved, see `resolve_compilation`).
      steps_per_loop: steps per host call.
      compile_loop: XLA for the whole loop over batches read ahead (training.loop).
      workload: whose task's loss the step computes (image classification when None).
    """

    def __init__(self, model, optimizer, strategy, iterator, batch_size, jit_compile, steps_per_loop,
                 compile_loop=False, workload=None):
        self.optimizer = optimizer
        self.steps_per_call = steps_per_loop
        step = make_step(model, optimizer, batch_size, strategy, workload)
        self.train_loop = make_train_loop(step, strategy, jit_compile, compile_loop=compile_loop)
        self._iterator = iterator
        self._num_steps = tf.constant(steps_per_loop, tf.int32)

    def run(self, calls):
        seconds = time_calls(lambda: self.train_loop(self._iterator, self._num_steps), self.sync, calls)
        return seconds, calls * self.steps_per_call

    def sync(self):
        """Reads the step counter back, so the clock stops after the last update ran."""
        return int(self.optimizer.iterations.numpy())


class EagerRunner:
    """tapecraft's train_step, uncompiled, in a Python loop: what `tf.function` saves."""

    def __init__(self, model, optimizer, iterator, batch_size, steps_per_call, workload=None):
        self.optimizer = optimizer
        self.steps_per_call = steps_per_call
        self._train_step = make_step(model, optimizer, batch_size, workload=workload)
        self._iterator = iterator

    def run(self, calls):
        def steps():
            for _ in range(self.steps_per_call):
                self._train_step(next(self._iterator))

        return time_calls(steps, self.sync, calls), calls * self.steps_per_call

    def sync(self):
        return int(self.optimizer.iterations.numpy())


class _ExecutionClock(keras.callbacks.Callback):
    """Records when each compiled execution of `fit` finished (after reading its loss back)."""

    def on_train_begin(self, logs=None):
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            float(logs["loss"])  # Device sync: the value exists only once the step ran.
        self.ends.append(time.perf_counter())


class KerasFitRunner:
    """`model.fit` on a dataset, `steps_per_execution` steps per compiled call.

    Each `run(calls)` is one `fit` of calls + 1 executions; the clock runs from the end of the
    first execution to the end of the last, so fit's per-call set-up (iterator, callbacks, the
    shuffle buffer's first fill) is not charged to Keras.

    Args:
      model, optimizer: from `build_model`; `compile` is called here.
      dataset: (inputs, labels) batches, the same pipeline the other variants read.
      jit_compile: True, False or "auto" (Keras' default: off on CPU-only machines).
      steps_per_execution: steps per compiled call.
    """

    def __init__(self, model, optimizer, dataset, jit_compile, steps_per_execution):
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        self.model = model
        self.jit_compile = bool(model.jit_compile)  # What "auto" resolved to.
        self.steps_per_call = steps_per_execution
        self._dataset = dataset
        self._clock = _ExecutionClock()

    def run(self, calls):
        self.model.fit(self._dataset, epochs=1, steps_per_epoch=(calls + 1) * self.steps_per_call, verbose=0,
                       shuffle=False, callbacks=[self._clock])
        return self._clock.ends[-1] - self._clock.ends[0], calls * self.steps_per_call


class PipelineRunner:
    """Pulls `steps_per_call` batches per call from a dataset inside a compiled loop; no training."""

    def __init__(self, dataset, steps_per_call):
        self.steps_per_call = steps_per_call
        self._iterator = iter(dataset)
        self._num_steps = tf.constant(steps_per_call, tf.int32)
        self._examples = tf.Variable(0, dtype=tf.int64, trainable=False)

        @tf.function
        def drain(iterator, num_steps):
            for _ in tf.range(num_steps):
                batch = next(iterator)  # (inputs, labels), or a language model's windows.
                self._examples.assign_add(tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0])

        self._drain = drain

    def run(self, calls):
        return time_calls(lambda: self._drain(self._iterator, self._num_steps), self.sync, calls), \
            calls * self.steps_per_call

    def sync(self):
        """The examples pulled so far, read back after the last batch arrived."""
        return int(self._examples.numpy())
