"""What feeds the timed step: one batch held in device memory, or the real tf.data pipeline.

`--data=synthetic` measures the step alone: the same batch, already on the device, every step.
`--data=pipeline` runs the trainer's own input pipeline (`core.data.training_dataset`: cache,
shuffle, repeat, batch, prefetch) over in-memory examples shaped like the workload's data, so
the difference between the two is what the input pipeline costs.
"""

import tensorflow as tf

from benchmarks.workloads import Workload, synthetic_examples
from core.data import training_dataset

DATA_SOURCES = ("synthetic", "pipeline")

# The pipeline shuffles over this many batches' worth of examples (a full permutation per epoch).
PIPELINE_BATCHES = 8


class DeviceBatch:
    """An endless iterator over one batch that lives in device memory.

    Inside the compiled loop `next()` runs at trace time, so the loop captures the tensors once
    and no copy or tf.data op runs per step. Under a multi-replica strategy each replica holds
    its own slice of the global batch on its own device.

    Args:
      inputs, labels: one global batch (numpy or tensors).
      strategy: the tf.distribute strategy the step runs under.
    """

    def __init__(self, inputs, labels, strategy):
        replicas = strategy.num_replicas_in_sync
        if replicas == 1:
            with tf.device("/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"):
                self._batch = (tf.identity(inputs), tf.identity(labels))
            return
        devices = strategy.extended.worker_devices
        per_replica = len(labels) // replicas

        def replica_slice(context):
            index = context.replica_id_in_sync_group
            part = slice(index * per_replica, (index + 1) * per_replica)
            with tf.device(devices[index]):
                return tf.identity(inputs[part]), tf.identity(labels[part])

        self._batch = strategy.experimental_distribute_values_from_function(replica_slice)

    def __iter__(self):
        return self

    def __next__(self):
        return self._batch


def synthetic_batch(workload: Workload, batch_size: int, seed: int = 0):
    """One global batch (inputs, labels) of random data as numpy arrays."""
    return synthetic_examples(workload, batch_size, seed)


def repeated_batch_dataset(workload: Workload, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """One batch repeated forever as a tf.data.Dataset, for runners that only accept datasets."""
    return tf.data.Dataset.from_tensors(synthetic_batch(workload, batch_size, seed)).repeat()


def pipeline_dataset(workload: Workload, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """The trainer's training pipeline over PIPELINE_BATCHES batches of in-memory examples."""
    num_examples = PIPELINE_BATCHES * batch_size
    inputs, labels = synthetic_examples(workload, num_examples, seed)
    examples = tf.data.Dataset.from_tensor_slices((inputs, labels))
    return training_dataset(examples, num_examples, batch_size, seed)


def create_dataset(data: str, workload: Workload, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """A dataset of global batches: `synthetic` repeats one batch, `pipeline` is the real pipeline."""
    if data == "synthetic":
        return repeated_batch_dataset(workload, batch_size, seed)
    if data == "pipeline":
        return pipeline_dataset(workload, batch_size, seed)
    raise ValueError(f"unknown data source {data!r}; expected one of {', '.join(DATA_SOURCES)}")


def create_iterator(data: str, workload: Workload, batch_size: int, strategy, seed: int = 0):
    """The iterator a compiled loop reads: a DeviceBatch, or the distributed pipeline's iterator."""
    if data == "synthetic":
        return DeviceBatch(*synthetic_batch(workload, batch_size, seed), strategy)
    return iter(strategy.experimental_distribute_dataset(create_dataset(data, workload, batch_size, seed)))
