"""Where time goes in a profiler trace: self time per op, and per kind of work.

`tf.profiler` writes an XSpace protobuf: planes (the host, each device) of lines (threads) of
timed events (an op kernel, an XLA kernel, the executor processing a node...). Events on a
thread nest like a call stack, so an event's *self* time is its duration minus that of the
events directly inside it. `benchmarks.op_profile` takes its own trace, or reads one a training run
took with `--profile_steps` (`summarize_run_trace`).
"""

import collections

# Events of the executor and of XLA's launches: their self time is overhead, not compute.
RUNTIME_EVENTS = ("Process", "Start", "Execute", "ExecuteAsyncOnStream", "Run", "EagerExecute",
                  "EagerKernelExecute", "FunctionRun")
# A thread waiting for another (the launching thread while XLA's kernels run): idle, not counted.
WAIT_EVENTS = ("BlockUntilReady", "Await")


def classify(op_name: str) -> str:
    """The kind of work an op (TensorFlow op type or XLA kernel name) does."""
    if op_name in RUNTIME_EVENTS:
        return "runtime (executor, XLA launches)"
    if op_name == "ParallelFor":  # A kernel's work handed to the thread pool; the kernel is not named.
        return "kernels' work on pool threads (op not named in the trace)"
    if "Conv2DBackpropFilter" in op_name:
        return "convolution: filter gradient"
    if "Conv2DBackpropInput" in op_name:
        return "convolution: input gradient"
    if "Conv" in op_name or op_name.startswith("convolution"):
        return "convolution: forward"
    if "MatMul" in op_name or "Einsum" in op_name or op_name.startswith("dot"):
        return "matmul"
    if "Pool" in op_name or "reduce-window" in op_name or "select-and-scatter" in op_name:
        return "pooling"
    return "elementwise and reductions (normalization, activations, optimizer, loss)"


def self_times(space, thread_prefixes=("tf_Compute", "tf_numa", "tf_XLA")) -> collections.Counter:
    """{op name: self time in seconds} over the compute threads of an XSpace.

    An event's self time is its duration minus the durations of the events directly inside it
    on the same thread (a thread's events nest like a call stack). Waits are left out.
    """
    totals = collections.Counter()
    for plane in space.planes:
        names = {key: metadata.name for key, metadata in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith(thread_prefixes):
                continue
            enclosing = []  # [end, name, duration, time of direct children], outermost first; in ps.
            for event in sorted(line.events, key=lambda event: (event.offset_ps, -event.duration_ps)):
                while enclosing and enclosing[-1][0] <= event.offset_ps:
                    _add_self_time(enclosing.pop(), totals)
                if enclosing:
                    enclosing[-1][3] += event.duration_ps
                name = names[event.metadata_id].split(":")[-1]  # "scope/name:OpType" -> OpType.
                enclosing.append([event.offset_ps + event.duration_ps, name, event.duration_ps, 0])
            while enclosing:
                _add_self_time(enclosing.pop(), totals)
    return totals


def _add_self_time(event, totals):
    _, name, duration, children = event
    if name not in WAIT_EVENTS:
        totals[name] += max(duration - children, 0) / 1e12


def summarize(totals, steps, top):
    """Lines of a table: milliseconds per step by kind of work, then the `top` op names.

    Args:
      totals: {op name: self seconds} over `steps` training steps.
      steps: training steps the trace covers.
      top: op names listed.
    """
    total = sum(totals.values()) or 1.0
    busiest = sorted(totals.items(), key=lambda item: -item[1])
    kinds = collections.Counter()
    for name, seconds in totals.items():
        kinds[classify(name)] += seconds

    def row(name, seconds):
        return f"{name[:72]:<72} {1000 * seconds / steps:9.2f} {100 * seconds / total:6.1f}%"

    header = f"{{:<72}} {'ms/step':>9} {'share':>7}"
    return ([header.format("kind of work")] + [row(kind, seconds) for kind, seconds in kinds.most_common()]
            + ["", header.format("op")] + [row(name, seconds) for name, seconds in busiest[:top]])


def read_trace(path):
    """The XSpace protobuf of a `*.xplane.pb` file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(path, "rb") as trace:
        space.ParseFromString(trace.read())
    return space


def summarize_run_trace(run_directory, top):
    """(trace path, table lines) of the newest trace a training run took, per step of its window.

    Raises:
      ValueError: naming --run_dir when it holds no trace or no window to count steps by.
    """
    from core.run_config_store import read_run_config
    from training.profiling import parse_profile_steps, trace_files

    traces = trace_files(run_directory)
    if not traces:
        raise ValueError(f"--run_dir={run_directory}: holds no profiler trace (plugins/profile/*/*.xplane.pb); "
                         "train with --profile_steps=START,END first")
    stored = read_run_config(run_directory) or {}
    try:
        start, end = parse_profile_steps(stored.get("profile_steps", ""), stored.get("train_steps", 0))
    except (TypeError, ValueError):
        raise ValueError(f"--run_dir={run_directory}: its run_config.json names no --profile_steps window to "
                         "count steps by") from None
    steps = end - start + 1
    table = summarize(self_times(read_trace(traces[-1])), steps, top)
    return traces[-1], [f"{traces[-1]}: steps {start}..{end}"] + table
