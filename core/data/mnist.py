"""MNIST from the files a user already has: Keras' `mnist.npz` or the four IDX files.

Images are 28x28x1, labels 0-9. The test files are the test split; the validation split is
held out of the training files as `pixel_splits.VALIDATION_EXAMPLES` states (the last 5,000).
"""

import os
import zipfile

import numpy as np

from core.data.errors import file_error, missing_files_error
from core.data.idx_format import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from core.data.pixel_splits import check_examples, hold_out_validation, splits_from_pixels
from core.data.splits import DatasetSplits

NPZ_FILE = "mnist.npz"
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# role -> canonical IDX name; "-idx3-" is also accepted as ".idx3-" (a common re-distribution),
# and every name may end in ".gz".
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


def load_mnist(data_dir, normalize=True) -> DatasetSplits:
    """Reads MNIST from `data_dir`, preferring `mnist.npz` over the IDX files.

    Args:
      data_dir: the directory holding the files.
      normalize: normalize with the training split's mean and std (else images are in [0, 1]).

    Raises:
      DatasetError: when the files are absent (saying which to put where), or one of them is
        truncated or corrupt (naming it and what is wrong).
    """
    npz_path = os.path.join(data_dir, NPZ_FILE)
    if os.path.isfile(npz_path):
        train_images, train_labels, test_images, test_labels = _read_npz(npz_path)
        sources = (npz_path, npz_path)
    else:
        paths = _find_idx_files(data_dir)
        train_images = read_idx(paths["train_images"], IMAGES_MAGIC)
        train_labels = read_idx(paths["train_labels"], LABELS_MAGIC)
        test_images = read_idx(paths["test_images"], IMAGES_MAGIC)
        test_labels = read_idx(paths["test_labels"], LABELS_MAGIC)
        sources = (f"{paths['train_images']} with {paths['train_labels']}",
                   f"{paths['test_images']} with {paths['test_labels']}")
    train = check_examples(train_images, train_labels, IMAGE_SHAPE, NUM_CLASSES, sources[0])
    test = check_examples(test_images, test_labels, IMAGE_SHAPE, NUM_CLASSES, sources[1])
    train, validation = hold_out_validation(*_add_channel(train), sources[0])
    return splits_from_pixels("mnist", train, validation, _add_channel(test), NUM_CLASSES,
                              [str(digit) for digit in range(NUM_CLASSES)], normalize)


def _add_channel(pair):
    images, labels = pair
    return images[..., np.newaxis], labels


def _read_npz(path):
    """The four arrays of Keras' mnist.npz, read without pickle (object arrays are refused)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in NPZ_KEYS if key in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise file_error(path, f"is not a readable .npz archive ({error})") from None
    missing = [key for key in NPZ_KEYS if key not in arrays]
    if missing:
        raise file_error(path, f"lacks the arrays {', '.join(missing)}; Keras' mnist.npz holds "
                               f"{', '.join(NPZ_KEYS)}")
    return [arrays[key] for key in NPZ_KEYS]


def _find_idx_files(data_dir) -> dict:
    """role -> path of each IDX file; raises the missing-files DatasetError unless all four exist."""
    found, missing = {}, []
    for role, name in IDX_FILES.items():
        candidates = [name, name.replace("-idx", ".idx")]
        candidates += [candidate + ".gz" for candidate in candidates]
        paths = [os.path.join(data_dir, candidate) for candidate in candidates]
        existing = [path for path in paths if os.path.isfile(path)]
        if existing:
            found[role] = existing[0]
        else:
            missing.append(name)
    if missing:
        partial = ""
        if found:
            partial = (f"Found {', '.join(os.path.basename(p) for p in found.values())} but not "
                       f"{', '.join(missing)}.")
        raise missing_files_error("mnist", data_dir, [
            f"{NPZ_FILE} (the Keras file, arrays {', '.join(NPZ_KEYS)}), or",
            "the four IDX files " + ", ".join(IDX_FILES.values()) + " (each may be gzipped, name ending .gz)",
        ], partial)
    return found
