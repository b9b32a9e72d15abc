"""A user's own images: one subfolder per class of JPEG/PNG files, decoded with tf.io.

    data_dir/cat/0001.jpg, data_dir/cat/0002.png, ..., data_dir/dog/0001.jpg, ...

Class names are the subfolder names in sorted order (label 0 is the first). Every image is
decoded to 3 channels and resized to image_size x image_size (bilinear with antialiasing, the
aspect ratio not kept, as Keras' image_dataset_from_directory does) once, at load time, so an
unreadable file is reported by name before training starts; the decoded uint8 images are
held in memory (image_size^2 * 3 bytes each: 150 KB at 224) and converted to float32 in tf.data.
Validation and test are 10% each of a permutation with a fixed seed, independent of --seed, so
every run evaluates on the same images.
"""

import os

import numpy as np
import tensorflow as tf

from core.data.errors import DatasetError, file_error
from core.data.image_files import DEFAULT_MAX_PIXELS, decode_image, too_many_pixels
from core.data.pixel_splits import splits_from_pixels
from core.data.splits import DatasetSplits, split_indices

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DEFAULT_IMAGE_SIZE = 224
VALIDATION_FRACTION = 0.10
TEST_FRACTION = 0.10
SPLIT_SEED = 0
MINIMUM_IMAGES = 10  # 10% of 10 is one image for validation and one for test.
_LISTED_FAILURES = 5


def load_image_folder(data_dir, image_size=DEFAULT_IMAGE_SIZE, normalize=True) -> DatasetSplits:
    """Reads every JPEG/PNG under the class subfolders of `data_dir`.

    Args:
      data_dir: the directory of class subfolders.
      image_size: the side of the square images the model sees.
      normalize: normalize with the training split's mean and std (else images are in [0, 1]).

    Raises:
      DatasetError: for a folder without class subfolders, with one class, with an empty class
        or fewer than MINIMUM_IMAGES images, or with files that do not decode (named).
    """
    paths, labels, class_names = list_images(data_dir)
    images = decode_images(paths, image_size)
    labels = np.asarray(labels, np.int32)
    indices = split_indices(len(paths), VALIDATION_FRACTION, TEST_FRACTION, seed=SPLIT_SEED)
    train, validation, test = ((images[index], labels[index]) for index in indices)
    return splits_from_pixels("image_folder", train, validation, test, len(class_names), class_names,
                              normalize)


def list_images(data_dir):
    """(paths, labels, class_names) of the images in the class subfolders, in sorted order."""
    entries = sorted(entry for entry in os.listdir(data_dir) if not entry.startswith("."))
    class_names = [entry for entry in entries if os.path.isdir(os.path.join(data_dir, entry))]
    if not class_names:
        loose = [entry for entry in entries if entry.lower().endswith(IMAGE_EXTENSIONS)]
        where = f"; it holds {len(loose)} images directly, which need to move into them" if loose else ""
        raise file_error(data_dir, "has no class subfolders: put each class's JPEG/PNG images in a subfolder "
                                   f"named after the class (data_dir/cat/1.jpg, data_dir/dog/2.png){where}")
    if len(class_names) == 1:
        raise file_error(data_dir, f"has one class subfolder ({class_names[0]}); a classifier needs at "
                                   "least two")
    paths, labels = [], []
    for label, class_name in enumerate(class_names):
        folder = os.path.join(data_dir, class_name)
        names = sorted(name for name in os.listdir(folder)
                       if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."))
        if not names:
            raise file_error(folder, f"holds no images with the extensions {', '.join(IMAGE_EXTENSIONS)}")
        paths += [os.path.join(folder, name) for name in names]
        labels += [label] * len(names)
    if len(paths) < MINIMUM_IMAGES:
        raise file_error(data_dir, f"holds {len(paths)} images; at least {MINIMUM_IMAGES} are needed for "
                                   "training, validation and test splits")
    return paths, labels, class_names


def decode_images(paths, image_size) -> np.ndarray:
    """Decodes and resizes every image, in parallel, to uint8 [N, image_size, image_size, 3].

    Raises:
      DatasetError: naming the files that cannot be read or decoded as JPEG/PNG, or whose header
        declares more than DEFAULT_MAX_PIXELS pixels (checked before anything is decoded).
    """

    oversized = [(path, problem) for path in paths if (problem := too_many_pixels(path, DEFAULT_MAX_PIXELS))]
    if oversized:
        path, problem = oversized[0]
        more = f" (and {len(oversized) - 1} more)" if len(oversized) > 1 else ""
        raise DatasetError(f"{path}: {problem} an image may have when decoded{more}; shrink it or leave it out")

    def decode(index, path):
        image = decode_image(tf.io.read_file(path), channels=3)  # The decoder prediction uses too.
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        return index, tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)

    # A file that fails to read or decode is dropped by ignore_errors; its index is then missing.
    dataset = tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), tf.constant(paths)))
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors().batch(256)
    images = np.zeros((len(paths), image_size, image_size, 3), np.uint8)
    decoded = np.zeros(len(paths), bool)
    for indices, batch in dataset.as_numpy_iterator():
        images[indices] = batch
        decoded[indices] = True
    failed = [paths[index] for index in np.flatnonzero(~decoded)]
    if failed:
        listed = ", ".join(failed[:_LISTED_FAILURES]) + (", ..." if len(failed) > _LISTED_FAILURES else "")
        raise DatasetError(f"{len(failed)} of {len(paths)} images cannot be read or decoded as JPEG/PNG "
                           f"(truncated, corrupt or misnamed): {listed}")
    return images
