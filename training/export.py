"""Export to a SavedModel that serves images and answers class probabilities and class names.

Two signatures, both on images [B, H, W, C] of the size the model was trained on:
- `serving_default`: float32 pixels in [0, 1] (what tapecraft's datasets give);
- `serving_uint8`: uint8 pixels in [0, 255] (decoded image files).
Both return `probabilities` float32 [B, num_classes] (softmax of the logits) and `class_names`
string [B, num_classes] (the same names per row: TF Serving's row format wants every output
batched). The dataset's normalization, when it had one, is applied inside, so a client sends
plain pixels. Load with `tf.saved_model.load(directory).signatures["serving_default"]`.
"""

import os
import shutil

import tensorflow as tf

from core.storage_errors import StorageError, storage_error

EXPORT_DIRECTORY = "export"


def export_for_serving(model, directory, input_shape, class_names, normalization=None) -> str:
    """Writes the SavedModel to `directory`, replacing an older export only once the new one is complete.

    Args:
      model: maps images [B, H, W, C] to logits [B, num_classes].
      directory: where the SavedModel goes, e.g. <model_dir>/export.
      input_shape: (H, W, C) of one image.
      class_names: a name per class index.
      normalization: what the training pipeline applied to [0, 1] pixels (an object with
        `apply(images)`), or None.

    Returns:
      `directory`.

    Raises:
      StorageError: when the disk refuses the export (full, read-only); nothing partial is left.
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

    module = tf.Module()
    # Every variable explicitly: tf.train tracking misses layers a Keras model holds in lists.
    module.model_variables = list(model.variables)
    module.serve_float = serve_float
    module.serve_uint8 = serve_uint8
    staging = directory + ".incomplete"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tf.saved_model.save(module, staging,
                            signatures={"serving_default": serve_float, "serving_uint8": serve_uint8})
    except BaseException as error:  # A full disk, a stop signal: no half export is left to fill the disk.
        shutil.rmtree(staging, ignore_errors=True)
        problem = storage_error(directory, error) if isinstance(error, Exception) else None
        if problem is None:
            raise
        raise StorageError(f"{problem}; the checkpoints and the evaluation report are kept, and the run "
                           "exports again when started again") from None
    previous = directory + ".previous"
    shutil.rmtree(previous, ignore_errors=True)
    if os.path.exists(directory):
        os.replace(directory, previous)
    os.replace(staging, directory)
    shutil.rmtree(previous, ignore_errors=True)
    return directory
