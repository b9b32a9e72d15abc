"""Compiled loops: `steps_per_loop` training steps, or a full evaluation pass, per host call.

Launching a tf.function costs the host a round trip; running many steps inside one call
amortizes it (the idea of Orbit's `create_tf_while_loop_fn`). The step count is a tensor, so a
shorter final loop reuses the same trace instead of retracing.

Three ways to compile the training loop, chosen by `training.jit` per device and model:
- graph loop, step without XLA: TensorFlow's kernels (oneDNN on CPU) run every op;
- graph loop around an XLA step: `next(iterator)` cannot be compiled, so XLA compiles the step
  and the graph loop launches it once per step;
- XLA loop (`compile_loop=True`): the graph first reads `num_steps` batches from the iterator
  and stacks them ([num_steps, batch, ...]); one XLA program then runs every step, with no
  launch per step. Around convolutions it does not pay on CPU: XLA's convolution gradients are
  slower than oneDNN's even per step (benchmarks/RESULTS.md), and the measurements in issue 4,
  made before tapecraft existed and not in a results file, found the XLA while-loop over the
  CIFAR CNN far slower still. So `training.jit` picks this only for float32 networks without
  convolutions, attention or embeddings.
"""

import tensorflow as tf

from training.profiling import profile_edges


def make_train_loop(train_step, strategy, jit_compile, compile_loop=False):
    """Returns train_loop(iterator, num_steps) running `num_steps` (int32 tensor) steps on device.

    Args:
      train_step: batch -> None; run under `strategy.run`.
      strategy: the tf.distribute strategy the step's variables live under.
      jit_compile: XLA for the step.
      compile_loop: XLA for the whole loop over pre-stacked batches (needs `jit_compile` and a
        single replica). XLA compiles once per distinct `num_steps`.

    Raises:
      ValueError: for `compile_loop` without `jit_compile` or with several replicas.
    """
    if not compile_loop:
        compiled_step = tf.function(train_step, jit_compile=jit_compile)

        @tf.function
        def train_loop(iterator, num_steps):
            for _ in tf.range(num_steps):
                strategy.run(compiled_step, args=(next(iterator),))

        return train_loop

    if not jit_compile or strategy.num_replicas_in_sync != 1:
        raise ValueError("compile_loop needs jit_compile=True and a single replica")

    @tf.function(jit_compile=True)
    def run_steps(batches):
        # batches: the step's batch structure with a leading [num_steps] axis on every tensor.
        for index in tf.range(tf.shape(tf.nest.flatten(batches)[0])[0]):
            train_step(tf.nest.map_structure(lambda stacked: stacked[index], batches))

    @tf.function
    def train_loop(iterator, num_steps):
        strategy.run(run_steps, args=(_stack_batches(iterator, num_steps),))

    return train_loop


def _stack_batches(iterator, num_steps):
    """Reads `num_steps` batches and stacks each component: [num_steps, batch, ...]."""
    def new_array(first):
        return tf.TensorArray(first.dtype, size=num_steps, element_shape=first.shape).write(0, first)

    arrays = tf.nest.map_structure(new_array, next(iterator))
    for index in tf.range(1, num_steps):
        batch = next(iterator)
        arrays = tf.nest.map_structure(lambda array, tensor: array.write(index, tensor), arrays, batch)
    return tf.nest.map_structure(lambda array: array.stack(), arrays)


def make_eval_loop(eval_step, strategy, jit_compile):
    """Returns eval_loop(dataset) running `eval_step` over every batch of a distributed dataset."""
    compiled_step = tf.function(eval_step, jit_compile=jit_compile)

    @tf.function
    def eval_loop(dataset):
        for batch in dataset:
            strategy.run(compiled_step, args=(batch,))

    return eval_loop


def steps_until_boundary(step, config):
    """Steps to run in the next loop: at most `steps_per_loop`, stopping at evaluations,
    checkpoints, the profiler window's edges and the end, where the host has work to do."""
    boundary = config.train_steps
    for every in (config.eval_every, config.checkpoint_every):
        if every:
            boundary = min(boundary, (step // every + 1) * every)
    for edge in profile_edges(config):
        if edge > step:
            boundary = min(boundary, edge)
    return min(config.steps_per_loop, boundary - step)
