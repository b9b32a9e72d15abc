"""MultiHeadSelfAttention and TransformerEncoderBlock: masking, numerics, mixed precision."""

import numpy as np
import pytest
import tensorflow as tf

from core.precision import precision_scope
from layers import MultiHeadSelfAttention, TransformerEncoderBlock


def _inputs(shape, seed=0, scale=1.0):
    return tf.constant(np.random.default_rng(seed).standard_normal(shape) * scale, tf.float32)


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def test_attention_matches_numpy_reference():
    layer = MultiHeadSelfAttention(num_heads=2, causal=True)
    inputs = _inputs((2, 4, 6))
    layer(inputs)
    generator = np.random.default_rng(1)
    layer.set_weights([generator.standard_normal(w.shape).astype(np.float32) * 0.5
                       for w in layer.get_weights()])
    qkv_kernel, qkv_bias, output_kernel, output_bias = layer.get_weights()  # [6,3,2,3] [3,2,3] [2,3,6] [6]
    x = inputs.numpy()
    qkv = np.einsum("btd,dshk->sbhtk", x, qkv_kernel) + qkv_bias[:, None, :, None, :]
    logits = np.einsum("bhqk,bhtk->bhqt", qkv[0], qkv[1]) / np.sqrt(3)
    logits = np.where(np.tril(np.ones((4, 4), bool)), logits, -np.inf)
    attended = np.einsum("bhqt,bhtk->bhqk", _softmax(logits), qkv[2])
    expected = np.einsum("bhtk,hkd->btd", attended, output_kernel) + output_bias
    np.testing.assert_allclose(layer(inputs).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_factory", [
    lambda: MultiHeadSelfAttention(num_heads=2, causal=True),
    lambda: TransformerEncoderBlock(num_heads=2, mlp_dim=16, causal=True),
], ids=["attention", "encoder_block"])
def test_causal_mask_hides_future_positions(layer_factory):
    layer = layer_factory()
    inputs = _inputs((2, 6, 8))
    changed_future = tf.concat([inputs[:, :3], _inputs((2, 3, 8), seed=5)], axis=1)
    before, after = layer(inputs).numpy(), layer(changed_future).numpy()
    # Positions 0..2 see only positions 0..2, which did not change.
    np.testing.assert_array_equal(before[:, :3], after[:, :3])
    assert np.abs(before[:, 3:] - after[:, 3:]).min() > 0


def test_without_causal_mask_every_position_sees_the_future():
    layer = MultiHeadSelfAttention(num_heads=2)
    inputs = _inputs((1, 6, 8))
    changed_last = tf.concat([inputs[:, :5], _inputs((1, 1, 8), seed=5)], axis=1)
    assert np.abs(layer(inputs).numpy()[:, 0] - layer(changed_last).numpy()[:, 0]).max() > 1e-4


def test_padding_mask_hides_padded_keys():
    layer = MultiHeadSelfAttention(num_heads=2)
    inputs = _inputs((2, 5, 8))
    is_token = tf.constant([[True] * 5, [True, True, True, False, False]])
    changed_padding = tf.concat([inputs[:, :3], _inputs((2, 2, 8), seed=9)], axis=1)
    before = layer(inputs, padding_mask=is_token).numpy()
    after = layer(changed_padding, padding_mask=is_token).numpy()
    np.testing.assert_allclose(before[1, :3], after[1, :3], rtol=1e-6, atol=1e-6)
    assert np.abs(before[0, :3] - after[0, :3]).max() > 1e-4  # The unpadded sequence does see them.


def test_float16_logits_beyond_exp_range_stay_finite():
    """Logits near 45 overflow float16's exp (e^11 > 65504); the float32 softmax handles them."""
    inputs = _inputs((2, 5, 8), scale=1.0)
    reference = MultiHeadSelfAttention(num_heads=1)
    reference(inputs)
    qkv_kernel, qkv_bias, output_kernel, output_bias = reference.get_weights()
    qkv_kernel[:, 0, 0] = 4.0 * np.eye(8)  # queries = 4x
    qkv_kernel[:, 1, 0] = 4.0 * np.eye(8)  # keys = 4x, so logits = 16 x.x / sqrt(8), ~45
    reference.set_weights([qkv_kernel, qkv_bias, output_kernel, output_bias])
    with precision_scope("mixed_float16"):
        half = MultiHeadSelfAttention(num_heads=1)
    half(inputs)
    half.set_weights(reference.get_weights())
    output = half(inputs)
    assert output.dtype == tf.float16
    assert np.isfinite(output.numpy()).all()
    np.testing.assert_allclose(output.numpy(), reference(inputs).numpy(), rtol=2e-2, atol=2e-2)


def test_encoder_block_is_residual_and_keeps_shape():
    block = TransformerEncoderBlock(num_heads=2, mlp_dim=16)
    inputs = _inputs((2, 5, 8))
    block(inputs)
    # With both branches' output projections zeroed, each branch adds only zeros.
    for layer in (block.attention, block.mlp_output):
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    np.testing.assert_allclose(block(inputs).numpy(), inputs.numpy(), atol=1e-6)


def test_width_must_split_into_heads():
    with pytest.raises(ValueError, match="does not split into 3 heads"):
        MultiHeadSelfAttention(num_heads=3)(tf.zeros((1, 2, 8)))


def test_attention_config_round_trip():
    layer = MultiHeadSelfAttention(num_heads=2, key_dim=4, causal=True, dropout=0.1, seed=3)
    clone = MultiHeadSelfAttention.from_config(layer.get_config())
    settings = (clone.num_heads, clone.key_dim, clone.causal, clone.dropout_rate, clone.seed)
    assert settings == (2, 4, True, 0.1, 3)
