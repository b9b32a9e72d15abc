"""CIFAR-10 and CIFAR-100 (fine labels) from the python or the binary version's files.

Images are 32x32x3. The test batch is the test split; the validation split is held out of the
training batches as `pixel_splits.VALIDATION_EXAMPLES` states (the last 5,000: 45,000 / 5,000).
Both versions store an image as 3,072 bytes: the 1,024 red, then green, then blue values of a
32x32 image in row-major order.
"""

import os

import numpy as np

from core.data.cifar_files import find_cifar_files
from core.data.errors import describe_array, file_error
from core.data.pixel_splits import check_examples, hold_out_validation, splits_from_pixels
from core.data.restricted_pickle import load_restricted_pickle
from core.data.splits import DatasetSplits

IMAGE_SHAPE = (32, 32, 3)
IMAGE_BYTES = 32 * 32 * 3
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
# Python version: the dict entry holding the labels, and the meta file's entry of label names.
LABEL_KEYS = {"cifar10": ("labels", "label_names"), "cifar100": ("fine_labels", "fine_label_names")}
# Binary version: a record is its label bytes then the image; CIFAR-100 stores the coarse label
# first, then the fine one.
LABEL_BYTES = {"cifar10": 1, "cifar100": 2}


def load_cifar(data_dir, dataset="cifar10", normalize=True) -> DatasetSplits:
    """Reads CIFAR-10 or CIFAR-100 from `data_dir` (see `cifar_files.LAYOUTS` for what is accepted).

    Args:
      data_dir: the directory holding the folder or archive.
      dataset: "cifar10" or "cifar100".
      normalize: normalize with the training split's mean and std (else images are in [0, 1]).

    Raises:
      DatasetError: when the files are absent (saying which to put where), or one of them is
        truncated, corrupt or crafted (naming it and what is wrong).
    """
    layout, files, origin = find_cifar_files(data_dir, dataset)

    def decode(name):
        source = os.path.join(origin, name)
        if layout.version == "python":
            return decode_python_batch(files[name], source, dataset)
        return decode_binary_batch(files[name], source, dataset)

    batches = [decode(name) for name in layout.train_files]
    train_images = np.concatenate([images for images, _ in batches])
    train_labels = np.concatenate([labels for _, labels in batches])
    test = decode(layout.test_file)
    class_names = [str(label) for label in range(NUM_CLASSES[dataset])]
    if layout.names_file in files:
        source = os.path.join(origin, layout.names_file)
        class_names = decode_label_names(files[layout.names_file], source, layout.version, dataset)
    train, validation = hold_out_validation(train_images, train_labels, origin)
    return splits_from_pixels(dataset, train, validation, test, NUM_CLASSES[dataset], class_names, normalize)


def decode_python_batch(data: bytes, source, dataset):
    """(uint8 images [N, 32, 32, 3], int32 labels [N]) of one pickled batch, checked."""
    batch = _text_keys(load_restricted_pickle(data, source), source)
    label_key = LABEL_KEYS[dataset][0]
    missing = [key for key in ("data", label_key) if key not in batch]
    if missing:
        raise file_error(source, f"lacks the entries {', '.join(missing)} (found {', '.join(sorted(batch))})")
    pixels = batch["data"]
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 2 \
            or pixels.shape[1] != IMAGE_BYTES:
        raise file_error(source, f"'data' must be a uint8 array of shape (N, {IMAGE_BYTES}), "
                                 f"found {describe_array(pixels)}")
    try:
        labels = np.asarray(batch[label_key])
    except (TypeError, ValueError):  # A ragged or mixed list.
        raise file_error(source, f"'{label_key}' is not a list of integers") from None
    return check_examples(_planes_to_images(pixels), labels, IMAGE_SHAPE, NUM_CLASSES[dataset], source)


def decode_binary_batch(data: bytes, source, dataset):
    """(uint8 images [N, 32, 32, 3], int32 labels [N]) of one binary batch, checked."""
    label_bytes = LABEL_BYTES[dataset]
    record_bytes = label_bytes + IMAGE_BYTES
    if not data or len(data) % record_bytes:
        raise file_error(source, f"holds {len(data)} bytes, not a whole number of {record_bytes}-byte "
                                 f"records ({label_bytes} label byte(s) + {IMAGE_BYTES} pixel bytes); the "
                                 "file is truncated or not a CIFAR binary batch")
    records = np.frombuffer(data, np.uint8).reshape(-1, record_bytes)
    labels = records[:, label_bytes - 1]  # The fine label is the last label byte.
    return check_examples(_planes_to_images(records[:, label_bytes:]), labels, IMAGE_SHAPE,
                          NUM_CLASSES[dataset], source)


def decode_label_names(data: bytes, source, version, dataset):
    """The label names from the python version's meta pickle or the binary version's text file."""
    if version == "python":
        names = _text_keys(load_restricted_pickle(data, source), source).get(LABEL_KEYS[dataset][1])
    else:
        names = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if not isinstance(names, (list, tuple)) or len(names) != NUM_CLASSES[dataset]:
        found = len(names) if isinstance(names, (list, tuple)) else "no"
        raise file_error(source, f"lists {found} label names, expected {NUM_CLASSES[dataset]}")
    return [name.decode("latin1") if isinstance(name, bytes) else str(name) for name in names]


def _planes_to_images(pixels):
    # [N, 3072] -> [N, 3, 32, 32] (channel planes) -> [N, 32, 32, 3].
    return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _text_keys(batch, source) -> dict:
    """The dict with its keys as str: Python 2 wrote them as byte strings."""
    if not isinstance(batch, dict):
        raise file_error(source, f"holds a {type(batch).__name__}, expected the dict of a CIFAR batch")
    return {(key.decode("latin1") if isinstance(key, bytes) else str(key)): value
            for key, value in batch.items()}
