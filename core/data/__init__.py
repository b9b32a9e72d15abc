"""Input pipelines: datasets by name, split into train/validation/test, fed through tf.data."""

from core.data.catalog import DATASETS, load_dataset
from core.data.pipeline import evaluation_dataset, training_dataset
from core.data.splits import DatasetSplits

__all__ = ["DATASETS", "DatasetSplits", "evaluation_dataset", "load_dataset", "training_dataset"]
