"""The pre-norm transformer encoder block (Xiong et al. 2020, "On Layer Normalization in the
Transformer Architecture"), as used by ViT and GPT-2."""

import keras

from core.precision import precision_scope
from layers.attention import MultiHeadSelfAttention
from layers.mlp_block import MLPBlock
from layers.stochastic_depth import StochasticDepth


class TransformerEncoderBlock(keras.layers.Layer):
    """x + attention(LN(x)), then x + MLP(LN(x)); each branch with dropout and drop-path.

    Normalizing before each branch leaves the residual stream untouched, which trains
    without the learning-rate warmup post-norm blocks need. [B, T, D] -> [B, T, D].

    Args:
      num_heads: attention heads; must divide the width D.
      mlp_dim: hidden width of the MLP (4 * D in the paper).
      dropout: dropout on the attention probabilities and after each branch.
      drop_path: stochastic-depth rate of each branch.
      causal: causal self-attention (token t sees tokens <= t).
      seed: seed of the dropout and drop-path mask sequences.
    """

    def __init__(self, num_heads, mlp_dim, dropout=0.0, drop_path=0.0, causal=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.dropout_rate = dropout
        self.drop_path_rate = drop_path
        self.causal = causal
        self.seed = seed
        # Keras' LayerNormalization computes in float32 under a mixed policy.
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.attention = MultiHeadSelfAttention(num_heads, causal=causal, dropout=dropout, seed=seed,
                                                name="attention")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="mlp_norm")
        self.mlp_hidden = MLPBlock(mlp_dim, activation="gelu", dropout=dropout, name="mlp_hidden")
        self.mlp_output = None
        # Distinct seeds, so the attention, branch-dropout and drop-path masks are not correlated.
        branch_seed, path_seed = (None, None) if seed is None else (seed + 1, seed + 2)
        self.branch_dropout = keras.layers.Dropout(dropout, seed=branch_seed) if dropout else None
        self.drop_path = StochasticDepth(drop_path, seed=path_seed, name="drop_path") if drop_path else None

    def build(self, input_shape):
        # Sublayers made here must take this block's policy, not whatever is global at build time.
        with precision_scope(self.dtype_policy.name):
            self.mlp_output = keras.layers.Dense(input_shape[-1], name="mlp_output")

    def call(self, inputs, padding_mask=None, training=False):
        """inputs [B, T, D]; padding_mask optional [B, T], True for real tokens."""
        x = self.attention(self.attention_norm(inputs), padding_mask=padding_mask, training=training)
        x = inputs + self._regularize(x, training)
        y = self.mlp_output(self.mlp_hidden(self.mlp_norm(x), training=training))
        return x + self._regularize(y, training)

    def decode(self, inputs, key_cache, value_cache, position):
        """The block at one position of a causal sequence, with the attention's key/value cache
        (MultiHeadSelfAttention.decode); inference only, so no dropout. inputs [B, 1, D].

        Returns:
          (outputs [B, 1, D], key_cache, value_cache).
        """
        x, key_cache, value_cache = self.attention.decode(self.attention_norm(inputs), key_cache, value_cache,
                                                          position)
        x = inputs + x
        return x + self.mlp_output(self.mlp_hidden(self.mlp_norm(x))), key_cache, value_cache

    def _regularize(self, branch, training):
        if self.branch_dropout is not None:
            branch = self.branch_dropout(branch, training=training)
        if self.drop_path is not None:
            branch = self.drop_path(branch, training=training)
        return branch

    def get_config(self):
        config = super().get_config()
        config.update(num_heads=self.num_heads, mlp_dim=self.mlp_dim, dropout=self.dropout_rate,
                      drop_path=self.drop_path_rate, causal=self.causal, seed=self.seed)
        return config
