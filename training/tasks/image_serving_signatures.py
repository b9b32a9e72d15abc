"""The image classifier's serving signatures: images in, class probabilities and class names out.

Two signatures, both on images [B, H, W, C] of the size the model was trained on:
- `serving_default`: float32 pixels in [0, 1] (what tapecraft's datasets give);
- `serving_uint8`: uint8 pixels in [0, 255] (decoded image files).
Both return `probabilities` float32 [B, num_classes] (softmax of the logits) and `class_names`
string [B, num_classes] (the same names per row: TF Serving's row format wants every output
batched). The dataset's normalization, when it had one, is applied inside, so a client sends
plain pixels. Load with `tf.saved_model.load(directory).signatures["serving_default"]`.
"""

import tensorflow as tf


def image_classifier_signatures(model, input_shape, class_names, normalization=None) -> dict:
    """{signature name: tf.function with its input signature} for `training/export.py`.

    Args:
      model: maps images [B, H, W, C] to logits [B, num_classes].
      input_shape: (H, W, C) of one image.
      class_names: a name per class index.
      normalization: what the training pipeline applied to [0, 1] pixels (an object with
        `apply(images)`), or None.
    """
    height, width, channels = input_shape
    names = tf.constant([str(name) for name in class_names])

    def predict(images):
        if normalization is not None:
            images = normalization.apply(images)
        probabilities = tf.nn.softmax(tf.cast(model(images, training=False), tf.float32), axis=-1)
        return {"probabilities": probabilities,
                "class_names": tf.tile(names[tf.newaxis], [tf.shape(probabilities)[0], 1])}

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels], tf.float32, name="images")])
    def serve_float(images):
        return predict(images)

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, channels], tf.uint8, name="images")])
    def serve_uint8(images):
        return predict(tf.cast(images, tf.float32) / 255.0)

    return {"serving_default": serve_float, "serving_uint8": serve_uint8}
