"""Rematerialization (layers/rematerialization.py, DecoderOnlyTransformer(remat=True)) computes the
same loss, gradients and layer state as the plain model: with dropout on, in a tf.function, under
XLA, in mixed precision, eagerly and over two replicas."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from core.precision import precision_scope
from layers.models.decoder_only_transformer import DecoderOnlyTransformer
from layers.rematerialization import rematerialized_call

LENGTH = 8


def _twin_models(policy="float32"):
    """(plain, rematerialized) tiny language models with dropout, equal weights and seed states."""
    models = []
    with precision_scope(policy):
        for remat in (False, True):
            model = DecoderOnlyTransformer(vocab_size=256, max_length=LENGTH, width=16, depth=1, num_heads=2,
                                           dropout=0.2, remat=remat, seed=7)
            model(np.zeros((1, LENGTH), np.int32))
            models.append(model)
    # Unseeded generators (if any) start at random states; copy everything, states included.
    for source, target in zip(models[0].variables, models[1].variables):
        target.assign(source)
    return models


def _batch(batch_size=4):
    return tf.constant(np.random.RandomState(0).randint(0, 256, (batch_size, LENGTH + 1)), tf.int32)


def _loss_and_gradients(model, ids):
    with tf.GradientTape() as tape:
        logits = tf.cast(model(ids[:, :-1], training=True), tf.float32)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, 1:], logits=logits))
    gradients = tape.gradient(loss, model.trainable_variables)
    return loss, [tf.cast(tf.convert_to_tensor(gradient), tf.float32) for gradient in gradients]


def _seed_states(model):
    return [variable.numpy() for variable in model.non_trainable_variables]


class RematerializedTransformerTest(tf.test.TestCase, parameterized.TestCase):

    @parameterized.named_parameters(
        ("float32", "float32", False, 1e-6),
        ("float32_xla", "float32", True, 1e-6),
        # The recomputation is a different graph, which oneDNN / XLA fuse differently: in mixed
        # precision the gradients agree to a few roundings of the compute dtype (2**-11, 2**-8).
        # Tolerances are fractions of the largest gradient; different masks would differ by ~100%.
        ("mixed_float16", "mixed_float16", False, 1e-2),
        ("mixed_bfloat16", "mixed_bfloat16", False, 4e-2),
    )
    def test_same_loss_gradients_and_dropout_state_as_without_remat(self, policy, jit_compile, tolerance):
        plain, remat = _twin_models(policy)
        steps = [tf.function(lambda ids, model=model: _loss_and_gradients(model, ids), jit_compile=jit_compile)
                 for model in (plain, remat)]
        ids = _batch()
        for _ in range(2):  # The second step draws new masks from the state the first one left.
            (plain_loss, plain_gradients), (remat_loss, remat_gradients) = (step(ids) for step in steps)
            self.assertAllClose(plain_loss, remat_loss, atol=tolerance, rtol=tolerance)
            for plain_gradient, remat_gradient in zip(plain_gradients, remat_gradients):
                scale = float(tf.reduce_max(tf.abs(plain_gradient)))
                self.assertAllClose(plain_gradient, remat_gradient, atol=tolerance * scale, rtol=0)
            # One draw per dropout call, as without remat: a resumed run draws the same masks.
            for plain_state, remat_state in zip(_seed_states(plain), _seed_states(remat)):
                self.assertAllEqual(plain_state, remat_state)
        # Dropout was on, so the masks mattered: a step without them gives another loss.
        self.assertNotAllClose(plain_loss, _loss_without_dropout(plain, ids), atol=1e-3)

    def test_eager_gradients_equal_and_the_block_runs_again_in_the_backward_pass(self):
        plain, remat = _twin_models()
        calls = _count_block_calls(remat)
        ids = _batch()
        plain_loss, plain_gradients = _loss_and_gradients(plain, ids)
        remat_loss, remat_gradients = _loss_and_gradients(remat, ids)
        self.assertEqual(calls, [2])  # Forward, and again for the gradients: it is rematerialized.
        self.assertAllClose(plain_loss, remat_loss, atol=1e-6, rtol=1e-6)
        for plain_gradient, remat_gradient in zip(plain_gradients, remat_gradients):
            self.assertAllClose(plain_gradient, remat_gradient, atol=1e-6, rtol=1e-6)
        for plain_state, remat_state in zip(_seed_states(plain), _seed_states(remat)):
            self.assertAllEqual(plain_state, remat_state)

    def test_two_replicas_give_the_same_gradients(self):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            plain, remat = _twin_models()
        ids = _batch()
        results = []
        for model in (plain, remat):
            step = tf.function(lambda batch, model=model: strategy.run(_loss_and_gradients, args=(model, batch)))
            dataset = tf.data.Dataset.from_tensors(ids)
            per_replica = step(next(iter(strategy.experimental_distribute_dataset(dataset))))
            results.append(tf.nest.map_structure(lambda value: strategy.reduce("SUM", value, axis=None),
                                                 per_replica))
        (plain_loss, plain_gradients), (remat_loss, remat_gradients) = results
        self.assertAllClose(plain_loss, remat_loss, atol=1e-6, rtol=1e-6)
        for plain_gradient, remat_gradient in zip(plain_gradients, remat_gradients):
            self.assertAllClose(plain_gradient, remat_gradient, atol=1e-6, rtol=1e-6)
        for plain_state, remat_state in zip(_seed_states(plain), _seed_states(remat)):
            self.assertAllEqual(plain_state, remat_state)


class RematerializedCallTest(tf.test.TestCase):

    def test_moving_statistics_are_updated_once(self):
        """A layer that updates non-trainable state (BatchNormalization's moving mean and variance)
        leaves the same state as without remat, not a second update."""
        inputs = tf.constant(np.random.RandomState(1).standard_normal((8, 3)), tf.float32)
        layers = [keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization(momentum=0.5),
                                    keras.layers.Dropout(0.5, seed=3)]) for _ in range(2)]
        for layer in layers:
            layer.build((None, 3))
        for source, target in zip(layers[0].variables, layers[1].variables):
            target.assign(source)
        results = []
        for layer, call in ((layers[0], lambda x: layers[0](x, training=True)),
                            (layers[1], lambda x: rematerialized_call(layers[1], x, training=True))):
            @tf.function
            def step(x, layer=layer, call=call):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_sum(call(x) ** 2)
                return loss, tape.gradient(loss, layer.trainable_variables)

            results.append(step(inputs))
        self.assertAllClose(results[0], results[1], atol=1e-6, rtol=1e-6)
        for plain, remat in zip(layers[0].non_trainable_variables, layers[1].non_trainable_variables):
            self.assertAllClose(plain, remat, atol=0, rtol=0)
        self.assertNotAllClose(layers[0].non_trainable_variables[0], np.zeros(4))  # The mean moved.


def _loss_without_dropout(model, ids):
    logits = tf.cast(model(ids[:, :-1], training=False), tf.float32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, 1:], logits=logits))


def _count_block_calls(model):
    """Counts each block's calls from now on (eagerly, a call is one run of the block)."""
    calls = [0] * len(model.blocks)
    for index, block in enumerate(model.blocks):
        original = block.call

        def counted(*args, index=index, original=original, **kwargs):
            calls[index] += 1
            return original(*args, **kwargs)

        block.call = counted
    return calls
