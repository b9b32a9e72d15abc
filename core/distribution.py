"""A `tf.distribute` strategy from a name, and the batch arithmetic that goes with it."""

import os

import tensorflow as tf

from core.cluster import create_cluster_resolver

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")

# Strategies built so far, by their settings (see create_strategy).
_STRATEGIES = {}


def configure_logical_cpus(count: int):
    """Splits the host CPU into `count` logical devices, so multi-replica code runs without GPUs.

    Must run before TensorFlow initializes its devices (before any op executes).

    Raises:
      RuntimeError: when TensorFlow already initialized fewer devices than `count`.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    # Reading the configuration, unlike listing logical devices, does not initialize TensorFlow.
    configured = tf.config.get_logical_device_configuration(cpu) or []
    if len(configured) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:
        raise RuntimeError(
            f"cannot split the CPU into {count} logical devices: TensorFlow is already initialized; "
            "call core.distribution.configure_logical_cpus before running any TensorFlow op") from None


def create_strategy(name: str, num_replicas: int = 0, worker_hosts: str = "",
                    task_index: int = 0) -> tf.distribute.Strategy:
    """The strategy called `name`: built on the first call, the same instance on later calls.

    One instance per setting per process. TensorFlow numbers each MirroredStrategy's collective
    operations from the same starting key, so a second instance over the same devices (a second
    run in one process: a sweep, a notebook, a test suite, fine-tuning after a frozen phase)
    collides with the first's collectives ("Shape mismatch in the collective instance ...");
    MultiWorkerMirroredStrategy configures the process's collective ops, which can happen once;
    TPUStrategy initializes the TPU system, which a second time would wipe.

    Args:
      name: one of STRATEGIES.
      num_replicas: for `mirrored` without GPUs, how many logical CPU devices to mirror over
        (testing only); 0 means all GPUs, or one CPU when there is no GPU.
      worker_hosts, task_index: for `multi_worker`, the cluster and this worker's place in it
        (core/cluster.py); an empty `worker_hosts` reads TF_CONFIG instead.

    Raises:
      ValueError: for an unknown name, a replica count the machine cannot give, or a cluster
        description that does not hold together.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown distribution strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    key = (name, num_replicas, worker_hosts, task_index, os.environ.get("TF_CONFIG", ""))
    if key not in _STRATEGIES:
        if name == "multi_worker" and any(known[0] == name for known in _STRATEGIES):
            raise ValueError("--distribution_strategy=multi_worker: this process already joined another "
                             "cluster; a process belongs to one")
        _STRATEGIES[key] = _build_strategy(name, num_replicas, worker_hosts, task_index)
    return _STRATEGIES[key]


def _build_strategy(name, num_replicas, worker_hosts, task_index):
    if name == "multi_worker":
        # First: the strategy configures collective ops, which must happen before anything
        # (listing logical devices included) initializes TensorFlow's context. Each worker
        # mirrors over its GPUs (or its CPU); gradients are all-reduced over gRPC between
        # workers. A dead worker is detected by the coordination service's heartbeats (about
        # 10 s) and fails the collectives of the others with UnavailableError.
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=create_cluster_resolver(worker_hosts, task_index))
    # Physical, not logical: listing logical devices initializes TensorFlow, after which the CPU
    # can no longer be split for `mirrored` on a machine without GPUs.
    gpus = tf.config.list_physical_devices("GPU")
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        if gpus:
            devices = [d.name for d in tf.config.list_logical_devices("GPU")][: num_replicas or None]
        else:
            try:
                configure_logical_cpus(max(num_replicas, 1))
            except RuntimeError as error:  # A second run in one process asking for more devices.
                raise ValueError(f"--num_replicas={num_replicas}: {error}") from None
            devices = [d.name for d in tf.config.list_logical_devices("CPU")][: max(num_replicas, 1)]
        if num_replicas and len(devices) < num_replicas:
            raise ValueError(f"--num_replicas={num_replicas} but only {len(devices)} devices are available")
        return tf.distribute.MirroredStrategy(devices)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def xla_obstacle(strategy: tf.distribute.Strategy, device_kind: str) -> str | None:
    """Why XLA cannot compile the training step under `strategy`, or None when it can.

    The step all-reduces gradients across replicas; XLA implements those collectives for GPUs
    and TPUs but not for CPUs (TensorFlow 2.21 fails with "Collectives are not yet implemented
    for CPU devices when compiling with XLA", or with a device mismatch on logical CPUs).
    """
    if device_kind == "cpu" and strategy.num_replicas_in_sync > 1:
        return "XLA has no cross-replica collectives on CPU"
    return None


def per_replica_batch_size(global_batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """Splits the global batch evenly over replicas; refuses a split that leaves a remainder."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"--batch_size={global_batch_size} does not divide evenly over {replicas} replicas"
        )
    return global_batch_size // replicas
