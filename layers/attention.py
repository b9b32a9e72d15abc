"""Multi-head self-attention (Vaswani et al. 2017, "Attention Is All You Need", section 3.2)."""

import math

import keras

# Added to the logits of masked positions. Finite (not -inf) so a row whose keys are all
# masked gives a uniform softmax instead of NaN; applied in float32, where it is representable.
_MASKED_LOGIT = -1e9


class MultiHeadSelfAttention(keras.layers.Layer):
    """softmax(Q K^T / sqrt(d)) V over `num_heads` heads, then an output projection.

    Shapes (B batch, T tokens, D width, H heads, K = key_dim):
      inputs [B, T, D] -> q, k, v [B, H, T, K] -> logits [B, H, T, T] -> outputs [B, T, D].
    The logits are cast to float32 before masking and softmax: under mixed_float16 the
    exponentials of logits above ~11 overflow float16's 65504. Matmuls stay in the compute
    dtype.

    Args:
      num_heads: attention heads H.
      key_dim: width K of each head; defaults to D / H.
      causal: when True, token t attends only to tokens <= t (autoregressive decoding).
      dropout: dropout on the attention probabilities while training.
      seed: seed of the dropout mask sequence.
    """

    def __init__(self, num_heads, key_dim=None, causal=False, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.causal = causal
        self.dropout_rate = dropout
        self.seed = seed
        self.dropout = keras.layers.Dropout(dropout, seed=seed) if dropout else None

    def build(self, input_shape):
        width = input_shape[-1]
        if self.key_dim is None and width % self.num_heads:
            raise ValueError(f"MultiHeadSelfAttention: width {width} does not split into "
                             f"{self.num_heads} heads; pass key_dim")
        head_width = self.key_dim or width // self.num_heads
        self.head_width = head_width
        # One fused projection for queries, keys and values: [D, 3, H, K].
        self.qkv_kernel = self.add_weight(shape=(width, 3, self.num_heads, head_width),
                                          initializer="glorot_uniform", name="qkv_kernel")
        self.qkv_bias = self.add_weight(shape=(3, self.num_heads, head_width), initializer="zeros",
                                        name="qkv_bias")
        self.output_kernel = self.add_weight(shape=(self.num_heads, head_width, width),
                                             initializer="glorot_uniform", name="output_kernel")
        self.output_bias = self.add_weight(shape=(width,), initializer="zeros", name="output_bias")

    def call(self, inputs, padding_mask=None, training=False):
        """Attends every token to the (unmasked) tokens of its sequence.

        Args:
          inputs: [B, T, D].
          padding_mask: optional [B, T], True (or 1) for real tokens; padded keys get no attention.
          training: applies attention dropout when True.
        """
        qkv = keras.ops.einsum("btd,dshk->sbhtk", inputs, self.qkv_kernel)
        qkv = qkv + self.qkv_bias[:, None, :, None, :]
        query, key, value = qkv[0], qkv[1], qkv[2]  # each [B, H, T, K]
        # Scaling the queries before the product keeps the float16 logits small.
        query = query * keras.ops.cast(1.0 / math.sqrt(self.head_width), query.dtype)
        logits = keras.ops.cast(keras.ops.einsum("bhqk,bhtk->bhqt", query, key), "float32")
        allowed = self._allowed_positions(inputs, padding_mask)
        if allowed is not None:
            logits = keras.ops.where(allowed, logits, _MASKED_LOGIT)
        probabilities = keras.ops.cast(keras.ops.softmax(logits, axis=-1), self.compute_dtype)
        if self.dropout is not None:
            probabilities = self.dropout(probabilities, training=training)
        attended = keras.ops.einsum("bhqt,bhtk->bhqk", probabilities, value)
        return keras.ops.einsum("bhtk,hkd->btd", attended, self.output_kernel) + self.output_bias

    def decode(self, inputs, key_cache, value_cache, position):
        """One position of causal self-attention, reading earlier positions' keys and values
        from a cache instead of recomputing them (autoregressive sampling).

        Args:
          inputs: [B, 1, D], the token at `position`.
          key_cache, value_cache: [B, H, L, K] in the compute dtype; positions < `position` hold
            the earlier tokens' keys and values, the rest is ignored.
          position: int32 scalar tensor, 0 <= position < L.

        Returns:
          (outputs [B, 1, D], key_cache, value_cache) with `position` written into the caches.
        """
        # Called outside `__call__`, so Keras does not cast the weights to the compute dtype: cast here.
        dtype = self.compute_dtype
        qkv = keras.ops.einsum("btd,dshk->sbhtk", inputs, keras.ops.cast(self.qkv_kernel, dtype))
        qkv = qkv + keras.ops.cast(self.qkv_bias, dtype)[:, None, :, None, :]
        query, key, value = qkv[0], qkv[1], qkv[2]  # each [B, H, 1, K]
        start = [0, 0, position, 0]
        key_cache = keras.ops.slice_update(key_cache, start, keras.ops.cast(key, key_cache.dtype))
        value_cache = keras.ops.slice_update(value_cache, start, keras.ops.cast(value, value_cache.dtype))
        query = query * keras.ops.cast(1.0 / math.sqrt(self.head_width), query.dtype)
        logits = keras.ops.cast(keras.ops.einsum("bhqk,bhtk->bhqt", query, key_cache), "float32")  # [B, H, 1, L]
        visible = keras.ops.arange(keras.ops.shape(key_cache)[2]) <= position  # [L]
        logits = keras.ops.where(visible[None, None, None, :], logits, _MASKED_LOGIT)
        probabilities = keras.ops.cast(keras.ops.softmax(logits, axis=-1), self.compute_dtype)
        attended = keras.ops.einsum("bhqt,bhtk->bhqk", probabilities, value_cache)
        outputs = keras.ops.einsum("bhtk,hkd->btd", attended, keras.ops.cast(self.output_kernel, dtype))
        return outputs + keras.ops.cast(self.output_bias, dtype), key_cache, value_cache

    def _allowed_positions(self, inputs, padding_mask):
        """A boolean mask broadcastable to the logits [B, H, T, T], or None when all are allowed."""
        allowed = None
        if self.causal:
            length = keras.ops.shape(inputs)[1]
            positions = keras.ops.arange(length)
            allowed = (positions[:, None] >= positions[None, :])[None, None]  # [1, 1, T, T]
        if padding_mask is not None:
            keys = keras.ops.cast(padding_mask, "bool")[:, None, None, :]  # [B, 1, 1, T]
            allowed = keys if allowed is None else keras.ops.logical_and(allowed, keys)
        return allowed

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, key_dim=self.key_dim, causal=self.causal,
                      dropout=self.dropout_rate, seed=self.seed)
        return config
