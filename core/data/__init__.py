"""Input pipelines: datasets by name, split into train/validation/test, fed through tf.data."""

from core.data.augmentation import AUGMENTATIONS, create_augmentation
from core.data.catalog import DATASETS, FILE_DATASETS, RESIZABLE_DATASETS, load_dataset
from core.data.errors import DatasetError
from core.data.mixing import create_batch_mixing
from core.data.normalization import Normalization
from core.data.pipeline import evaluation_dataset, training_dataset, training_input
from core.data.splits import DatasetSplits

__all__ = [
    "AUGMENTATIONS", "DATASETS", "FILE_DATASETS", "RESIZABLE_DATASETS", "DatasetError", "DatasetSplits",
    "Normalization", "create_augmentation", "create_batch_mixing", "evaluation_dataset", "load_dataset",
    "training_dataset", "training_input",
]
