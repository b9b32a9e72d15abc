"""The `distribution` check: under a 2-replica MirroredStrategy the layer computes what one replica does."""

import numpy as np
import tensorflow as tf

from core.distribution import configure_logical_cpus
from layers.conformance.comparison import assert_outputs_close
from layers.conformance.errors import CheckFailed

REPLICAS = 2

# Logical devices can only be configured before TensorFlow initializes (its first op). check_layer
# splits the CPU itself when it is called first; after any op has run, only the caller can.
HOW_TO_ENABLE = (
    "TensorFlow was already initialized when check_layer was called, so the kit could not split the "
    "CPU itself; split it before TensorFlow initializes: call "
    "core.distribution.configure_logical_cpus(2) at import time of your conftest.py (or "
    "tf.config.set_logical_device_configuration(tf.config.list_physical_devices('CPU')[0], "
    "[tf.config.LogicalDeviceConfiguration()] * 2) before any TensorFlow op), "
    "or leave 'distribution' out of check_layer(checks=...)"
)


def provide_replica_devices():
    """Splits the CPU into REPLICAS logical devices unless there are REPLICAS GPUs, when TensorFlow
    has not initialized its devices yet; otherwise leaves the devices as they are (the check then
    finds too few and says how to provide them). Never initializes TensorFlow itself."""
    if len(tf.config.list_physical_devices("GPU")) >= REPLICAS:
        return
    try:
        configure_logical_cpus(REPLICAS)
    except RuntimeError:
        pass  # Already initialized: replica_devices() reports what exists.


def replica_devices():
    """Two GPUs if there are, else two logical CPUs; raises CheckFailed saying how to get them."""
    for kind in ("GPU", "CPU"):
        devices = [device.name for device in tf.config.list_logical_devices(kind)]
        if len(devices) >= REPLICAS:
            return devices[:REPLICAS]
    count = len(tf.config.list_logical_devices("CPU"))
    raise CheckFailed(f"needs {REPLICAS} devices for MirroredStrategy but TensorFlow started with {count} "
                      f"logical CPU device(s) and no second GPU; {HOW_TO_ENABLE}")


def check_distribution(subject):
    """Each replica computes its half of the batch with mirrored copies of the same weights;
    the concatenated halves equal one replica's output on the whole batch. Inference mode:
    in training mode BatchNorm normalizes each replica's half by its own statistics, so
    the outputs legitimately differ.
    """
    if subject.input_shape[0] % REPLICAS:
        raise CheckFailed(f"the batch size {subject.input_shape[0]} does not split over {REPLICAS} replicas; "
                          "use an even batch size in input_shape")
    strategy = tf.distribute.MirroredStrategy(replica_devices())
    reference = subject.shared()
    inputs = subject.inputs(offset=1)
    expected = reference(inputs, training=False)
    with strategy.scope():
        layer, _ = subject.create()
    if len(layer.variables) != len(reference.variables):
        raise CheckFailed(f"the instance built under the strategy has {len(layer.variables)} variables, "
                          f"the one built outside {len(reference.variables)}")
    for mirrored, value in zip(layer.variables, reference.variables):
        mirrored.assign(value)

    half = subject.input_shape[0] // REPLICAS

    def shard(context):
        start = context.replica_id_in_sync_group * half
        return inputs[start:start + half]

    shards = strategy.experimental_distribute_values_from_function(shard)

    @tf.function
    def forward(batch):
        return layer(batch, training=False)

    outputs = strategy.experimental_local_results(strategy.run(forward, args=(shards,)))
    combined = np.concatenate([np.asarray(tf.cast(output, tf.float32)) for output in outputs], axis=0)
    agreement = assert_outputs_close(combined, tf.cast(expected, tf.float32), "float32",
                                     f"{REPLICAS}-replica MirroredStrategy output vs one replica's")
    return f"{REPLICAS} replicas on {', '.join(strategy.extended.worker_devices)}: {agreement}"
