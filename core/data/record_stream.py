"""The endless training stream over record shards, which can start at any position it has reached.

Epoch e reads the shards in a seeded order (a permutation of the shards from (seed, e)), in
windows of WINDOW_SHARDS shards: a window's shards are interleaved record by record and its
records shuffled in blocks of `shuffle_buffer` serialized (still encoded) records with a seed
of (seed, window) (`block_shuffle`). The stream's n-th record is therefore a function of (seed, n) alone, given the
shards and their counts, and so is its augmentation (drawn from (seed, n)). A run resumed at
step s rebuilds the stream at record s x batch: the epoch and window are computed from the
metadata's counts, and only that window's records before the position are read again, without
being decoded. The checkpoint holds no input state beyond the step (8 bytes), and a resume reads
at most one window again: WINDOW_SHARDS shards (ImageNet's 1,024 training shards: 8 x ~140 MB).

Memory does not grow with the dataset: the shuffle block holds `shuffle_buffer` encoded
records (10,000 ImageNet JPEGs average ~110 KB: ~1.1 GB; lower --shuffle_buffer to fit), the
interleave one read buffer per open shard, the prefetch a few decoded batches.
"""

import numpy as np
import tensorflow as tf

plain = tf.autograph.experimental.do_not_convert  # No AutoGraph (core/data/record_reading.py).

WINDOW_SHARDS = 8


def shard_order(seed: int, epoch, num_shards: int):
    """Epoch `epoch`'s order of the shards: an int32 permutation of 0..num_shards-1 (graph or eager)."""
    keys = tf.random.stateless_uniform([num_shards], seed=tf.stack([tf.cast(seed, tf.int64),
                                                                    tf.cast(epoch, tf.int64)]))
    return tf.argsort(keys, stable=True)


def start_point(seed: int, counts, start_record: int, window_shards: int = WINDOW_SHARDS):
    """(global window number, records of that window to skip) for the stream's record `start_record`."""
    counts = np.asarray(counts, np.int64)
    epoch, offset = divmod(int(start_record), int(counts.sum()))
    order = shard_order(seed, epoch, len(counts)).numpy()
    windows_per_epoch = -(-len(counts) // window_shards)
    for window in range(windows_per_epoch):
        size = int(counts[order[window * window_shards:(window + 1) * window_shards]].sum())
        if offset < size:
            return epoch * windows_per_epoch + window, offset
        offset -= size
    raise AssertionError("offset beyond the epoch")  # divmod keeps it inside.


def training_records(read_shard, check_markers, counts, seed: int, start_record: int, shuffle_buffer: int,
                     window_shards: int = WINDOW_SHARDS):
    """Endless (shard, index, serialized, is_marker) records of the stream from position `start_record` on
    (is_marker: the end of a shard that could not be read whole, record_reading.drop_whole_shard_ends).

    Args:
      read_shard: shard index -> its records and end marker (record_reading.shard_records).
      check_markers: records dataset -> the same without the end markers of shards read whole.
      counts: records per shard (the metadata's), > 0 in total.
      seed: the run's --seed.
      start_record: the stream position to start at (steps done x batch size).
      shuffle_buffer: serialized records shuffled together within a window.
    """
    num_shards = len(counts)
    windows_per_epoch = -(-num_shards // window_shards)
    first_window, skip = start_point(seed, counts, start_record, window_shards)

    def window_records(window, skip_records):
        epoch, part = window // windows_per_epoch, window % windows_per_epoch
        shards = shard_order(seed, epoch, num_shards)[part * window_shards:(part + 1) * window_shards]
        records = tf.data.Dataset.from_tensor_slices(shards).interleave(
            plain(read_shard), cycle_length=window_shards, block_length=1, num_parallel_calls=window_shards,
            deterministic=True)
        return check_markers(block_shuffle(records, shuffle_buffer, seed, window)).skip(skip_records)

    windows = tf.data.Dataset.range(first_window, np.iinfo(np.int64).max)
    first_skip = tf.constant(skip, tf.int64)
    windows = windows.map(plain(lambda window: (window, tf.where(window == first_window, first_skip, 0))))
    return windows.flat_map(plain(window_records))


def block_shuffle(records, block_size: int, seed: int, window):
    """Each run of `block_size` consecutive records in a seeded random order of (seed, window, block).

    tf.data's own shuffle takes its seed as a Python number once a global seed is set, and a
    window's seed is a tensor; a block of interleaved records permuted whole holds the same
    memory as a shuffle buffer of that size.
    """

    def permute(block_number, block):
        block_seed = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.constant(seed, tf.int64), window]), block_number)
        order = tf.argsort(tf.random.stateless_uniform(tf.shape(block[0])[:1], seed=block_seed), stable=True)
        return tf.data.Dataset.from_tensor_slices(tuple(tf.gather(part, order) for part in block))

    return records.batch(block_size).enumerate().flat_map(plain(permute))


def evaluation_records(read_shard, check_markers, num_shards: int):
    """(shard, index, serialized, is_marker) of every record once, shards and records in order."""
    return check_markers(tf.data.Dataset.range(num_shards).map(plain(lambda shard: tf.cast(shard, tf.int32)))
                         .flat_map(plain(read_shard)))
