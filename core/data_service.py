"""The training stream made by a tf.data service (dispatcher + workers) instead of this process.

`--data_service=grpc://host:port` names a dispatcher (`python -m training.data_service_dispatcher`)
with workers (`python -m training.data_service_worker`) on this or other machines. The run sends
the graph of the task's training dataset (the per-replica batches, any nest of tensors) to the
dispatcher; the workers run it and the run reads their batches over gRPC. Validation and test
passes stay local: they are finite, in order and small next to training.

Two processing modes (`--data_service_mode`), TensorFlow's sharding policies:

- dynamic (ShardingPolicy.DYNAMIC): the dispatcher hands out the splits of the stream's source
  (a batch index of an in-memory split, a file of a record dataset) to whichever worker asks
  next. Every split is made once: exactly-once while no worker dies, at-most-once when one does
  (the batches it was making are lost; training goes on with the others; a new worker can join).
  The order of batches depends on timing. The source must be splittable (`Dataset.range`,
  `from_tensor_slices`, `list_files`...): a stream that starts from `Dataset.counter()` would be
  counted from 0 by every worker, giving each batch once per worker (`check_splittable` refuses it).
- off (ShardingPolicy.OFF): every worker makes the whole stream. With one worker the run gets
  exactly the local stream, in order; with W workers the seeded stream is made W times and each
  batch arrives W times (at-least-once, and nothing is lost while one worker lives).

A tf.data service iterator cannot be checkpointed (TensorFlow 2.21: "SaveInternal is not yet
supported"), so the position in the stream is the restored global step: mode off replays it on
the workers (`skip`, exact with one worker); mode dynamic starts a new job at the beginning of
the stream (see `DataService.resume_note`).
"""

import dataclasses
import hashlib
import os

import tensorflow as tf

from core.data.errors import DatasetError

MODES = ("dynamic", "off")
DEFAULT_PROTOCOL = "grpc"
# The dispatcher answers a version query at once; this bounds the wait for one that does not.
PROBE_TIMEOUT_SECONDS = 10.0
# The dispatcher's gRPC method behind `tf.data.experimental.service` clients' first call
# (tensorflow/core/data/service/dispatcher.proto); tests/core/test_data_service.py calls it on a
# real DispatchServer, so a rename fails there.
VERSION_METHOD = "/tensorflow.data.DispatcherService/GetVersion"


