"""Where a training step's time goes: TensorFlow's profiler trace, summed by op and by kind of work.

  python -m benchmarks.op_profile --workload=cifar_cnn --precision=mixed_bfloat16
  python -m benchmarks.op_profile --workload=mlp --jit_compile=false --top=20
  python -m benchmarks.op_profile --run_dir=runs/default    # a trace a run took with --profile_steps
  python -m benchmarks.op_profile --workload=byte_lm --precision=float32 --jit_compile=false

Runs tapecraft's compiled loop under `tf.profiler` for a few steps (after a warm-up), reads the
trace it writes (an XSpace protobuf) and adds up each event's *self* time, i.e. its duration
minus that of the events nested in it on the same thread. Kernels run on several threads at
once, so the self times add up to more than the wall time; their shares say what the cores spend
their time on. XLA shows up as its fused kernels (e.g. `MatMul.42`, `multiply_add_fusion`).

Like the other scripts it appends a result line to --output (benchmarks/results.py; the wall time
of the traced call as examples/s and ms/step, the self times per step by kind of work and of the
busiest ops) and draws --chart, here the milliseconds per step by kind of work.

With --run_dir it times nothing itself: it prints the same table for the newest trace a training
run took (`--profile_steps=START,END`, training/profiling.py), per step of that window.
"""

import collections
import glob
import os
import tempfile

from absl import app, flags

from benchmarks import script_flags
from core.flag_parsing import parse_flags_or_exit
from benchmarks.trace_summary import classify, read_trace, self_times, summarize, summarize_run_trace

