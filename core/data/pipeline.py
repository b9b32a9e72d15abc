"""tf.data pipelines that feed the training and evaluation loops."""

import tensorflow as tf

from core.data.augmentation import create_augmentation
from core.data.mixing import create_batch_mixing

# Batches read ahead for a loop that reads them all at once, at most this many bytes of them.
PREFETCH_BUDGET_BYTES = 64 * 2**20


def training_input(datasets, batch_size: int, seed: int, augment: str = "none", mixup_alpha: float = 0.0,
                   cutmix_alpha: float = 0.0, steps_per_loop: int | None = None) -> tf.data.Dataset:
    """The batches `train_and_evaluate` trains on, built from a DatasetSplits and its flags.

    The trainer and the benchmarks (`--data=train_input`) both call this, so a benchmark times
    the input a user's run reads.

    Args:
      datasets: a DatasetSplits; its `train_examples`, when held in memory, are read by index.
      batch_size: examples per batch (per replica under a strategy).
      seed: the run's `--seed`.
      augment, mixup_alpha, cutmix_alpha: the `--augment`, `--mixup_alpha`, `--cutmix_alpha` flags.
      steps_per_loop: the `--steps_per_loop` flag: batches to read ahead (see `training_dataset`).
    """
    return training_dataset(
        datasets.train, datasets.num_examples["train"], batch_size, seed,
        augment=create_augmentation(augment, datasets.input_shape),
        mix_batches=create_batch_mixing(mixup_alpha, cutmix_alpha, datasets.num_classes),
        examples=datasets.train_examples, prefetch_batches=steps_per_loop)


def training_dataset(split: tf.data.Dataset, num_examples: int, batch_size: int, seed: int,
                     augment=None, mix_batches=None, examples=None, prefetch_batches=None) -> tf.data.Dataset:
    """Shuffled, endlessly repeated, fixed-size batches for the training loop.

    Every epoch is a full permutation whose order depends only on `seed`. With `examples` (a
    split held in memory) the permutation is of indices, the iterator's state is a counter, and
    without augmentation each batch is one gather (`InMemoryExamples.shuffled_batches`);
    crop/flip draw per example, so with `augment` examples are augmented one by one before
    batching. Without `examples` a shuffle buffer as large as the split holds the examples
    themselves, and every checkpoint of the iterator stores that buffer. Batches drop the
    remainder so every compiled step sees the same shape (XLA compiles once per shape).

    Args:
      split: unbatched (image, label) examples.
      num_examples: examples in `split`; the shuffle buffer size.
      batch_size: examples per batch (per replica under a strategy).
      seed: shuffle and augmentation seed.
      augment: optional function (dataset, seed) -> dataset that transforms unbatched examples
        (`augmentation.create_augmentation`).
      mix_batches: optional function (batches, seed) -> batches that transforms whole batches
        (`mixing.create_batch_mixing`: mixup/CutMix, which make the labels soft [B, classes]).
      examples: optional InMemoryExamples holding the same examples as `split`.
      prefetch_batches: with `examples`, batches to read ahead (at most PREFETCH_BUDGET_BYTES of
        them): a loop compiled whole by XLA reads all its steps' batches before it starts, and
        those not ready by then are made while the step waits. Otherwise tf.data autotunes it.

    Raises:
      ValueError: when the split has fewer examples than one batch.
    """
    if num_examples < batch_size:
        raise ValueError(f"--batch_size={batch_size} is larger than the training split ({num_examples} examples)")
    if examples is not None and augment is None:
        dataset = examples.shuffled_batches(seed, batch_size)  # One gather per batch.
    else:
        if examples is not None:
            # Augmentation draws its randomness per example (core/data/augmentation.py).
            dataset = examples.shuffled_forever(seed)
        else:
            dataset = split.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True).repeat()
        if augment is not None:
            dataset = augment(dataset, seed)
        dataset = dataset.batch(batch_size, drop_remainder=True)
    if mix_batches is not None:
        dataset = mix_batches(dataset, seed)
    if examples is None:
        return dataset.prefetch(tf.data.AUTOTUNE)
    # Every op after the batch counter is a function of it, so a checkpoint of the iterator can
    # hold positions only and recompute the buffered batches on restore: a few KB, however deep
    # the prefetch (tests/core/data/test_pipeline.py).
    options = tf.data.Options()
    options.experimental_symbolic_checkpoint = True
    return dataset.prefetch(prefetch_depth(dataset.element_spec, prefetch_batches)).with_options(options)


def prefetch_depth(batch_spec, prefetch_batches) -> int:
    """`prefetch_batches` batches of `batch_spec`, at most PREFETCH_BUDGET_BYTES of them, or
    tf.data.AUTOTUNE when no count is asked for."""
    if not prefetch_batches:
        return tf.data.AUTOTUNE
    batch_bytes = sum(spec.shape.num_elements() * spec.dtype.size for spec in tf.nest.flatten(batch_spec))
    return max(1, min(prefetch_batches, PREFETCH_BUDGET_BYTES // max(batch_bytes, 1)))


def evaluation_dataset(split: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """One pass over `split` in order; the last batch may be smaller."""
    return split.cache().batch(batch_size).prefetch(tf.data.AUTOTUNE)
