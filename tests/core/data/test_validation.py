"""validate_splits: every kind of unusable dataset is refused with one line naming split and problem."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from core.data.splits import DatasetSplits
from core.data.validation import InvalidSplitsError, validate_splits

NUM_CLASSES = 10


def _split(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels))


def _good_arrays(count=40):
    rng = np.random.RandomState(0)
    return rng.rand(count, 8, 8, 1).astype(np.float32), (np.arange(count) % NUM_CLASSES).astype(np.int32)


def _splits(**changes):
    """A valid 40/20/20 dataset named 'toy', with some fields replaced."""
    images, labels = _good_arrays()
    splits = DatasetSplits(
        name="toy", train=_split(images, labels), validation=_split(images[:20], labels[:20]),
        test=_split(images[:20], labels[:20]), num_examples={"train": 40, "validation": 20, "test": 20},
        input_shape=(8, 8, 1), num_classes=NUM_CLASSES, class_names=tuple(map(str, range(NUM_CLASSES))))
    return dataclasses.replace(splits, **changes)


def _with_train(images, labels, count=None):
    count = len(labels) if count is None else count
    return _splits(train=_split(images, labels), num_examples={"train": count, "validation": 20, "test": 20})


def _nan_images():
    images, labels = _good_arrays()
    images[3, 0, 0, 0] = np.nan
    images[7, 1, 1, 0] = np.inf
    return _with_train(images, labels)


def _label(value):
    images, labels = _good_arrays()
    labels[5] = value
    return _with_train(images, labels)


TRAIN = "dataset 'toy', train split: "
BAD_DATASETS = [
    ("empty train split", lambda: _with_train(*(array[:0] for array in _good_arrays())),
     "dataset 'toy', train split: is empty"),
    ("empty test split", lambda: _splits(test=_split(*(array[:0] for array in _good_arrays())),
                                         num_examples={"train": 40, "validation": 20, "test": 0}),
     "dataset 'toy', test split: is empty"),
    ("label too large", lambda: _label(10), TRAIN + "label 10 is outside 0..9 (num_classes=10)"),
    ("negative label", lambda: _label(-1), TRAIN + "label -1 is outside 0..9 (num_classes=10)"),
    ("image shape", lambda: _with_train(_good_arrays()[0][..., 0], _good_arrays()[1]),
     TRAIN + "images have shape (8, 8), but input_shape is (8, 8, 1) (one unbatched image)"),
    ("uint8 images", lambda: _with_train(_good_arrays()[0].astype(np.uint8), _good_arrays()[1]),
     "dataset 'toy', train split: images are uint8; they must be floating point (float32)"),
    ("float labels", lambda: _with_train(_good_arrays()[0], _good_arrays()[1].astype(np.float32)),
     "dataset 'toy', train split: labels must be integer scalars, found float32 of shape ()"),
    ("one-hot labels",
     lambda: _with_train(_good_arrays()[0], np.eye(NUM_CLASSES, dtype=np.int32)[_good_arrays()[1]]),
     "dataset 'toy', train split: labels must be integer scalars, found int32 of shape (10,)"),
    ("images only", lambda: _splits(train=tf.data.Dataset.from_tensor_slices(_good_arrays()[0])),
     "dataset 'toy', train split: elements must be (image, label) pairs, found TensorSpec("),
    ("wrong count", lambda: _with_train(*_good_arrays(), count=400),
     "dataset 'toy', train split: num_examples says 400 but it holds 40 examples"),
    ("nan pixels", _nan_images, "dataset 'toy', train split: 2 images hold NaN or Inf pixels"),
    ("one class", lambda: _splits(num_classes=1),
     "dataset 'toy': num_classes=1; a classifier needs at least 2"),
]


@pytest.mark.parametrize("make,message", [case[1:] for case in BAD_DATASETS],
                         ids=[case[0] for case in BAD_DATASETS])
def test_bad_dataset_is_refused_with_one_line(make, message):
    with pytest.raises(InvalidSplitsError) as error:
        validate_splits(make(), batch_size=8)
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_batch_larger_than_the_training_split_is_refused():
    with pytest.raises(InvalidSplitsError) as error:
        validate_splits(_splits(), batch_size=64)
    assert str(error.value) == ("--batch_size=64 is larger than the training split of 'toy' (40 examples); "
                                "use at most 40")


def test_a_good_dataset_passes():
    validate_splits(_splits(), batch_size=40)
