"""The language model's serving signatures: the probabilities of the next byte.

- `serving_default`: ids int32 [B, T] (bytes 0-255) -> `logits` and `probabilities` float32
  [B, 256] of the byte after each row's last;
- `serving_text`: one UTF-8 string -> the same for its bytes, [1, 256].
A row longer than the model's context is cut to its last `context` bytes, which is what the
model would see. Load with `tf.saved_model.load(directory).signatures["serving_default"]`;
`python -m training.generate` samples whole texts from a run's checkpoint with a key/value cache.
"""

import tensorflow as tf


def next_byte_signatures(model, context: int) -> dict:
    """{signature name: tf.function} for `training/export.py`; `model` maps ids [B, T] to logits
    [B, T, 256] and sees at most `context` positions."""

    def predict(ids):
        logits = tf.cast(model(ids[:, -context:], training=False), tf.float32)[:, -1]
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids")])
    def serve_ids(ids):
        return predict(ids)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="text")])
    def serve_text(text):
        return predict(tf.cast(tf.io.decode_raw(text, tf.uint8), tf.int32)[tf.newaxis])

    return {"serving_default": serve_ids, "serving_text": serve_text}
