"""Compiled loops: `steps_per_loop` training steps, or a full evaluation pass, per host call.

Launching a tf.function costs the host a round trip; running many steps inside one call
amortizes it (the idea of Orbit's `create_tf_while_loop_fn`). The step count is a tensor, so a
shorter final loop reuses the same trace instead of retracing.

XLA (`jit_compile`) compiles the step, not the loop: on CPU, `next(iterator)` cannot be
compiled, and an XLA while-loop around convolutions compiles their gradients into generic
loops that ran ~80x slower than oneDNN here. The step alone compiles to one fused cluster.
"""

import tensorflow as tf


def make_train_loop(train_step, strategy, jit_compile):
    """Returns train_loop(iterator, num_steps) running `num_steps` (int32 tensor) steps on device."""
    compiled_step = tf.function(train_step, jit_compile=jit_compile)

    @tf.function
    def train_loop(iterator, num_steps):
        for _ in tf.range(num_steps):
            strategy.run(compiled_step, args=(next(iterator),))

    return train_loop


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
    checkpoints and the end, where the host has work to do."""
    boundary = config.train_steps
    for every in (config.eval_every, config.checkpoint_every):
        if every:
            boundary = min(boundary, (step // every + 1) * every)
    return min(config.steps_per_loop, boundary - step)
