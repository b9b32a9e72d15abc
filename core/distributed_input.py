"""Feeding replicas: per-replica batches from `distribute_datasets_from_function`, and resuming them.

Sharding policy: by batch, after batching. Every input pipeline (one per worker) builds the same
seeded stream of per-replica batches U[0], U[1], ... and keeps every N-th one, N being the number
of pipelines, starting at its own pipeline id. Within a worker, tf.distribute hands consecutive
kept batches to consecutive local replicas. Global step s therefore trains on exactly
U[s*R] ... U[s*R + R - 1] (R replicas in all), the same examples as one replica with the whole
global batch, whatever the cluster shape: 1 device, 8 GPUs or several machines. TensorFlow's
auto-sharding does not apply (`distribute_datasets_from_function` leaves sharding to us), and
there are no files to shard: every tapecraft dataset is decoded into memory at load time and
shuffled whole. The cost is that every worker prepares every batch and keeps 1/N of them; for
in-memory examples this is small next to the training step. With `--data_service` a tf.data
service makes the batches instead (core/data_service.py): the pipelines share one service job,
which splits the batches between them, so they do not shard here.

Resuming: TensorFlow 2.21 cannot checkpoint a distributed iterator (it is not a `Trackable`),
so under a real strategy the position in the stream is the global step: a resumed run skips the
s*R per-replica batches already consumed (tf.data `skip`, which replays the pipeline). The replay
is exact when the pipeline is deterministic for its seed (tapecraft's shuffling, augmentation
and mixing are), and costs time in proportion to the steps done: on this 2-core machine about
40 us per example for `digits` (25 s for 10,000 steps of 64), 70 us with crop augmentation. The
default strategy hands back the tf.data iterator itself, which the checkpoint saves and restores
in constant time.

Record files (`--dataset=records`) are the exception to both: their task passes a `positioned`
stream that shards by file when there are at least as many training shards as input pipelines
(each worker reads its own shards) and starts at any step in the time of reading one window of
shards (core/data/record_stream.py), so no iterator is checkpointed and nothing is replayed.
"""

import warnings

import tensorflow as tf

# An evaluation pass iterates a distributed dataset inside a tf.function, where building the
# per-device iterator reads the dataset's options in graph mode and tf.data warns that graph-mode
# options may be stale. Only `experimental_slack` is read there, which tapecraft never sets.
warnings.filterwarnings("ignore", message="To make it possible to preserve tf.data options",
                        category=UserWarning)


def per_replica_dataset_fn(make_batches, global_batch_size, skip_steps=0, service=None, positioned=None):
    """The `dataset_fn` for one input pipeline: its share of the per-replica batch stream.

    Args:
      make_batches: per_replica_batch_size -> tf.data.Dataset of per-replica batches, identical
        on every pipeline (seeded).
      global_batch_size: examples per step over all replicas.
      skip_steps: global steps already trained; their batches are skipped.
      service: a core.data_service.DataService to make the batches, or None to make them here.
      positioned: optional (per_replica_batch_size, context, skip_steps) -> this pipeline's
        batches from that step on, sharded by itself (record files shard by file); used instead
        of `make_batches`, skip and shard.
    """

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch_size = context.get_per_replica_batch_size(global_batch_size)
        if positioned is not None:
            if service is None:
                return positioned(batch_size, context, skip_steps)
            # The service's job splits the one whole stream between the pipelines: build it unsharded.
            return service.distribute(positioned(batch_size, tf.distribute.InputContext(), skip_steps), 0,
                                      shared=context.num_input_pipelines > 1)
        batches = make_batches(batch_size)
        if service is not None:
            # The pipelines share one service job, which splits the batches between them.
            return service.distribute(batches, skip_steps * context.num_replicas_in_sync,
                                      shared=context.num_input_pipelines > 1)
        if skip_steps:
            batches = batches.skip(skip_steps * context.num_replicas_in_sync)
        if context.num_input_pipelines > 1:
            batches = batches.shard(context.num_input_pipelines, context.input_pipeline_id)
        return batches

    return dataset_fn


def distribute_training_batches(strategy, make_batches, global_batch_size, skip_steps=0, service=None,
                                positioned=None):
    """An iterator over the endless training stream, split per replica, after `skip_steps` steps.

    Args:
      strategy: the run's tf.distribute strategy.
      make_batches: per_replica_batch_size -> endless tf.data.Dataset of per-replica batches,
        the same stream on every worker.
      global_batch_size: examples per step over all replicas.
      skip_steps: global steps already trained (by the checkpoint being resumed).
      service: a core.data_service.DataService to make the batches, or None to make them here.
      positioned: see `per_replica_dataset_fn`.
    """
    return iter(strategy.distribute_datasets_from_function(
        per_replica_dataset_fn(make_batches, global_batch_size, skip_steps, service, positioned)))


def is_checkpointable(iterator) -> bool:
    """Whether a checkpoint can save `iterator`'s position: only a plain tf.data iterator can
    (the default strategy's); TensorFlow 2.21's distributed iterators are not Trackable. One
    reading from a tf.data service is a tf.data iterator that cannot save itself either, so a
    run with a service does not ask (training/training_phase.py)."""
    return isinstance(iterator, tf.data.Iterator)


def distribute_evaluation_batches(strategy, make_batches, global_batch_size):
    """A re-iterable distributed dataset for one pass over an evaluation split.

    The last global batch may be partial; replicas left without examples receive empty batches
    (tf.distribute's `get_next_as_optional`), so the step must not average over the batch
    (`training/metrics.py` accumulates per-example losses).

    Args:
      strategy: the run's strategy.
      make_batches: per_replica_batch_size -> finite tf.data.Dataset of batches, in order.
      global_batch_size: examples per evaluation step over all replicas.
    """
    return strategy.distribute_datasets_from_function(per_replica_dataset_fn(make_batches, global_batch_size))
