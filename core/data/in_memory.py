"""Examples held in memory and read by index, so a shuffle holds indices instead of images.

A tf.data iterator checkpoint stores every buffer in the pipeline. Shuffling images with a
full-epoch buffer (and `.cache()` before it) put the whole training split into every
checkpoint: ~0.7 GB each for CIFAR-10. Permuting the indices 0..N-1 and gathering the examples
afterwards keeps the checkpoint to a batch counter plus the prefetched batches.

Gathering costs little when it is done a batch at a time: each batch's indices are computed
(`tf.random.experimental.index_shuffle`, a seeded bijection of 0..N-1 per epoch) and one
`tf.gather` reads the batch. A tf.data map over every example instead pays the framework's
per-element overhead N times per epoch, on the same 2 cores the training step needs: it made a
784-512-512-10 MLP train at 0.65x Keras `fit` (issue 13; benchmarks/RESULTS.md, "The path users
take", measures the path as it is now).
"""

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

# Unbatched reads go through batches of this many examples (one gather each).
SINGLE_EXAMPLE_READ = 64


@dataclasses.dataclass(frozen=True)
class InMemoryExamples:
    """A split as arrays.

    Attributes:
      images: [N, ...] in any dtype (uint8 keeps memory low).
      labels: [N] integers.
      transform: optional (image, label) -> (image, label) run on each gathered example, e.g.
        the uint8 -> normalized float32 conversion. On whole batches it runs vectorized
        (`tf.vectorized_map`), with the same result per example.
    """

    images: np.ndarray
    labels: np.ndarray
    transform: Callable | None = None

    def __len__(self):
        return len(self.labels)

    def as_dataset(self) -> tf.data.Dataset:
        """The examples in order, unbatched."""
        dataset = tf.data.Dataset.from_tensor_slices((self.images, self.labels))
        if self.transform is not None:
            dataset = dataset.map(self.transform, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset

    def shuffled_forever(self, seed: int) -> tf.data.Dataset:
        """Endless epochs of unbatched examples, each epoch a permutation that depends only on
        `seed` and the epoch's number, for pipelines that work on single examples."""
        return self.shuffled_batches(seed, min(SINGLE_EXAMPLE_READ, len(self))).unbatch()

    def shuffled_batches(self, seed: int, batch_size: int) -> tf.data.Dataset:
        """Endless batches over endless epochs, read with one gather per batch.

        Epoch e is the permutation `index_shuffle(0..N-1, seed=[seed, e])`; the stream of
        examples is epoch 0, epoch 1, ... cut into batches, so a batch may span two epochs and
        the order does not depend on `batch_size`. The only state is the batch counter, which
        is what a checkpoint of the iterator stores (with the prefetched batches).

        The arrays become constants of the input pipeline's graph, which TensorFlow caps at 2 GB.

        Args:
          seed: the permutation seed.
          batch_size: examples per batch.

        Returns:
          Endless (images [batch_size, ...], labels [batch_size]) batches.
        """
        images, labels = tf.constant(self.images), tf.constant(self.labels)
        size = len(self)

        def batch(batch_index):
            indices = permuted_indices(batch_index * batch_size + tf.range(batch_size, dtype=tf.int64), size, seed)
            gathered = (tf.gather(images, indices), tf.gather(labels, indices))
            if self.transform is None:
                return gathered
            return tf.vectorized_map(lambda example: self.transform(*example), gathered,
                                     fallback_to_while_loop=True)

        # Batch indices from `range`, not `counter()`: a tf.data service in dynamic mode splits a
        # range between its workers (one index each), but every worker would run a counter (a scan)
        # from 0 and make each batch once per worker (core/data_service.py).
        batch_indices = tf.data.Dataset.range(np.iinfo(np.int64).max)
        return batch_indices.map(batch, num_parallel_calls=tf.data.AUTOTUNE)


def permuted_indices(positions, size: int, seed: int):
    """The examples at stream `positions` ([B] int64, consecutive): epoch p // size, place p % size.

    `index_shuffle` is a keyed bijection of 0..size-1: each epoch is a full permutation, computed
    per position without materializing it. `positions` span at most two epochs (B <= size).
    """
    epochs = positions // size
    places = positions % size

    def epoch_permutation(epoch):
        return tf.random.experimental.index_shuffle(places, tf.stack([tf.constant(seed, tf.int64), epoch]),
                                                    tf.constant(size - 1, tf.int64))

    first, last = epochs[0], epochs[-1]
    within_first = epoch_permutation(first)
    # Only a batch that spans an epoch boundary needs the next epoch's permutation too.
    return tf.cond(first == last, lambda: within_first,
                   lambda: tf.where(epochs == first, within_first, epoch_permutation(last)))