flags.DEFINE_string("workload", "cifar_cnn", "A workload from benchmarks.workloads.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_string("precision", "auto", "float32, mixed_float16, mixed_bfloat16 or auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA: auto, true (the step), loop (the whole loop) or false.")
flags.DEFINE_integer("steps", 4, "Profiled training steps (one loop), after one untimed loop.")
flags.DEFINE_integer("top", 15, "Op types listed.")
flags.DEFINE_string("output", os.path.join(script_flags.RESULTS_DIRECTORY, "op_profile.jsonl"),
                    "JSON-lines file the profile is appended to ('' for none).")
flags.DEFINE_string("run_dir", "", "Summarize the newest profiler trace of this training run directory "
                    "(taken with --profile_steps) instead of profiling a workload; no result line.")
flags.DEFINE_string("chart", os.path.join(script_flags.RESULTS_DIRECTORY, "op_profile.png"),
                    "PNG bar chart of milliseconds per step by kind of work ('' for none).")

FLAGS = flags.FLAGS


def profile_loop(runner, steps, log_directory):
    """Traces one call of `runner` (a TapecraftRunner of `steps` steps); returns (XSpace, wall seconds)."""
    import tensorflow as tf

    compile_seconds, _ = runner.run(1)  # Compiles and warms up outside the trace.
    tf.profiler.experimental.start(log_directory)
    seconds, _ = runner.run(1)
    tf.profiler.experimental.stop()
    path = glob.glob(os.path.join(log_directory, "**", "*.xplane.pb"), recursive=True)[0]
    return read_trace(path), seconds, compile_seconds


def milliseconds_per_step(totals, steps, top):
    """({kind of work: ms/step}, {op name: ms/step} of the `top` busiest ops) from self seconds."""
    kinds = collections.Counter()
    for name, seconds in totals.items():
        kinds[classify(name)] += seconds
    by_kind = {kind: 1000 * seconds / steps for kind, seconds in kinds.most_common()}
    by_op = {name: 1000 * seconds / steps for name, seconds in totals.most_common(top)}
    return by_kind, by_op


def write_profile_chart(record, path):
    """A horizontal bar per kind of work: kernel self milliseconds per step, summed over threads."""
    import matplotlib  # Imported here: only charting needs it.

    matplotlib.use("Agg")
    from matplotlib import pyplot

    kinds = record["kernel_ms_per_step"]
    figure, axis = pyplot.subplots(figsize=(9, 1.2 + 0.4 * len(kinds)))
    axis.barh(range(len(kinds)), list(kinds.values()), color="#4c78a8")
    axis.set_yticks(list(range(len(kinds))), [kind[:60] for kind in kinds], fontsize=8)
    axis.invert_yaxis()  # Largest on top.
    axis.set_xlabel("kernel self time, ms per step (summed over threads)")
    figure.suptitle(f"{record['label']}: {record['ms_per_step']['median']:.1f} ms/step wall  "
                    f"[{record['device_name']}, TF {record['tensorflow_version']}]", fontsize=10)
    figure.tight_layout()
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def main(argv):
    script_flags.refuse_arguments_only(argv)
    script_flags.quiet_tensorflow_logs()
    if FLAGS.run_dir:
        try:
            _, lines = summarize_run_trace(FLAGS.run_dir, FLAGS.top)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
        print("\n".join(lines))
        return
    workload = script_flags.workload_or_exit(FLAGS.workload)
    from core.precision import PRECISIONS

    script_flags.choices_or_exit("precision", [FLAGS.precision], PRECISIONS)
    script_flags.choices_or_exit("jit_compile", [FLAGS.jit_compile], ("auto", "true", "loop", "false"))
    batch_size = (script_flags.integers_or_exit("batch_size", [FLAGS.batch_size], minimum=0)[0]
                  or workload.batch_size)
    steps = script_flags.integers_or_exit("steps", [FLAGS.steps], minimum=1)[0]

    import tensorflow as tf

    from benchmarks.inputs import create_iterator
    from benchmarks.report import format_header
    from benchmarks.environment import describe_environment
    from benchmarks.results import append_results, make_record
    from benchmarks.timing import Timing
    from benchmarks.runners import TapecraftRunner, build_model, describe_compilation, resolve_compilation
    from core.devices import detect_device
    from core.precision import resolve_precision

    device = detect_device()
    environment = describe_environment()
    print(format_header(environment))
    policy, precision_reason = resolve_precision(FLAGS.precision, device)
    strategy = tf.distribute.get_strategy()
    model, optimizer = build_model(workload, policy)
    jit, compile_loop, reason = resolve_compilation(FLAGS.jit_compile, device, model, workload, policy)
    runner = TapecraftRunner(model, optimizer, strategy, create_iterator("synthetic", workload, batch_size, strategy),
                             batch_size, jit, steps, compile_loop, workload=workload)
    with tempfile.TemporaryDirectory() as log_directory:
        space, seconds, compile_seconds = profile_loop(runner, steps, log_directory)
    label = f"{workload.name} b{batch_size} {policy} xla={describe_compilation(jit, compile_loop)} profiled"
    print(f"{label} ({reason}): {steps} steps in {seconds:.2f} s, {1000 * seconds / steps:.1f} ms/step wall")
    totals = self_times(space)
    print("\n".join(summarize(totals, steps, FLAGS.top)))

    by_kind, by_op = milliseconds_per_step(totals, steps, FLAGS.top)
    record = make_record(environment, Timing(compile_seconds, [seconds], [steps]), script="op_profile",
                         label=label, workload=workload.name, variant="tapecraft", batch_size=batch_size,
                         precision=policy, jit_compile=jit, steps_per_loop=steps, data="synthetic",
                         num_replicas=1, compile_loop=compile_loop, jit_reason=reason,
                         precision_reason=precision_reason, kernel_ms_per_step=by_kind, top_ops_ms_per_step=by_op,
                         **({"sequence_length": workload.tokens_per_example} if workload.is_language_model else {}))
    if FLAGS.output:
        append_results(FLAGS.output, [record])
        print(f"Appended 1 result line to {FLAGS.output}")
    if FLAGS.chart:
        write_profile_chart(record, FLAGS.chart)
        print(f"Wrote {FLAGS.chart}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
