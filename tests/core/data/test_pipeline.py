"""The training pipeline: full-epoch permutations, seeded order, small iterator checkpoints."""

import numpy as np
import tensorflow as tf

from core.data import training_dataset
from core.data.in_memory import InMemoryExamples

N, BATCH = 96, 16


def _examples():
    images = np.arange(N, dtype=np.uint8).reshape(N, 1, 1, 1).repeat(8, axis=1)
    return InMemoryExamples(images, np.arange(N, dtype=np.int32),
                            transform=lambda image, label: (tf.cast(image, tf.float32), label))


def _labels(dataset, batches):
    iterator = iter(dataset)
    return np.concatenate([next(iterator)[1].numpy() for _ in range(batches)])


def test_each_epoch_is_a_permutation_and_epochs_differ():
    examples = _examples()
    labels = _labels(training_dataset(examples.as_dataset(), N, BATCH, seed=1, examples=examples), 2 * N // BATCH)
    first, second = labels[:N], labels[N:]
    assert sorted(first) == list(range(N)) and sorted(second) == list(range(N))
    assert not np.array_equal(first, second)


def test_order_depends_only_on_the_seed_and_images_follow_labels():
    examples = _examples()
    a = _labels(training_dataset(examples.as_dataset(), N, BATCH, seed=5, examples=examples), 4)
    b = _labels(training_dataset(examples.as_dataset(), N, BATCH, seed=5, examples=examples), 4)
    c = _labels(training_dataset(examples.as_dataset(), N, BATCH, seed=6, examples=examples), 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    images, labels = next(iter(training_dataset(examples.as_dataset(), N, BATCH, seed=5, examples=examples)))
    np.testing.assert_array_equal(images.numpy()[:, 0, 0, 0], labels.numpy())


def test_iterator_checkpoint_holds_indices_not_images(tmp_path):
    big = 4000
    images = np.random.RandomState(0).randint(0, 255, (big, 32, 32, 3), dtype=np.uint8)
    examples = InMemoryExamples(images, np.zeros(big, np.int32))
    iterator = iter(training_dataset(examples.as_dataset(), big, 32, seed=0, examples=examples))
    next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    size = sum(f.stat().st_size for f in tmp_path.glob("ckpt*"))
    # The split is 12 MB of uint8 (49 MB as float32); the index buffer is 32 KB.
    assert size < images.nbytes / 4, f"{path}: {size} bytes"
