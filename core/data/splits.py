"""The three splits of a dataset and what a model needs to know about them."""

import dataclasses

import numpy as np
import tensorflow as tf

from core.data.in_memory import InMemoryExamples


@dataclasses.dataclass(frozen=True)
class DatasetSplits:
    """A dataset divided into train, validation and test.

    Each split is an unbatched `tf.data.Dataset` of (image float32 [H, W, C], label int32 []).

    Attributes:
      name: the dataset's name, e.g. "digits".
      train, validation, test: the splits.
      num_examples: examples per split, by split name.
      input_shape: (H, W, C) of one image.
      num_classes: labels are integers in [0, num_classes).
      class_names: a name per label.
      normalization: the per-channel Normalization already applied to every split's images
        (statistics from the training split), or None; a model served on new images needs it.
      train_examples: the training split as InMemoryExamples, when it is held in memory; the
        training pipeline then shuffles indices instead of images (small iterator checkpoints).
    """

    name: str
    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    num_examples: dict
    input_shape: tuple
    num_classes: int
    class_names: tuple
    normalization: object = None
    train_examples: InMemoryExamples | None = None


def split_indices(num_examples: int, validation_fraction: float, test_fraction: float, seed: int = 0):
    """Deterministically partitions range(num_examples) into (train, validation, test) indices.

    The split seed is fixed and independent of the run's `--seed`, so every run of a dataset
    evaluates on the same held-out examples.
    """
    order = np.random.RandomState(seed).permutation(num_examples)
    num_test = int(round(num_examples * test_fraction))
    num_validation = int(round(num_examples * validation_fraction))
    test = order[:num_test]
    validation = order[num_test : num_test + num_validation]
    train = order[num_test + num_validation :]
    return train, validation, test


def splits_from_arrays(name, images, labels, indices, num_classes, class_names=None) -> DatasetSplits:
    """Builds DatasetSplits from in-memory arrays and (train, validation, test) index arrays."""
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int32)
    parts = {name: InMemoryExamples(images[index], labels[index])
             for name, index in zip(("train", "validation", "test"), indices)}
    return DatasetSplits(
        name=name,
        train=parts["train"].as_dataset(),
        validation=parts["validation"].as_dataset(),
        test=parts["test"].as_dataset(),
        num_examples={k: int(len(i)) for k, i in zip(("train", "validation", "test"), indices)},
        input_shape=tuple(images.shape[1:]),
        num_classes=num_classes,
        class_names=tuple(class_names or (str(c) for c in range(num_classes))),
        train_examples=parts["train"],
    )
