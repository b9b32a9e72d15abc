"""Token embedding plus a learned position embedding: the input layer of a text transformer."""

import keras


class TokenAndPositionEmbedding(keras.layers.Layer):
    """Looks up each token id's vector and adds its position's vector.

    ids [B, T] -> [B, T, width], T <= max_length. Ids must lie in [0, vocab_size): on CPU an
    id outside raises an error, but on GPU a lookup out of range silently returns zeros.
    Float inputs holding whole numbers (as a generic image pipeline may deliver) are cast to
    int32 rather than to the compute dtype, which would round ids above 256 under bfloat16.

    Args:
      vocab_size: number of distinct token ids.
      max_length: longest sequence; sets the number of position vectors.
      width: embedding width.
    """

    def __init__(self, vocab_size, max_length, width, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.width = width

    @property
    def input_dtype(self):
        # Keras casts float inputs to this dtype on the way in; ids need an integer.
        return "int32"

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] > self.max_length:
            raise ValueError(f"TokenAndPositionEmbedding: sequences of {input_shape[-1]} tokens exceed "
                             f"max_length={self.max_length}")
        # Standard deviation 0.02, as BERT and GPT-2 initialize their embeddings.
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        # autocast=False: rows are gathered and summed in float32 and rounded once, at the end.
        self.token_embeddings = self.add_weight(shape=(self.vocab_size, self.width), initializer=initializer,
                                                name="token_embeddings", autocast=False)
        self.position_embeddings = self.add_weight(shape=(self.max_length, self.width),
                                                   initializer=initializer, name="position_embeddings",
                                                   autocast=False)

    def call(self, ids):
        ids = keras.ops.cast(ids, "int32")
        length = keras.ops.shape(ids)[-1]
        tokens = keras.ops.take(self.token_embeddings, ids, axis=0)  # [B, T, width]
        positions = self.position_embeddings[:length]  # [T, width]
        return keras.ops.cast(tokens + positions, self.compute_dtype)

    def embed_at(self, ids, position):
        """ids [B, 1] at sequence position `position` (int32 scalar) -> [B, 1, width]; for decoding
        one token at a time."""
        tokens = keras.ops.take(self.token_embeddings, keras.ops.cast(ids, "int32"), axis=0)
        return keras.ops.cast(tokens + self.position_embeddings[position], self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=self.vocab_size, max_length=self.max_length, width=self.width)
        return config
