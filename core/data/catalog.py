"""Datasets by the name `--dataset` uses."""

import os

from core.data.cifar import load_cifar
from core.data.digits import load_digits
from core.data.image_folder import DEFAULT_IMAGE_SIZE, load_image_folder
from core.data.mnist import load_mnist
from core.data.record_splits import load_record_splits
from core.data.synthetic import load_synthetic

# name -> loader(data_dir, normalize, image_size) returning DatasetSplits. Loaders of real
# datasets read the standard files from `data_dir`; none downloads anything.
DATASETS = {
    "digits": lambda data_dir, normalize, image_size: load_digits(),
    "synthetic": lambda data_dir, normalize, image_size: load_synthetic(),
    "mnist": lambda data_dir, normalize, image_size: load_mnist(data_dir, normalize),
    "cifar10": lambda data_dir, normalize, image_size: load_cifar(data_dir, "cifar10", normalize),
    "cifar100": lambda data_dir, normalize, image_size: load_cifar(data_dir, "cifar100", normalize),
    "image_folder": lambda data_dir, normalize, image_size: load_image_folder(
        data_dir, image_size or DEFAULT_IMAGE_SIZE, normalize),
    # Sharded TFRecords (training/convert_to_records.py), streamed; training reads them through
    # core/data/record_splits.py's RecordData rather than these splits.
    "records": load_record_splits,
}
# The datasets read from files in `data_dir` (the others are embedded or generated).
FILE_DATASETS = ("mnist", "cifar10", "cifar100", "image_folder", "records")
# The datasets whose image size a user chooses (`image_size`); the others have a fixed size.
RESIZABLE_DATASETS = ("image_folder", "records")


def load_dataset(name: str, data_dir: str | None = None, normalize: bool = True, image_size: int = 0):
    """Loads the dataset called `name`.

    Args:
      name: a key of DATASETS.
      data_dir: the directory holding the files of a dataset in FILE_DATASETS.
      normalize: for file datasets, normalize each channel with the training split's mean and
        std; digits (in [0, 1]) and synthetic (standard normal) are used as they are.
      image_size: for image_folder, the side images are resized to (0: DEFAULT_IMAGE_SIZE).

    Raises:
      ValueError: for an unknown name.
      DatasetError: when the dataset's files are absent, truncated or corrupt.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(sorted(DATASETS))}")
    if data_dir:
        data_dir = os.path.expanduser(data_dir)
    return DATASETS[name](data_dir, normalize, image_size)
