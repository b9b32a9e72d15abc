"""A `tf.distribute` strategy from a name, and the batch arithmetic that goes with it."""

import tensorflow as tf

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")


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


def create_strategy(name: str, num_replicas: int = 0) -> tf.distribute.Strategy:
    """Builds the strategy called `name`.

    Args:
      name: one of STRATEGIES.
      num_replicas: for `mirrored` without GPUs, how many logical CPU devices to mirror over
        (testing only); 0 means all GPUs, or one CPU when there is no GPU.

    Raises:
      ValueError: for an unknown name, or a replica count the machine cannot give.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown distribution strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        if gpus:
            devices = [d.name for d in gpus][: num_replicas or None]
        else:
            configure_logical_cpus(max(num_replicas, 1))
            devices = [d.name for d in tf.config.list_logical_devices("CPU")][: max(num_replicas, 1)]
        if num_replicas and len(devices) < num_replicas:
            raise ValueError(f"--num_replicas={num_replicas} but only {len(devices)} devices are available")
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        # The cluster comes from the TF_CONFIG environment variable.
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def per_replica_batch_size(global_batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """Splits the global batch evenly over replicas; refuses a split that leaves a remainder."""
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"--batch_size={global_batch_size} does not divide evenly over {replicas} replicas"
        )
    return global_batch_size // replicas
