"""Classify image files with the model a training run exported.

  python -m training.predict --model_dir=runs/flowers photo.jpg [more.png ...]

prints one line per image with its most probable classes:

  photo.jpg: tulips 0.9412 | roses 0.0391 | daisy 0.0102

Images (PNG, JPEG, GIF or BMP) are decoded as training decodes image_folder files, converted to
the model's channel count and resized to its input size; the SavedModel in <model_dir>/export
applies everything else. A file whose header declares more than --max_image_pixels pixels is
refused before it is decoded.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # As in training.train: no C++ log lines.

from absl import app, flags, logging  # noqa: E402

from core.data.image_files import DEFAULT_MAX_PIXELS  # noqa: E402
from core.flag_parsing import parse_flags_or_exit  # noqa: E402

flags.DEFINE_string("model_dir", None, "The run directory of `python -m training.train` (it holds export/).")
flags.DEFINE_integer("top_k", 3, "How many of the most probable classes to print per image.")
flags.DEFINE_integer("max_image_pixels", DEFAULT_MAX_PIXELS, "Refuse an image whose header declares more pixels "
                     "than this (width x height), before decoding it; an RGB image takes 12 bytes per pixel as "
                     "float32.")

FLAGS = flags.FLAGS



def main(argv):
    logging.set_verbosity(logging.WARNING)
    if not FLAGS.model_dir:
        sys.exit("error: --model_dir='': give the run directory that holds export/")
    if len(argv) < 2:
        sys.exit("error: no images; usage: python -m training.predict --model_dir=DIR IMAGE [IMAGE...]")
    if FLAGS.top_k < 1:
        sys.exit(f"error: --top_k={FLAGS.top_k}: must be a positive integer")
    if FLAGS.max_image_pixels < 1:
        sys.exit(f"error: --max_image_pixels={FLAGS.max_image_pixels}: must be a positive integer")
    # The `training` package imported TensorFlow already, with its start-up notices captured.
    from training.tasks.exported_classifier import PredictError, predict_files  # pylint: disable=import-outside-toplevel

    try:
        lines = predict_files(FLAGS.model_dir, argv[1:], FLAGS.top_k, FLAGS.max_image_pixels)
    except PredictError as error:
        sys.exit(f"error: {error}")
    print("\n".join(lines))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
