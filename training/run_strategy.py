"""The run's tf.distribute strategy, from its config, and what the strategy allows of XLA.

`--distribution_strategy` names the strategy (core/distribution.py builds it, once per process);
this adds what a run needs on top: one-line ConfigErrors for what only the machine can refuse,
and the XLA decision, since XLA cannot compile a multi-replica step on every device.
"""

from core.distribution import create_strategy, per_replica_batch_size, xla_obstacle
from training.accumulation import check_micro_batches
from training.config import ConfigError


def create_run_strategy(config):
    """The run's strategy; built once per process, so calling it again is cheap.

    Call it before anything else runs TensorFlow ops (loading data does): it may split the CPU
    into logical devices or join a multi-worker cluster, which must precede TensorFlow's
    initialization.

    Raises:
      ConfigError: for what only the machine can refuse: too few devices, a global batch that
        does not split evenly over replicas or into micro-batches, a cluster that does not form.
    """
    try:
        strategy = create_strategy(config.distribution_strategy, config.num_replicas, config.worker_hosts,
                                   config.task_index)
        check_micro_batches(per_replica_batch_size(config.batch_size, strategy), config.grad_accum_steps)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return strategy


def permit_xla(strategy, device_kind, jit_compile, reason, setting):
    """(jit_compile, reason) once the strategy has had its say: XLA off where it cannot compile
    the step's cross-replica collectives (CPUs).

    Args:
      strategy: the run's strategy.
      device_kind: "cpu", "gpu" or "tpu".
      jit_compile, reason: the decision for one device (training/jit.py).
      setting: `--jit_compile`, "auto", "true" or "false".

    Raises:
      ConfigError: when `--jit_compile=true` asks for what the strategy cannot do.
    """
    obstacle = xla_obstacle(strategy, device_kind)
    if not (jit_compile and obstacle):
        return jit_compile, reason
    if setting == "true":
        raise ConfigError(f"--jit_compile=true: {obstacle}; use --jit_compile=auto or false")
    return False, obstacle
