"""The multi-worker job this process belongs to, and what its role lets it write.

MultiWorkerMirroredStrategy learns the cluster from a resolver. The usual source is the
TF_CONFIG environment variable, a JSON object such as
  {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 0}}
`--worker_hosts=10.0.0.1:2222,10.0.0.2:2222 --task_index=0` describes the same cluster from flags.
Every worker runs the same command except for its task index. The chief (task "chief" 0 when the
cluster has one, else worker 0) writes the summaries, the final report, the checkpoints and the
export in `--model_dir`; every other worker must save too, because saving distributed variables
may be a collective operation, so it writes into a temporary directory of its own and deletes it
after each save (the pattern of TensorFlow's multi-worker tutorial).
"""

import json
import os
import re

import tensorflow as tf

# A host name or IPv4 address, or an IPv6 address in brackets, then the port.
_HOST_PORT = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$")


def parse_worker_hosts(text: str) -> tuple:
    """Splits `host:port,host:port,...` into its entries.

    Raises:
      ValueError: naming the first malformed entry (one line).
    """
    hosts = tuple(entry.strip() for entry in text.split(","))
    for host in hosts:
        match = _HOST_PORT.match(host)
        if not match or not 0 < int(match.group(1)) < 65536:
            raise ValueError(f"entry {host!r} is not host:port with a port in 1-65535")
    duplicates = sorted({host for host in hosts if hosts.count(host) > 1})
    if duplicates:
        raise ValueError(f"{duplicates[0]} is listed twice")
    return hosts


def _parse_tf_config(text: str):
    """(cluster, task type, task index, rpc layer) of a TF_CONFIG value, checked for consistency."""
    try:
        description = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error})") from None
    cluster = description.get("cluster") if isinstance(description, dict) else None
    task = description.get("task") if isinstance(description, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError('TF_CONFIG needs "cluster" (jobs of host:port lists) and "task" ({"type", "index"})')
    for job, hosts in cluster.items():
        if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
            raise ValueError(f'TF_CONFIG: cluster job "{job}" must be a list of "host:port" strings')
        try:
            parse_worker_hosts(",".join(hosts))
        except ValueError as error:
            raise ValueError(f'TF_CONFIG: cluster job "{job}": {error}') from None
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise ValueError(f"TF_CONFIG: task type {task_type!r} is not a job of the cluster "
                         f"({', '.join(cluster)})")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task_type]):
        raise ValueError(f'TF_CONFIG: task index {index!r} is not in 0-{len(cluster[task_type]) - 1} '
                         f'(the "{task_type}" job has {len(cluster[task_type])} tasks)')
    return cluster, task_type, index, description.get("rpc_layer") or "grpc"


def create_cluster_resolver(worker_hosts: str = "", task_index: int = 0, environ=None):
    """The cluster of a multi-worker run, from the flags when given, else from TF_CONFIG.

    Args:
      worker_hosts: `--worker_hosts`, comma-separated host:port of every worker, chief first;
        empty to use TF_CONFIG.
      task_index: `--task_index`, this process's position in `worker_hosts`.
      environ: the environment to read TF_CONFIG from (default os.environ).

    Raises:
      ValueError: one line naming the flag or TF_CONFIG and what is wrong.
    """
    environ = os.environ if environ is None else environ
    if not worker_hosts:
        if not environ.get("TF_CONFIG"):
            raise ValueError("--distribution_strategy=multi_worker: describe the cluster with --worker_hosts="
                             "host:port,... and --task_index, or the TF_CONFIG environment variable")
        cluster, task_type, task_index, rpc_layer = _parse_tf_config(environ["TF_CONFIG"])
        return tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_index, rpc_layer=rpc_layer)
    try:
        hosts = parse_worker_hosts(worker_hosts)
    except ValueError as error:
        raise ValueError(f"--worker_hosts={worker_hosts!r}: {error}") from None
    if isinstance(task_index, bool) or not isinstance(task_index, int) or not 0 <= task_index < len(hosts):
        raise ValueError(f"--task_index={task_index!r}: must be in 0-{len(hosts) - 1} "
                         "(one per --worker_hosts entry)")
    if environ.get("TF_CONFIG"):
        raise ValueError(f"--worker_hosts={worker_hosts!r}: TF_CONFIG is set too; "
                         "describe the cluster one way only")
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec({"worker": list(hosts)}), task_type="worker", task_id=task_index,
        rpc_layer="grpc")


def is_chief(strategy) -> bool:
    """Whether this process writes summaries, final logs and the checkpoints others restore."""
    return strategy.extended.should_checkpoint


def write_directory(model_dir: str, strategy) -> str:
    """Where this worker writes what every worker must save (checkpoints, the export).

    `model_dir` for the chief; for the others a temporary directory of their own under it, to
    remove after each save. Checkpoints are always restored from `model_dir`, so on several
    machines it must be a filesystem every worker sees (NFS, GCS...).
    """
    if is_chief(strategy):
        return model_dir
    resolver = strategy.cluster_resolver
    return os.path.join(model_dir, f"temporary_{resolver.task_type}{resolver.task_id}")


def remove_temporary_directory(directory: str, model_dir: str):
    """Deletes a non-chief worker's `write_directory` (nothing for the chief's `model_dir`)."""
    if directory != model_dir and tf.io.gfile.exists(directory):
        tf.io.gfile.rmtree(directory)
