"""An exported image classifier used on image files: decode, resize, serve, rank the classes
(the library of `python -m training.predict`)."""

import os

import numpy as np
import tensorflow as tf

from core.data.image_files import DEFAULT_MAX_PIXELS, decode_image, too_many_pixels
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


def read_image(path, input_shape, max_pixels=DEFAULT_MAX_PIXELS):
    """The image at `path` as float32 [H, W, C] pixels in [0, 1], resized to `input_shape`.

    Decoded as training decodes image_folder files (core/data/image_files.py), after its header
    was checked against `max_pixels`.

    Raises:
      PredictError: when the file is missing, declares more than `max_pixels` pixels, or is not
        a decodable image.
    """
    if not os.path.isfile(path):
        raise PredictError(f"{path}: no such file")
    height, width, channels = input_shape
    try:
        problem = too_many_pixels(path, max_pixels)
    except OSError as error:
        raise PredictError(f"{path}: cannot be read ({error.strerror})") from None
    if problem:
        raise PredictError(f"{path}: {problem} (--max_image_pixels); raise the flag to classify it")
    image = None
    # A failed decode also logs a native warning line; the captured stderr is dropped unless
    # something else goes wrong.
    with native_stderr_captured():
        try:
            image = decode_image(tf.io.read_file(path), channels)
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


def predict_files(model_dir, paths, top_k=3, max_pixels=DEFAULT_MAX_PIXELS):
    """Returns one `format_top_classes` line per image in `paths`, in order.

    Args:
      model_dir: the run directory holding export/.
      paths: image files.
      top_k: how many classes each line names.
      max_pixels: images whose header declares more pixels are refused before decoding.

    Raises:
      PredictError: for a model_dir without an export, or a missing or unreadable image.
    """
    serve, input_shape = load_exported_model(model_dir)
    images = tf.stack([read_image(path, input_shape, max_pixels) for path in paths])
    outputs = serve(images=images)
    probabilities = outputs["probabilities"].numpy()
    class_names = [name.decode("utf-8") for name in outputs["class_names"].numpy()[0]]
    return [format_top_classes(path, row, class_names, top_k) for path, row in zip(paths, probabilities)]
