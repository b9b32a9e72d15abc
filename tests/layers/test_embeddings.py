"""TokenAndPositionEmbedding and PatchEmbedding against hand-computed values."""

import numpy as np
import pytest
import tensorflow as tf

from core.precision import precision_scope
from layers import PatchEmbedding, TokenAndPositionEmbedding


def test_token_embedding_adds_the_row_of_each_id_and_position():
    layer = TokenAndPositionEmbedding(vocab_size=10, max_length=6, width=4)
    ids = np.array([[1, 5, 9], [0, 0, 3]])
    output = layer(tf.constant(ids)).numpy()
    tokens, positions = layer.token_embeddings.numpy(), layer.position_embeddings.numpy()
    np.testing.assert_array_equal(output, tokens[ids] + positions[:3])


def test_float_ids_are_not_rounded_through_bfloat16():
    # bfloat16 has 8 significand bits: 301 would become 300 if ids were autocast to it.
    with precision_scope("mixed_bfloat16"):
        layer = TokenAndPositionEmbedding(vocab_size=400, max_length=4, width=4)
    output = layer(tf.constant([[301.0]]))
    assert output.dtype == tf.bfloat16
    expected = tf.cast(layer.token_embeddings[301] + layer.position_embeddings[0], tf.bfloat16)
    np.testing.assert_array_equal(output.numpy()[0, 0], expected.numpy())


def test_sequences_longer_than_max_length_are_refused():
    with pytest.raises(ValueError, match="7 tokens exceed max_length=6"):
        TokenAndPositionEmbedding(vocab_size=10, max_length=6, width=4)(tf.zeros((1, 7), tf.int32))


def test_patch_embedding_projects_row_major_patches():
    images = np.random.default_rng(0).standard_normal((2, 4, 6, 3)).astype(np.float32)
    layer = PatchEmbedding(patch_size=2, width=5)
    output = layer(tf.constant(images)).numpy()
    assert output.shape == (2, 6, 5)  # A 2x3 grid of patches.
    kernel, bias, positions = layer.kernel.numpy(), layer.bias.numpy(), layer.position_embeddings.numpy()
    # Patch (row 1, column 2) is token 1 * 3 + 2 = 5; its values flatten in (y, x, channel) order.
    patch = images[:, 2:4, 4:6, :].reshape(2, -1)
    np.testing.assert_allclose(output[:, 5], patch @ kernel + bias + positions[5], rtol=1e-5, atol=1e-5)


def test_patch_size_must_divide_the_image():
    with pytest.raises(ValueError, match="patch_size=3 does not divide the 8x8 image"):
        PatchEmbedding(patch_size=3, width=4)(tf.zeros((1, 8, 8, 1)))
