"""A transformer encoder that classifies token sequences (text, or any sequence of ids)."""

import keras

from layers.checkpoint_tracking import track_layers
from layers.token_position_embedding import TokenAndPositionEmbedding
from layers.transformer_encoder import TransformerEncoderBlock


class TransformerClassifier(keras.Model):
    """Token + position embedding, pre-norm encoder blocks, masked mean over tokens, classifier.

    Input convention: integer token ids [B, T] with T <= max_length and ids in
    [0, vocab_size); id 0 (`PADDING_ID`) is padding: padded positions receive no attention and
    are left out of the mean. A float tensor of whole numbers is accepted and cast to int32
    (the training loop builds models with float zeros). Output: float32 logits [B, num_classes].

    Args:
      num_classes: output logits.
      vocab_size: distinct token ids, padding included.
      max_length: longest sequence.
      width: token width.
      depth: encoder blocks.
      num_heads: attention heads; must divide `width`.
      mlp_dim: MLP hidden width.
      dropout: dropout in each block.
      causal: causal attention (each token sees only earlier ones); the mean still pools all.
      seed: seed of the dropout masks.
    """

    PADDING_ID = 0

    def __init__(self, num_classes, vocab_size=1000, max_length=128, width=64, depth=2, num_heads=4,
                 mlp_dim=128, dropout=0.1, causal=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.width = width
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.causal = causal
        self.seed = seed
        self.embedding = TokenAndPositionEmbedding(vocab_size, max_length, width, name="embedding")
        self.blocks = track_layers(self, [
            TransformerEncoderBlock(num_heads, mlp_dim, dropout=dropout, causal=causal,
                                    seed=None if seed is None else seed + 10 * index, name=f"block{index}")
            for index in range(depth)
        ])
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")
        self.classifier = keras.layers.Dense(num_classes, dtype="float32", name="classifier")

    @property
    def input_dtype(self):
        # Float ids are cast to int32, not to the compute dtype (bfloat16 rounds ids above 256).
        return "int32"

    def call(self, ids, training=False):
        ids = keras.ops.cast(ids, "int32")
        is_token = keras.ops.not_equal(ids, self.PADDING_ID)  # [B, T]
        x = self.embedding(ids)
        for block in self.blocks:
            x = block(x, padding_mask=is_token, training=training)
        x = self.final_norm(x)
        weights = keras.ops.cast(is_token, x.dtype)[:, :, None]  # [B, T, 1]
        # max(count, 1): an all-padding sequence pools to zeros instead of NaN.
        pooled = keras.ops.sum(x * weights, axis=1) / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1.0)
        return self.classifier(pooled)

    def get_config(self):
        return {"num_classes": self.num_classes, "vocab_size": self.vocab_size, "max_length": self.max_length,
                "width": self.width, "depth": self.depth, "num_heads": self.num_heads,
                "mlp_dim": self.mlp_dim, "dropout": self.dropout, "causal": self.causal, "seed": self.seed,
                "name": self.name}
