"""Examples/s of the training input made by a tf.data service with 1, 2, ... workers, against the
same input made in the reading process: `python -m benchmarks.input_pipeline --data_service_workers=1,2`.

Each worker count gets its own dispatcher and workers, started in this process on free ports
(TensorFlow's servers, as `training.data_service_*` start them): the figures show what the
service costs on one machine (serialization, gRPC over loopback, one dispatcher request per
split) and whether a second worker adds throughput when one worker's pipeline leaves cores idle.
Workers on other machines add their own cores on top; that needs a cluster, not this script.

The input is `make_dataset()`, any dataset of (inputs, labels) batches: input_pipeline passes
`train_input`, what `train_and_evaluate` reads, through the mode a run uses by default (dynamic).
Each runner drains batches inside a compiled loop (benchmarks.runners.PipelineRunner), as the
training loop reads them; the runners take turns (benchmarks.timing.measure_interleaved). While
one runner is timed the others' workers fill their buffers (a few batches each), which the next
repeat then reads at once: time enough steps per repeat (hundreds) that those few do not count.
"""

import contextlib

from benchmarks.runners import PipelineRunner
from core.data_service import DataService
from core.data_service_servers import start_dispatcher, start_worker

LOCAL_LABEL = "{data} made here"
SERVICE_LABEL = "{data} via tf.data service, {workers} worker{plural} ({mode})"


def runner_label(data: str, workers: int, mode: str = "dynamic") -> str:
    """The table's name for `data` made here (workers=0) or by a service of `workers` workers."""
    if not workers:
        return LOCAL_LABEL.format(data=data)
    return SERVICE_LABEL.format(data=data, workers=workers, plural="" if workers == 1 else "s", mode=mode)


@contextlib.contextmanager
def service_runners(make_dataset, data: str, worker_counts, steps_per_call: int, mode: str = "dynamic"):
    """Yields ({label: PipelineRunner}, {label: result fields}): `make_dataset()` made here, then by
    a service of each worker count. The servers stop when the context exits.

    Args:
      make_dataset: () -> tf.data.Dataset of endless (inputs, labels) batches.
      data: the input's name for the labels (e.g. "train_input").
      worker_counts: e.g. (1, 2); each gets a dispatcher and that many workers of its own.
      steps_per_call: batches drained per compiled call.
      mode: the service's processing mode, "dynamic" or "off" (core/data_service.py).
    """
    servers = []
    try:
        runners = {runner_label(data, 0): PipelineRunner(make_dataset(), steps_per_call)}
        facts = {runner_label(data, 0): dict(data_service_workers=0)}
        for count in worker_counts:
            dispatcher = start_dispatcher(0)
            servers.append(dispatcher)
            address = dispatcher.target.split("://", 1)[1]
            servers.extend(start_worker(address, 0, "localhost") for _ in range(count))
            service = DataService(address, mode, job_name=f"benchmark-{count}")
            label = runner_label(data, count, mode)
            runners[label] = PipelineRunner(service.distribute(make_dataset()), steps_per_call)
            facts[label] = dict(data_service_workers=count, data_service_mode=mode)
        yield runners, facts
    finally:
        for server in reversed(servers):
            server.stop()


def measure_service_rates(workload, batch_size: int, worker_counts, steps_per_loop: int, repeats: int,
                          steps: int, warmup_calls: int, environment: dict, precision: str, log=print) -> list:
    """Result lines (benchmarks/results.py) of `train_input` made here and by each service size.

    Each line's `speedup_of_service` is its median examples/s over the local one's.
    """
    # pylint: disable=import-outside-toplevel
    from benchmarks import results
    from benchmarks.inputs import create_dataset, workload_splits
    from benchmarks.timing import measure_interleaved

    splits = workload_splits(workload)  # Loaded once; every runner reads the same arrays.

    def make_dataset():
        return create_dataset("train_input", workload, batch_size, splits=splits, steps_per_loop=steps_per_loop)

    with service_runners(make_dataset, "train_input", worker_counts, steps_per_loop) as (runners, facts):
        timings = measure_interleaved(runners, repeats, steps, warmup_calls, log=log)
    records = [results.make_record(environment, timings[label], script="input_pipeline", label=label,
                                   workload=workload.name, variant="input_pipeline", batch_size=batch_size,
                                   precision=precision, jit_compile=None, steps_per_loop=steps_per_loop,
                                   data="train_input", num_replicas=1, **facts[label])
               for label in runners]
    local = records[0]["examples_per_second"]["median"]
    for record in records[1:]:
        record["speedup_of_service"] = record["examples_per_second"]["median"] / local
    return records
