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


def _batches(dataset, count):
    return [tuple(part.numpy() for part in batch) for batch in dataset.take(count)]


def test_a_batch_spanning_two_epochs_completes_one_and_starts_the_next():
    # 96 examples in batches of 36: the third batch holds the last 24 of epoch 0 and 12 of epoch 1.
    examples = _examples()
    labels = np.concatenate([b[1] for b in _batches(examples.shuffled_batches(seed=2, batch_size=36), 6)])
    assert sorted(labels[:N]) == list(range(N)) and sorted(labels[N:2 * N]) == list(range(N))


def test_order_does_not_depend_on_the_batch_size_and_unbatched_reads_agree():
    examples = _examples()
    by_16 = np.concatenate([b[1] for b in _batches(examples.shuffled_batches(seed=3, batch_size=16), 12)])
    by_48 = np.concatenate([b[1] for b in _batches(examples.shuffled_batches(seed=3, batch_size=48), 4)])
    single = np.array([label for _, label in examples.shuffled_forever(seed=3).take(192).as_numpy_iterator()])
    np.testing.assert_array_equal(by_16, by_48)
    np.testing.assert_array_equal(by_16, single)


def test_the_transform_runs_per_example_on_a_gathered_batch():
    # A transform that reads its example's label: vectorized, each image still gets its own.
    images = np.arange(N, dtype=np.uint8).reshape(N, 1, 1, 1)
    examples = InMemoryExamples(images, np.arange(N, dtype=np.int32),
                                transform=lambda image, label: (tf.cast(image, tf.float32) * 2.0
                                                                + tf.cast(label, tf.float32), label))
    images, labels = next(iter(examples.shuffled_batches(seed=0, batch_size=BATCH)))
    assert images.dtype == tf.float32 and images.shape == (BATCH, 1, 1, 1)
    np.testing.assert_array_equal(images.numpy()[:, 0, 0, 0], 3.0 * labels.numpy())


def test_a_restored_iterator_continues_the_same_batches(tmp_path):
    examples = _examples()

    def pipeline():
        return training_dataset(examples.as_dataset(), N, 36, seed=4, examples=examples)

    iterator = iter(pipeline())
    for _ in range(3):
        next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    expected = [next(iterator)[1].numpy() for _ in range(5)]
    restored = iter(pipeline())
    tf.train.Checkpoint(iterator=restored).restore(path).assert_consumed()
    for want in expected:
        np.testing.assert_array_equal(next(restored)[1].numpy(), want)


def test_training_input_builds_the_trainers_pipeline_from_splits():
    from core.data import training_input
    from core.data.splits import split_indices, splits_from_arrays

    images = np.arange(120, dtype=np.float32).reshape(120, 1, 1, 1)
    splits = splits_from_arrays("numbers", images, np.arange(120) % 10, split_indices(120, 0.1, 0.1), 10)
    batch_images, batch_labels = next(iter(training_input(splits, 24, seed=0)))
    assert batch_images.shape == (24, 1, 1, 1)
    train_values = set(splits.train_examples.images[:, 0, 0, 0].tolist())
    assert set(batch_images.numpy()[:, 0, 0, 0].tolist()) <= train_values
    np.testing.assert_array_equal(batch_images.numpy()[:, 0, 0, 0] % 10, batch_labels.numpy())
    _, soft_labels = next(iter(training_input(splits, 24, seed=0, mixup_alpha=0.4)))
    assert soft_labels.shape == (24, 10)


def test_a_deep_prefetch_stays_out_of_the_iterator_checkpoint(tmp_path):
    # 32 batches read ahead hold 3 MB of images; the checkpoint holds positions only, and the
    # restored iterator recomputes exactly the batches the saved one would have given.
    big = 4000
    images = np.random.RandomState(0).randint(0, 255, (big, 32, 32, 3), dtype=np.uint8)
    examples = InMemoryExamples(images, np.arange(big, dtype=np.int32))

    def pipeline():
        return training_dataset(examples.as_dataset(), big, 32, seed=0, examples=examples, prefetch_batches=32)

    iterator = iter(pipeline())
    for _ in range(3):
        next(iterator)
    path = tf.train.Checkpoint(iterator=iterator).save(str(tmp_path / "ckpt"))
    size = sum(f.stat().st_size for f in tmp_path.glob("ckpt*"))
    assert size < 64 * 1024, f"{path}: {size} bytes"
    expected = [next(iterator)[0].numpy() for _ in range(3)]
    restored = iter(pipeline())
    tf.train.Checkpoint(iterator=restored).restore(path).assert_consumed()
    for want in expected:
        np.testing.assert_array_equal(next(restored)[0].numpy(), want)


def test_the_read_ahead_is_capped_by_its_memory_budget():
    from core.data.pipeline import PREFETCH_BUDGET_BYTES, prefetch_depth

    small = (tf.TensorSpec([256, 28, 28, 1], tf.float32), tf.TensorSpec([256], tf.int32))
    large = (tf.TensorSpec([32, 224, 224, 3], tf.float32), tf.TensorSpec([32], tf.int32))
    assert prefetch_depth(small, 32) == 32
    assert prefetch_depth(large, 32) == PREFETCH_BUDGET_BYTES // (32 * 224 * 224 * 3 * 4 + 32 * 4) < 32
    assert prefetch_depth(small, None) == tf.data.AUTOTUNE
