"""What feeds the timed step: one batch in device memory, or a tf.data pipeline.

`--data=synthetic` measures the step alone: the same batch, already on the device, every step.
`--data=pipeline` runs `core.data.training_dataset` over examples that are not held in memory
by index (shuffle buffer of examples).
`--data=train_input` is exactly what `train_and_evaluate` reads: `core.data.training_input` over
a DatasetSplits (the workload's dataset, or in-memory arrays shaped like its data, split as a
user's arrays are), the same function the trainer calls.
`--data=keras_input` is how a Keras user feeds `fit` from the same training arrays:
`from_tensor_slices`, a full-split shuffle, batch, repeat, prefetch.
`--data=per_example_input` reads the same splits the way `train_and_evaluate` did before issue 13:
a shuffle buffer of indices and one tf.data map call (one gather) per example; beside
`train_input` it shows what a per-example map costs the step.
A language-model workload's batches are windows of bytes, uint8 [B, T + 1]; its `train_input` and
`keras_input` read its text corpus (benchmarks/language_model_inputs.py).
"""

import tensorflow as tf

from benchmarks.workloads import Workload, synthetic_examples
from core.data import load_dataset, training_dataset, training_input
from core.data.splits import split_indices, splits_from_arrays

DATA_SOURCES = ("synthetic", "pipeline", "train_input", "keras_input", "per_example_input")

# In-memory splits for `train_input`: 4,480 examples, 3,584 of them for training (80/10/10).
USER_EXAMPLES = 4480

# The pipeline shuffles over this many batches' worth of examples (a full permutation per epoch).
PIPELINE_BATCHES = 8


class DeviceBatch:
    """An endless iterator over one batch that lives in device memory.

    Inside the compiled loop `next()` runs at trace time, so the loop captures the tensors once
    and no copy or tf.data op runs per step. Under a multi-replica strategy each replica holds
    its own slice of the global batch on its own device.

    Args:
      batch: one global batch (numpy or tensors): (inputs, labels), or a language model's windows.
      strategy: the tf.distribute strategy the step runs under.
    """

    def __init__(self, batch, strategy):
        replicas = strategy.num_replicas_in_sync
        if replicas == 1:
            with tf.device("/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"):
                self._batch = tf.nest.map_structure(tf.identity, batch)
            return
        devices = strategy.extended.worker_devices
        per_replica = len(tf.nest.flatten(batch)[0]) // replicas

        def replica_slice(context):
            index = context.replica_id_in_sync_group
            part = slice(index * per_replica, (index + 1) * per_replica)
            with tf.device(devices[index]):
                return tf.nest.map_structure(lambda tensor: tf.identity(tensor[part]), batch)

        self._batch = strategy.experimental_distribute_values_from_function(replica_slice)

    def __iter__(self):
        return self

    def __next__(self):
        return self._batch


def synthetic_batch(workload: Workload, batch_size: int, seed: int = 0):
    """One global batch of random data as numpy arrays: (inputs, labels), or a language model's windows."""
    return synthetic_examples(workload, batch_size, seed)


def repeated_batch_dataset(workload: Workload, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """One batch repeated forever as a tf.data.Dataset, for runners that only accept datasets."""
    return tf.data.Dataset.from_tensors(synthetic_batch(workload, batch_size, seed)).repeat()


def pipeline_dataset(workload: Workload, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """`training_dataset` over PIPELINE_BATCHES batches of examples given as a tf.data.Dataset only
    (no `examples=`): its shuffle buffer holds the examples themselves."""
    num_examples = PIPELINE_BATCHES * batch_size
    examples = tf.data.Dataset.from_tensor_slices(synthetic_examples(workload, num_examples, seed))
    return training_dataset(examples, num_examples, batch_size, seed)


def workload_splits(workload: Workload, seed: int = 0):
    """The DatasetSplits a user would pass: the workload's catalog dataset (e.g. digits), or
    USER_EXAMPLES in-memory arrays shaped like its data, split 80/10/10; a language model's text
    corpus (TextSplits)."""
    if workload.is_language_model:
        from benchmarks.language_model_inputs import load_corpus  # pylint: disable=import-outside-toplevel

        return load_corpus(workload)
    if workload.dataset:
        return load_dataset(workload.dataset)
    inputs, labels = synthetic_examples(workload, USER_EXAMPLES, seed)
    return splits_from_arrays(workload.name, inputs, labels, split_indices(USER_EXAMPLES, 0.1, 0.1, seed),
                              workload.num_classes)


def keras_user_dataset(splits, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """What a Keras user feeds `fit` from the training arrays (transform, if any, per example)."""
    examples = splits.train_examples
    dataset = tf.data.Dataset.from_tensor_slices((examples.images, examples.labels))
    dataset = dataset.shuffle(len(examples), seed=seed)
    if examples.transform is not None:
        dataset = dataset.map(examples.transform, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=True).repeat().prefetch(tf.data.AUTOTUNE)


def per_example_dataset(splits, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Shuffled indices, one map call gathering each example, then batches (see the docstring)."""
    examples = splits.train_examples
    images, labels = tf.constant(examples.images), tf.constant(examples.labels)
    order = tf.data.Dataset.range(len(examples)).shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    def example(index):
        image, label = tf.gather(images, index), tf.gather(labels, index)
        return examples.transform(image, label) if examples.transform is not None else (image, label)

    dataset = order.repeat().map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def create_dataset(data: str, workload: Workload, batch_size: int, seed: int = 0, splits=None,
                   steps_per_loop=None) -> tf.data.Dataset:
    """A dataset of global batches from the data source `data` (see the module docstring).

    Args:
      splits: the DatasetSplits `train_input` and `keras_input` read; `workload_splits` by default.
      steps_per_loop: the loop's steps per call, which `train_input` reads ahead as the trainer's does.
    """
    if data == "synthetic":
        return repeated_batch_dataset(workload, batch_size, seed)
    if data == "pipeline":
        return pipeline_dataset(workload, batch_size, seed)
    if data in ("train_input", "keras_input", "per_example_input") and workload.is_language_model:
        from benchmarks import language_model_inputs  # pylint: disable=import-outside-toplevel

        corpus = splits or workload_splits(workload, seed)
        if data == "per_example_input":
            raise ValueError("per_example_input is an image pipeline; a language model reads train_input "
                             "or keras_input")
        if data == "keras_input":
            return language_model_inputs.keras_user_dataset(workload, corpus, batch_size, seed)
        return language_model_inputs.train_input(workload, corpus, batch_size, seed, steps_per_loop)
    if data in ("train_input", "keras_input", "per_example_input"):
        splits = splits or workload_splits(workload, seed)
        if data == "keras_input":
            return keras_user_dataset(splits, batch_size, seed)
        if data == "per_example_input":
            return per_example_dataset(splits, batch_size, seed)
        return training_input(splits, batch_size, seed, steps_per_loop=steps_per_loop)
    raise ValueError(f"unknown data source {data!r}; expected one of {', '.join(DATA_SOURCES)}")


def create_iterator(data: str, workload: Workload, batch_size: int, strategy, seed: int = 0, steps_per_loop=None,
                    splits=None):
    """The iterator a compiled loop reads: a DeviceBatch, or the distributed pipeline's iterator."""
    if data == "synthetic":
        return DeviceBatch(synthetic_batch(workload, batch_size, seed), strategy)
    dataset = create_dataset(data, workload, batch_size, seed, splits=splits, steps_per_loop=steps_per_loop)
    return iter(strategy.experimental_distribute_dataset(dataset))
