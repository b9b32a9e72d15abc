"""A decoder-only transformer language model (Radford et al. 2019, GPT-2's layout): token and
position embedding, causal pre-norm blocks, a final norm and logits over the vocabulary."""

import keras

from layers.checkpoint_tracking import track_layers
from layers.rematerialization import rematerialized_call
from layers.token_position_embedding import TokenAndPositionEmbedding
from layers.transformer_encoder import TransformerEncoderBlock


class DecoderOnlyTransformer(keras.Model):
    """Next-token logits for every position of a sequence.

    ids int [B, T] (T <= max_length, ids in [0, vocab_size)) -> float32 logits [B, T, vocab_size];
    logits[:, t] predict token t + 1 from tokens <= t.

    Sampling one token at a time reuses earlier positions' keys and values (`new_cache`,
    `decode`): a token costs one position's work instead of the whole prefix's.

    Args:
      vocab_size: distinct token ids (256 for bytes).
      max_length: longest sequence (the number of position vectors).
      width: model width D.
      depth: transformer blocks.
      num_heads: attention heads; must divide `width`.
      mlp_dim: MLP hidden width (default 4 * width).
      dropout: dropout in each block while training.
      remat: recompute each block's activations in the backward pass instead of keeping them:
        less activation memory for long sequences, about one more forward pass of time.
      seed: seed of the dropout masks.
    """

    def __init__(self, vocab_size=256, max_length=256, width=128, depth=4, num_heads=4, mlp_dim=None,
                 dropout=0.0, remat=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.width = width
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim or 4 * width
        self.dropout = dropout
        self.remat = remat
        self.seed = seed
        self.embedding = TokenAndPositionEmbedding(vocab_size, max_length, width, name="embedding")
        self.blocks = track_layers(self, [
            TransformerEncoderBlock(num_heads, self.mlp_dim, dropout=dropout, causal=True,
                                    seed=None if seed is None else seed + 10 * index, name=f"block{index}")
            for index in range(depth)
        ])
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        # float32 logits: softmax over the vocabulary is where float16 would overflow.
        self.head = keras.layers.Dense(vocab_size, dtype="float32", name="head")

    @property
    def input_dtype(self):
        return "int32"  # Ids, not the compute dtype (bfloat16 would round ids above 256).

    def call(self, ids, training=False):
        x = self.embedding(keras.ops.cast(ids, "int32"))
        for block in self.blocks:
            if self.remat and training:
                x = rematerialized_call(block, x, training=True)  # Same dropout masks when recomputed.
            else:
                x = block(x, training=training)
        return self.head(self.final_norm(x))

    def new_cache(self, batch_size):
        """Empty key/value caches for `decode`: per block ([B, H, L, K], [B, H, L, K])."""
        head_width = self.width // self.num_heads
        shape = (batch_size, self.num_heads, self.max_length, head_width)
        return [(keras.ops.zeros(shape, self.compute_dtype), keras.ops.zeros(shape, self.compute_dtype))
                for _ in self.blocks]

    def decode(self, ids, position, cache):
        """Logits of the token after `ids` [B, 1] at `position` (int32 scalar < max_length),
        given `cache` filled for positions < `position`; the same as `call` on the whole prefix.

        Returns:
          (float32 logits [B, vocab_size], the cache with `position` filled in).
        """
        x = self.embedding.embed_at(ids, position)
        new_cache = []
        for block, (keys, values) in zip(self.blocks, cache):
            x, keys, values = block.decode(x, keys, values, position)
            new_cache.append((keys, values))
        return self.head(self.final_norm(x))[:, 0], new_cache

    def get_config(self):
        return {"vocab_size": self.vocab_size, "max_length": self.max_length, "width": self.width,
                "depth": self.depth, "num_heads": self.num_heads, "mlp_dim": self.mlp_dim,
                "dropout": self.dropout, "remat": self.remat, "seed": self.seed, "name": self.name}