def parse_service_address(value: str) -> str:
    """The `host:port` of a `grpc://host:port` (or bare `host:port`) dispatcher address.

    Raises:
      ValueError: saying what is wrong with `value`.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("must be a dispatcher address grpc://host:port")
    protocol, separator, address = value.partition("://")
    if not separator:
        protocol, address = DEFAULT_PROTOCOL, value
    if protocol != DEFAULT_PROTOCOL:
        raise ValueError(f"protocol {protocol!r} is not supported; use grpc://host:port")
    host, colon, port = address.rpartition(":")
    if not colon or not host or "/" in address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be a dispatcher address grpc://host:port (port 1-65535)")
    return address


def check_dispatcher(address: str, timeout_seconds: float = PROBE_TIMEOUT_SECONDS):
    """Asks `address` for its tf.data service version, waiting at most `timeout_seconds`.

    A tf.data client given an address where nothing answers retries for an hour; this fails in
    seconds instead. (grpcio comes with TensorFlow.)

    Raises:
      ValueError: when no dispatcher answers there (nothing listens, or another server does).
    """
    import grpc  # pylint: disable=import-outside-toplevel

    with grpc.insecure_channel(address) as channel:
        try:
            channel.unary_unary(VERSION_METHOD)(b"", timeout=timeout_seconds)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                reason = "a server answers but it is not a tf.data service dispatcher (a worker's port?)"
            elif error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                reason = f"no answer within {timeout_seconds:g} s"
            else:
                reason = (error.details() or error.code().name).splitlines()[0][:160]
            raise ValueError(f"no tf.data service dispatcher at {address} ({reason}); start one with "
                             "python -m training.data_service_dispatcher --port=PORT") from None


@dataclasses.dataclass(frozen=True)
class DataService:
    """Where and how the training stream is made.

    Attributes:
      address: the dispatcher's host:port.
      mode: "dynamic" or "off" (module docstring).
      job_name: the job the input pipelines of a multi-worker run share.
    """

    address: str
    mode: str
    job_name: str

    def distribute(self, batches: tf.data.Dataset, skip_batches: int = 0, shared: bool = False) -> tf.data.Dataset:
        """`batches` made by the service.

        Args:
          batches: the task's per-replica batches.
          skip_batches: batches already trained on; mode off skips them, mode dynamic starts over.
          shared: several input pipelines (training workers) read the stream: they share the job
            `job_name` and take its batches first come, first served (every batch has one shape,
            so no coordinated reads are needed). Otherwise the job is the pipeline's own.
        """
        if self.mode == "dynamic":
            check_splittable(batches)
        if skip_batches and self.mode == "off":
            batches = batches.skip(skip_batches)  # Runs on the workers: the replay costs them, not us.
        policy = (tf.data.experimental.service.ShardingPolicy.DYNAMIC if self.mode == "dynamic"
                  else tf.data.experimental.service.ShardingPolicy.OFF)
        return batches.apply(tf.data.experimental.service.distribute(
            policy, f"{DEFAULT_PROTOCOL}://{self.address}", job_name=self.job_name if shared else None))

    def describe(self) -> str:
        what = ("batches split between the workers, each made once; order by timing" if self.mode == "dynamic"
                else "every worker makes the whole stream; one worker gives the local order")
        return f"Training input: tf.data service at {self.address}, mode {self.mode} ({what})"

    def resume_note(self, step: int) -> str:
        """What a resumed run does about the data position (appended to the resume log line)."""
        if self.mode == "off":
            return f"; input replayed to step {step} on the tf.data service workers"
        return ("; the tf.data service (mode dynamic) starts the training stream again from its beginning, "
                "so the data order does not resume exactly")


def check_splittable(batches: tf.data.Dataset):
    """Raises DatasetError when mode dynamic cannot split `batches` between workers.

    The dispatcher splits a stream at its sources. A stream whose every source is one element
    (`from_tensors`: `Dataset.counter()` is `from_tensors(0).repeat().scan(...)`) has nothing to
    split: each worker would run it whole from its start, making each batch once per worker,
    silently. The graph is read through public ops: `to_variant` and `DatasetToGraphV2`.
    """
    graph = tf.compat.v1.GraphDef.FromString(tf.raw_ops.DatasetToGraphV2(
        input_dataset=tf.data.experimental.to_variant(batches), strip_device_assignment=True,
        external_state_policy=tf.data.experimental.ExternalStatePolicy.IGNORE.value).numpy())
    inputs = {node.name: [entry.split(":")[0].lstrip("^") for entry in node.input] for node in graph.node}
    datasets = {node.name: node.op for node in graph.node if "Dataset" in node.op}
    sources = [op for name, op in datasets.items() if not any(entry in datasets for entry in inputs[name])]
    if sources and all(op == "TensorDataset" for op in sources):
        raise DatasetError("--data_service_mode=dynamic: the task's training stream starts from "
                           "Dataset.counter() or from_tensors(...).repeat(), which the tf.data service "
                           "cannot split: every worker would make every batch. Start it from Dataset.range "
                           "(core/data/in_memory.py does), or use --data_service_mode=off with one worker")


def create_data_service(address_flag: str, mode: str, model_dir: str, start_step: int) -> DataService | None:
    """The run's DataService, or None without `--data_service`.

    Args:
      address_flag: the --data_service value (validated by the config).
      mode: --data_service_mode.
      model_dir: the run directory, the same on every worker of a multi-worker run.
      start_step: the step training starts at, the same on every worker after a restore.
    """
    if not address_flag:
        return None
    # The same on every training worker. A resumed run, at another step, gets a new job: a job
    # name must not be reused while the dispatcher lives (a restart at the same step rejoins it).
    run = hashlib.sha1(os.path.abspath(os.path.expanduser(model_dir)).encode()).hexdigest()[:12]
    return DataService(parse_service_address(address_flag), mode, f"tapecraft-{run}-step{start_step}")
