"""Predictions from an exported model on image files: decode, resize, serve, rank the classes."""

import os

import numpy as np
import tensorflow as tf

from core.quiet_import import native_stderr_captured
from training.export import EXPORT_DIRECTORY


class PredictError(Exception):
    """An input prediction cannot use; the message names it and says why."""


def load_exported_model(model_dir):
    """Returns (serving function for float32 pixels in [0, 1], (height, width, channels)).

    Raises:
      PredictError: when `model_dir` holds no export.
    """
    directory = os.path.join(model_dir, EXPORT_DIRECTORY)
    if not os.path.isfile(os.path.join(directory, "saved_model.pb")):
        raise PredictError(f"--model_dir={model_dir!r}: no exported model in {directory}; train with "
                           "--export (the default) first")
    serve = tf.saved_model.load(directory).signatures["serving_default"]
    _, height, width, channels = serve.structured_input_signature[1]["images"].shape
    return serve, (height, width, channels)


def read_image(path, input_shape):
    """The image at `path` as float32 [H, W, C] pixels in [0, 1], resized to `input_shape`.

    Raises:
      PredictError: when the file is missing or not a decodable image.
    """
    if not os.path.isfile(path):
        raise PredictError(f"{path}: no such file")
    height, width, channels = input_shape
    image = None
    # A failed decode also logs a native warning line; the captured stderr is dropped unless
    # something else goes wrong.
    with native_stderr_captured():
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
            pass
    if image is None:
        raise PredictError(f"{path}: not an image TensorFlow can decode (PNG, JPEG, GIF or BMP)")
    image = tf.image.convert_image_dtype(image, tf.float32)
    # Antialiasing: a large photo shrunk to 32x32 without it is mostly aliasing noise.
    return tf.clip_by_value(tf.image.resize(image, (height, width), antialias=True), 0.0, 1.0)


def format_top_classes(path, probabilities, class_names, top_k) -> str:
    """"path: name probability | name probability ..." for the `top_k` most probable classes."""
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return f"{path}: " + " | ".join(f"{class_names[index]} {probabilities[index]:.4f}" for index in order)


def predict_files(model_dir, paths, top_k=3):
    """Returns one `format_top_classes` line per image in `paths`, in order.

    Raises:
      PredictError: for a model_dir without an export, or a missing or unreadable image.
    """
    serve, input_shape = load_exported_model(model_dir)
    images = tf.stack([read_image(path, input_shape) for path in paths])
    outputs = serve(images=images)
    probabilities = outputs["probabilities"].numpy()
    class_names = [name.decode("utf-8") for name in outputs["class_names"].numpy()[0]]
    return [format_top_classes(path, row, class_names, top_k) for path, row in zip(paths, probabilities)]
