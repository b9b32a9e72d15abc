"""Byte text cut into windows of sequence_length + 1 bytes: a language model's examples.

A window's first `sequence_length` bytes are the input and its last `sequence_length` bytes the
targets (each byte predicts the next). Windows start every `sequence_length` bytes, so
consecutive windows share one byte and every byte after the first is a target exactly once per
epoch; the bytes after the last whole window (fewer than sequence_length) are not used.

Training reads windows by shuffled index, one gather per batch, as image splits held in memory
do (core/data/in_memory.py): the iterator's checkpoint is a batch counter, not text.
"""

import numpy as np
import tensorflow as tf

from core.data.in_memory import permuted_indices
from core.data.pipeline import prefetch_depth


def num_windows(num_bytes: int, sequence_length: int) -> int:
    return max(0, (num_bytes - 1) // sequence_length)


def byte_windows(text: np.ndarray, sequence_length: int) -> np.ndarray:
    """uint8 [num_windows, sequence_length + 1]: window i is text[i*L : i*L + L + 1]."""
    count = num_windows(len(text), sequence_length)
    starts = np.arange(count, dtype=np.int64)[:, None] * sequence_length
    return text[starts + np.arange(sequence_length + 1)]


def training_windows(text: np.ndarray, sequence_length: int, batch_size: int, seed: int,
                     prefetch_batches: int | None = None) -> tf.data.Dataset:
    """Endless batches uint8 [batch_size, sequence_length + 1] of shuffled windows.

    Epoch e is the permutation index_shuffle(0..N-1, seed=[seed, e]) of the windows; the stream
    is epoch 0, epoch 1, ... cut into batches, as core/data/in_memory.py does for images.

    Raises:
      ValueError: when the text has fewer windows than one batch.
    """
    windows = byte_windows(text, sequence_length)
    if len(windows) < batch_size:
        raise ValueError(f"the training text has {len(windows)} windows of {sequence_length + 1} bytes, fewer "
                         f"than one batch of {batch_size}")
    table, size = tf.constant(windows), len(windows)

    def batch(batch_index):
        positions = batch_index * batch_size + tf.range(batch_size, dtype=tf.int64)
        return tf.gather(table, permuted_indices(positions, size, seed))

    # A range, not Dataset.counter(): a tf.data service in dynamic mode splits a range between its
    # workers, while each would make a counter's whole stream (core/data_service.py).
    dataset = tf.data.Dataset.range(np.iinfo(np.int64).max).map(batch, num_parallel_calls=tf.data.AUTOTUNE)
    # Every op after the counter is a function of it: a checkpoint holds positions only.
    options = tf.data.Options()
    options.experimental_symbolic_checkpoint = True
    return dataset.prefetch(prefetch_depth(dataset.element_spec, prefetch_batches)).with_options(options)


def evaluation_windows(text: np.ndarray, sequence_length: int, batch_size: int) -> tf.data.Dataset:
    """One pass over the windows of `text` in order; the last batch may be smaller."""
    windows = byte_windows(text, sequence_length)
    return tf.data.Dataset.from_tensor_slices(windows).batch(batch_size).prefetch(tf.data.AUTOTUNE)
