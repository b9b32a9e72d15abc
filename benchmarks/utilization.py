"""Model FLOPs utilization: the step's FLOPs over the device's measured peak.

MFU = step FLOPs (from the step's XLA HLO, see core/flops.py) x median steps per second / peak
FLOP/s (the fastest matmul repeat at the policy's compute dtype, see peak.py). FLOP counts are
cached: several configurations share a workload, a policy and a per-replica batch.
"""

import tensorflow as tf

from core.flops import step_flops
from benchmarks.inputs import synthetic_batch
from benchmarks.runners import build_model, make_step


class FlopCounter:
    """FLOPs of tapecraft's train step per (workload, policy, per-replica batch).

    Args:
      log: receives the reason when a step's FLOPs cannot be counted.
    """

    def __init__(self, log=print):
        self._log = log
        self._counts = {}

    def global_step_flops(self, workload, policy, batch_size, num_replicas):
        """FLOPs of one global step: one replica's step, counted on a fresh copy, x replicas.

        The copy lives under the default strategy: XLA lowers one replica's work, which is
        the function the strategy runs on every replica. Returns None (and logs why) when the
        step cannot be lowered to HLO, e.g. for an op XLA does not support.
        """
        per_replica = batch_size // num_replicas
        key = (workload.name, workload.input_shape, policy, per_replica)
        if key not in self._counts:
            with tf.distribute.get_strategy().scope():
                model, optimizer = build_model(workload, policy)
                batch = tf.nest.map_structure(tf.constant, synthetic_batch(workload, per_replica))
                try:
                    self._counts[key] = step_flops(make_step(model, optimizer, per_replica, workload=workload), batch)
                except (tf.errors.OpError, ValueError) as error:
                    self._log(f"FLOPs of {workload.name} under {policy} not counted: {error}".splitlines()[0])
                    self._counts[key] = None
        count = self._counts[key]
        return None if count is None else count * num_replicas
