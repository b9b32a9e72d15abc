"""Checks that a DatasetSplits can be trained on, before any training starts.

A dataset that is empty, smaller than one batch, shaped unlike its `input_shape`, or labelled
outside `0..num_classes-1` would otherwise fail deep inside a compiled step (an out-of-range
label gives a NaN loss or a gather error on some step), or silently train on nothing. One pass
over every split's labels and pixels finds it first. It touches every pixel once: measured on
a busy 2-core CPU, ~0.5 s for digits (mostly tracing the three small pipelines) and ~4 s for
60,000 CIFAR-sized 32x32x3 images.
"""

import numpy as np
import tensorflow as tf

from core.data.errors import DatasetError

SPLITS = ("train", "validation", "test")
_SCAN_BATCH = 4096


class InvalidSplitsError(DatasetError):
    """The dataset cannot be trained on; the one-line message names the split and the problem."""


def validate_splits(splits, batch_size: int):
    """Refuses datasets a run cannot use.

    Args:
      splits: a DatasetSplits.
      batch_size: the global training batch size.

    Raises:
      InvalidSplitsError: for a wrong element structure, shape or dtype, an empty split, a
        training split smaller than one batch, a `num_examples` that disagrees with the data,
        labels outside 0..num_classes-1, or NaN/Inf pixels.
    """
    name, num_classes = splits.name, splits.num_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidSplitsError(
            f"dataset {name!r}: num_classes={num_classes!r}; a classifier needs at least 2")
    for split in SPLITS:
        _check_structure(name, split, getattr(splits, split), tuple(splits.input_shape))
        _check_contents(name, split, getattr(splits, split), splits.num_examples.get(split), num_classes)
    train_examples = splits.num_examples["train"]
    if train_examples < batch_size:
        raise InvalidSplitsError(f"--batch_size={batch_size} is larger than the training split of {name!r} "
                                 f"({train_examples} examples); use at most {train_examples}")


def _check_structure(name, split, dataset, input_shape):
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise InvalidSplitsError(f"dataset {name!r}, {split} split: elements must be (image, label) pairs, "
                                 f"found {spec}")
    image, label = spec
    if not image.shape.is_compatible_with(input_shape):
        raise InvalidSplitsError(f"dataset {name!r}, {split} split: images have shape {tuple(image.shape)}, "
                                 f"but input_shape is {input_shape} (one unbatched image)")
    if not image.dtype.is_floating:
        raise InvalidSplitsError(f"dataset {name!r}, {split} split: images are {image.dtype.name}; "
                                 "they must be floating point (float32)")
    if label.shape.rank != 0 or not label.dtype.is_integer:
        raise InvalidSplitsError(f"dataset {name!r}, {split} split: labels must be integer scalars, found "
                                 f"{label.dtype.name} of shape {tuple(label.shape)}")


def _check_contents(name, split, dataset, declared, num_classes):
    """One pass: example count, label range and non-finite pixels."""
    count, smallest, largest, non_finite = _scan(dataset)
    where = f"dataset {name!r}, {split} split"
    if count == 0:
        raise InvalidSplitsError(f"{where}: is empty")
    if declared != count:
        raise InvalidSplitsError(f"{where}: num_examples says {declared!r} but it holds {count} examples")
    if smallest < 0 or largest >= num_classes:
        bad = smallest if smallest < 0 else largest
        raise InvalidSplitsError(
            f"{where}: label {bad} is outside 0..{num_classes - 1} (num_classes={num_classes})")
    if non_finite:
        raise InvalidSplitsError(f"{where}: {non_finite} images hold NaN or Inf pixels")


def _scan(dataset):
    """(examples, smallest label, largest label, images with a NaN/Inf pixel) over one pass."""

    def summarize(images, labels):
        rank = tf.rank(images)
        finite = tf.reduce_all(tf.math.is_finite(images), axis=tf.range(1, rank))
        labels = tf.cast(labels, tf.int64)
        return (tf.size(labels, tf.int64), tf.reduce_min(labels), tf.reduce_max(labels),
                tf.reduce_sum(tf.cast(~finite, tf.int64)))

    def combine(total, batch):
        return (total[0] + batch[0], tf.minimum(total[1], batch[1]), tf.maximum(total[2], batch[2]),
                total[3] + batch[3])

    start = (tf.constant(0, tf.int64), tf.constant(np.iinfo(np.int64).max, tf.int64),
             tf.constant(np.iinfo(np.int64).min, tf.int64), tf.constant(0, tf.int64))
    totals = dataset.batch(_SCAN_BATCH).map(summarize).reduce(start, combine)
    return tuple(int(value) for value in totals)
