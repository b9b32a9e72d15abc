"""Examples held in memory and read by index, so a shuffle holds indices instead of images.

A tf.data iterator checkpoint stores every buffer in the pipeline. Shuffling images with a
full-epoch buffer (and `.cache()` before it) put the whole training split into every
checkpoint: ~0.7 GB each for CIFAR-10. Shuffling the indices 0..N-1 and gathering each example
afterwards keeps the checkpoint to N int64 indices plus the prefetched batches (~6 MB).
"""

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class InMemoryExamples:
    """A split as arrays.

    Attributes:
      images: [N, ...] in any dtype (uint8 keeps memory low).
      labels: [N] integers.
      transform: optional (image, label) -> (image, label) run on each gathered example, e.g.
        the uint8 -> normalized float32 conversion.
    """

    images: np.ndarray
    labels: np.ndarray
    transform: Callable | None = None

    def __len__(self):
        return len(self.labels)

    def _gather(self, images, labels):
        def example(index):
            image, label = tf.gather(images, index), tf.gather(labels, index)
            return self.transform(image, label) if self.transform is not None else (image, label)

        return example

    def as_dataset(self) -> tf.data.Dataset:
        """The examples in order, unbatched."""
        dataset = tf.data.Dataset.from_tensor_slices((self.images, self.labels))
        if self.transform is not None:
            dataset = dataset.map(self.transform, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset

    def shuffled_forever(self, seed: int) -> tf.data.Dataset:
        """Endless epochs, each a fresh permutation that depends only on `seed`.

        The arrays become constants of the input pipeline's graph, which TensorFlow caps at 2 GB.
        """
        images, labels = tf.constant(self.images), tf.constant(self.labels)
        order = tf.data.Dataset.range(len(self)).shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return order.repeat().map(self._gather(images, labels), num_parallel_calls=tf.data.AUTOTUNE)
