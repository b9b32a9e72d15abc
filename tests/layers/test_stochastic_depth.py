"""StochasticDepth: identity at inference, the expected keep rate while training, seeded and
correct inside compiled loops."""

import numpy as np
import pytest
import tensorflow as tf

from layers import StochasticDepth


def test_identity_at_inference():
    inputs = tf.random.normal((8, 5, 3))
    output = StochasticDepth(0.5, seed=1)(inputs, training=False)
    np.testing.assert_array_equal(output.numpy(), inputs.numpy())


def test_drops_whole_examples_at_the_expected_rate_and_rescales_the_rest():
    rate, examples = 0.3, 20_000
    inputs = tf.ones((examples, 4, 2))
    output = StochasticDepth(rate, seed=2)(inputs, training=True).numpy()
    per_example = output.reshape(examples, -1)
    # Every example is either dropped whole or kept whole and scaled by 1 / (1 - rate).
    kept = np.all(np.isclose(per_example, 1.0 / (1.0 - rate)), axis=1)
    dropped = np.all(per_example == 0.0, axis=1)
    assert np.all(kept | dropped)
    # Binomial standard deviation sqrt(0.21 / 20000) = 0.0032; 5 of them: 0.016.
    assert abs(kept.mean() - (1.0 - rate)) < 0.016
    assert abs(output.mean() - 1.0) < 0.03  # The expectation equals the inference output.


def _compiled_loop(layer, jit_compile):
    """loop(steps): the keep decisions of `steps` training steps run in one tf.function over tf.range."""
    inputs = tf.ones((64, 2))
    step = tf.function(lambda x: layer(x, training=True), jit_compile=jit_compile)

    @tf.function
    def loop(steps):
        masks = tf.TensorArray(tf.float32, size=steps)
        for index in tf.range(steps):
            masks = masks.write(index, step(inputs)[:, 0])
        return masks.stack()

    return lambda steps: loop(tf.constant(steps)).numpy()


def test_compiled_loop_replays_the_eager_mask_sequence_of_its_seed():
    eager_layer = StochasticDepth(0.5, seed=7)
    eager_masks = np.stack([eager_layer(tf.ones((64, 2)), training=True).numpy()[:, 0] for _ in range(3)])
    compiled_masks = _compiled_loop(StochasticDepth(0.5, seed=7), jit_compile=False)(3)
    # The seed-generator state advances on device, step after step, exactly as in eager mode.
    np.testing.assert_array_equal(compiled_masks, eager_masks)
    assert not np.array_equal(compiled_masks[0], compiled_masks[1])


def test_xla_loop_draws_a_new_mask_per_step_reproducibly():
    # XLA's random kernels differ from TensorFlow's, so XLA is compared with XLA. Resetting the
    # state replays the sequence (what restoring a checkpoint of model.variables does), and the
    # loop compiles once.
    layer = StochasticDepth(0.5, seed=7)
    loop = _compiled_loop(layer, jit_compile=True)
    first = loop(3)
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    layer.seed_generator.state.assign([7, 0])
    np.testing.assert_array_equal(loop(3), first)
    layer.seed_generator.state.assign([8, 0])
    assert not np.array_equal(loop(3), first)


def test_rate_must_be_a_probability_below_one():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\), got 1.0"):
        StochasticDepth(1.0)
