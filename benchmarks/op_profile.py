"""Where a training step's time goes: TensorFlow's profiler trace, summed by op and by kind of work.

  python -m benchmarks.op_profile --workload=cifar_cnn --precision=mixed_bfloat16
  python -m benchmarks.op_profile --workload=mlp --jit_compile=false --top=20

Runs tapecraft's compiled loop under `tf.profiler` for a few steps (after a warm-up), reads the
trace it writes (an XSpace protobuf) and adds up each event's *self* time, i.e. its duration
minus that of the events nested in it on the same thread. Kernels run on several threads at
once, so the self times add up to more than the wall time; their shares say what the cores spend
their time on. XLA shows up as its fused kernels (e.g. `MatMul.42`, `multiply_add_fusion`).
"""

import glob
import os
import tempfile

from absl import app, flags

from benchmarks import script_flags
from core.flag_parsing import parse_flags_or_exit
from benchmarks.trace_summary import self_times, summarize

flags.DEFINE_string("workload", "cifar_cnn", "A workload from benchmarks.workloads.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_string("precision", "auto", "float32, mixed_float16, mixed_bfloat16 or auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA: auto, true (the step), loop (the whole loop) or false.")
flags.DEFINE_integer("steps", 4, "Profiled training steps (one loop), after one untimed loop.")
flags.DEFINE_integer("top", 15, "Op types listed.")

FLAGS = flags.FLAGS

def profile_loop(runner, steps, log_directory):
    """Traces one call of `runner` (a TapecraftRunner of `steps` steps); returns (XSpace, wall seconds)."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    runner.run(1)  # Compiles and warms up outside the trace.
    tf.profiler.experimental.start(log_directory)
    seconds, _ = runner.run(1)
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    path = glob.glob(os.path.join(log_directory, "**", "*.xplane.pb"), recursive=True)[0]
    with open(path, "rb") as trace:
        space.ParseFromString(trace.read())
    return space, seconds


def main(argv):
    script_flags.refuse_arguments_only(argv)
    script_flags.quiet_tensorflow_logs()
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
    from benchmarks.runners import TapecraftRunner, build_model, describe_compilation, resolve_compilation
    from core.devices import detect_device
    from core.precision import resolve_precision

    device = detect_device()
    print(format_header(describe_environment()))
    policy, _ = resolve_precision(FLAGS.precision, device)
    strategy = tf.distribute.get_strategy()
    model, optimizer = build_model(workload, policy)
    jit, compile_loop, reason = resolve_compilation(FLAGS.jit_compile, device, model, workload, policy)
    runner = TapecraftRunner(model, optimizer, strategy, create_iterator("synthetic", workload, batch_size, strategy),
                             batch_size, jit, steps, compile_loop)
    with tempfile.TemporaryDirectory() as log_directory:
        space, seconds = profile_loop(runner, steps, log_directory)
    print(f"{workload.name} b{batch_size} {policy}, XLA {describe_compilation(jit, compile_loop)} ({reason}): "
          f"{steps} steps in {seconds:.2f} s, {1000 * seconds / steps:.1f} ms/step wall")
    print("\n".join(summarize(self_times(space), steps, FLAGS.top)))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
