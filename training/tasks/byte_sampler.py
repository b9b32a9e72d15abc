"""Sampling text from a byte-level language model, one byte at a time, with a key/value cache.

Each new byte runs the model at one position (DecoderOnlyTransformer.decode): the earlier
positions' keys and values are read from the cache instead of recomputed, so a byte costs the
same at position 10 as at position 1000 of the context, instead of growing with the prefix.
When the context (the model's max_length) is full, the cache restarts from the last half of the
text: the model never sees more than its context, as in training. A model without `decode` (a
user's) is run on the whole window for each byte instead.

The draw is on the host (NumPy, seeded): temperature 0 takes the most likely byte; `top_k`
keeps only the k most likely bytes before drawing.
"""

import numpy as np
import tensorflow as tf


class PromptTooLongError(ValueError):
    """The prompt does not fit in the model's context."""


class ByteSampler:
    """Continues prompts with bytes drawn from `model`'s next-byte distribution.

    Args:
      model: maps ids [B, T] to logits [B, T, 256], T <= `context`; with `new_cache`/`decode`
        (DecoderOnlyTransformer) sampling uses the cache.
      context: the longest sequence the model takes (its --sequence_length).
    """

    def __init__(self, model, context: int):
        self.model = model
        self.context = context
        self.cached = callable(getattr(model, "decode", None)) and callable(getattr(model, "new_cache", None))
        # One trace: the position is a tensor and the cache's shape is fixed.
        self._decode = tf.function(lambda ids, position, cache: model.decode(ids, position, cache))
        self._window = tf.function(lambda ids: tf.cast(model(ids, training=False), tf.float32)[:, -1],
                                   input_signature=[tf.TensorSpec([1, None], tf.int32)])

    def sample(self, prompt: bytes, max_bytes: int, temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> bytes:
        """`max_bytes` bytes continuing `prompt` (the prompt itself not included).

        Raises:
          PromptTooLongError: when `prompt` is longer than the context.
        """
        if len(prompt) > self.context:
            raise PromptTooLongError(f"the prompt has {len(prompt)} bytes; the model's context is {self.context} "
                                     "(its --sequence_length): shorten the prompt")
        rng = np.random.default_rng(seed)
        text = list(prompt) or [0]  # An empty prompt: byte 0 (never in UTF-8 text) starts the sequence.
        start = len(text)
        next_logits = self._start(text) if self.cached else None
        for _ in range(max_bytes):
            if not self.cached:
                window = np.asarray(text[-self.context:], np.int32)[None]
                next_logits = self._window(window).numpy()[0]
            byte = draw(next_logits, temperature, top_k, rng)
            text.append(byte)
            if self.cached:
                if self.position == self.context:  # The context is full: restart from its last half.
                    next_logits = self._start(text[-(self.context // 2):])
                else:
                    next_logits = self._feed(byte)
        return bytes(text[start:])

    def _start(self, text):
        """A new cache holding `text`; the logits of the byte after it."""
        self.cache = self.model.new_cache(1)
        self.position = 0
        logits = None
        for byte in text:
            logits = self._feed(byte)
        return logits

    def _feed(self, byte):
        logits, self.cache = self._decode(tf.constant([[byte]], tf.int32), tf.constant(self.position, tf.int32),
                                          self.cache)
        self.position += 1
        return logits.numpy()[0]


def draw(logits: np.ndarray, temperature: float, top_k: int, rng: np.random.Generator) -> int:
    """One byte from logits [256]: argmax at temperature 0, else softmax(logits / temperature)
    over the `top_k` largest (all when 0)."""
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    if 0 < top_k < len(scaled):
        scaled[scaled < np.partition(scaled, -top_k)[-top_k]] = -np.inf
    probabilities = np.exp(scaled - scaled.max())
    return int(rng.choice(len(scaled), p=probabilities / probabilities.sum()))
