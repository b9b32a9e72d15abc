"""tf.data pipelines that feed the training and evaluation loops."""

import tensorflow as tf

from core.data.augmentation import create_augmentation
from core.data.mixing import create_batch_mixing


def training_input(datasets, batch_size: int, seed: int, augment: str = "none", mixup_alpha: float = 0.0,
                   cutmix_alpha: float = 0.0) -> tf.data.Dataset:
    """The batches `train_and_evaluate` trains on, built from a DatasetSplits and its flags.

    The trainer and the benchmarks (`--data=train_input`) both call this, so a benchmark times
    the input a user's run reads.

    Args:
      datasets: a DatasetSplits; its `train_examples`, when held in memory, are read by index.
      batch_size: examples per batch (per replica under a strategy).
      seed: the run's `--seed`.
      augment, mixup_alpha, cutmix_alpha: the `--augment`, `--mixup_alpha`, `--cutmix_alpha` flags.
    """
    return training_dataset(
        datasets.train, datasets.num_examples["train"], batch_size, seed,
        augment=create_augmentation(augment, datasets.input_shape),
        mix_batches=create_batch_mixing(mixup_alpha, cutmix_alpha, datasets.num_classes),
        examples=datasets.train_examples)


def training_dataset(split: tf.data.Dataset, num_examples: int, batch_size: int, seed: int,
                     augment=None, mix_batches=None, examples=None) -> tf.data.Dataset:
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
    return dataset.prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(split: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """One pass over `split` in order; the last batch may be smaller."""
    return split.cache().batch(batch_size).prefetch(tf.data.AUTOTUNE)
