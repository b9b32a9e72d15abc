"""What `--remat` saves and costs: the training step's peak memory and its speed, with and without.

  python -m benchmarks.remat_cost --workload=byte_lm --sequence_length=256,1024 --batch_size=16

For every sequence length the language model's step runs twice, once plain and once with
`remat=True` (DecoderOnlyTransformer recomputes each block's activations in the backward pass,
layers/rematerialization.py), both on one batch held in device memory, interleaved as in
benchmarks/timing.py. Peak memory is the device allocator's own count
(`tf.config.experimental.get_memory_info`; on CPU TensorFlow's CPU allocator): its statistics
are reset before every timed call, and the line records the largest rise over the bytes in use
before the call (activations, gradients and temporaries of the steps; the weights, the optimizer's
slots and the batch were allocated before). oneDNN's scratch buffers and XLA's compiler are not
in that count. The printout ends with remat's saving and cost per length: peak memory saved (1 -
with / without) and time per step (with / without).
"""

import dataclasses
import sys

from absl import app, flags

from benchmarks import script_flags
from benchmarks.remat_effects import remat_effects
from core.flag_parsing import parse_flags_or_exit

flags.DEFINE_string("workload", "byte_lm", "A language-model workload from benchmarks.workloads (byte_lm, "
                    "byte_lm_tiny).")
flags.DEFINE_list("sequence_length", ["256", "1024"], "Bytes per sequence; each length is measured with and "
                  "without remat.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_string("precision", "float32", "float32, mixed_float16, mixed_bfloat16 or auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA: auto (training.jit's rule), true, loop or false.")
flags.DEFINE_integer("steps_per_loop", 4, "Training steps per compiled host call.")
script_flags.define_timing_flags(default_steps=8, default_repeats=3)
script_flags.define_output_flags("remat_cost")

FLAGS = flags.FLAGS


class PeakMemoryRunner:
    """Wraps a runner (timing.py) and records, per call of `run`, the allocator's peak rise.

    Args:
      runner: what is timed.
      device: the device whose allocator is read, e.g. "CPU:0" or "GPU:0".
    """

    def __init__(self, runner, device):
        self.runner = runner
        self.device = device
        self.steps_per_call = runner.steps_per_call
        self.peaks = []  # Bytes, one per run() call.

    def run(self, calls):
        import tensorflow as tf  # pylint: disable=import-outside-toplevel

        tf.config.experimental.reset_memory_stats(self.device)
        before = tf.config.experimental.get_memory_info(self.device)["current"]
        result = self.runner.run(calls)
        self.peaks.append(tf.config.experimental.get_memory_info(self.device)["peak"] - before)
        return result


def build_variant(workload, batch_size, policy, remat, device, strategy):
    """(label, PeakMemoryRunner, facts) for the step of `workload` with or without remat."""
    # pylint: disable=import-outside-toplevel
    from benchmarks.inputs import create_iterator
    from benchmarks.runners import TapecraftRunner, build_model, describe_compilation, resolve_compilation

    variant = dataclasses.replace(workload, model_options=dict(workload.model_options, remat=remat))
    model, optimizer = build_model(variant, policy, strategy)
    jit_compile, compile_loop, reason = resolve_compilation(FLAGS.jit_compile, device, model, variant, policy)
    iterator = create_iterator("synthetic", variant, batch_size, strategy)
    runner = TapecraftRunner(model, optimizer, strategy, iterator, batch_size, jit_compile, FLAGS.steps_per_loop,
                             compile_loop, workload=variant)
    allocator = "GPU:0" if device.kind == "gpu" else "CPU:0"
    length = workload.tokens_per_example
    label = (f"{workload.name} T{length} b{batch_size} {policy} xla={describe_compilation(jit_compile, compile_loop)} "
             f"remat={'on' if remat else 'off'}")
    facts = dict(workload=workload.name, variant="tapecraft", batch_size=batch_size, precision=policy,
                 jit_compile=jit_compile, compile_loop=compile_loop, jit_reason=reason,
                 steps_per_loop=FLAGS.steps_per_loop, data="synthetic", num_replicas=1, sequence_length=length,
                 remat=remat)
    return label, PeakMemoryRunner(runner, allocator), facts


def main(argv):
    script_flags.refuse_arguments(argv)
    lengths = script_flags.integers_or_exit("sequence_length", FLAGS.sequence_length, minimum=2)
    workloads = [script_flags.workload_or_exit(FLAGS.workload, length) for length in dict.fromkeys(lengths)]
    if not workloads[0].is_language_model:
        sys.exit(f"error: --workload={FLAGS.workload}: remat applies to the language models (byte_lm, byte_lm_tiny)")
    from core.precision import PRECISIONS  # pylint: disable=import-outside-toplevel

    script_flags.choices_or_exit("precision", [FLAGS.precision], PRECISIONS)
    script_flags.choices_or_exit("jit_compile", [FLAGS.jit_compile], ("auto", "true", "loop", "false"))
    script_flags.integers_or_exit("batch_size", [FLAGS.batch_size], minimum=0)
    script_flags.integers_or_exit("steps_per_loop", [FLAGS.steps_per_loop], minimum=1)

    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from benchmarks import report, results  # pylint: disable=import-outside-toplevel
    from benchmarks.environment import describe_environment  # pylint: disable=import-outside-toplevel
    from benchmarks.timing import measure_interleaved  # pylint: disable=import-outside-toplevel
    from core.devices import detect_device  # pylint: disable=import-outside-toplevel
    from core.precision import resolve_precision  # pylint: disable=import-outside-toplevel

    device = detect_device()
    policy, _ = resolve_precision(FLAGS.precision, device)
    environment = describe_environment()
    print(report.format_header(environment))
    strategy = tf.distribute.get_strategy()
    built = {}
    for workload in workloads:
        batch_size = FLAGS.batch_size or workload.batch_size
        for remat in (False, True):
            label, runner, facts = build_variant(workload, batch_size, policy, remat, device, strategy)
            built[label] = (runner, facts)
            print(f"{label}: XLA {facts['jit_reason']}")
    timings = measure_interleaved({label: runner for label, (runner, _) in built.items()}, FLAGS.repeats,
                                  FLAGS.steps, FLAGS.warmup_calls, log=print)
    records = []
    for label, (runner, facts) in built.items():
        timed_peaks = runner.peaks[-FLAGS.repeats:]  # The timed calls come last, one per repeat.
        records.append(results.make_record(environment, timings[label], script="remat_cost", label=label,
                                           peak_memory_bytes=int(max(timed_peaks)), **facts))
    print(report.format_table(records, extra_columns=[
        ("peak MB", lambda record: f"{record['peak_memory_bytes'] / 2**20:,.1f}")]))
    for length, saved, slowdown in remat_effects(records):
        memory = "no rise of the allocator measured" if saved is None else f"{100 * saved:.0f}% less peak memory"
        print(f"T={length}: remat gives {memory} at {slowdown:.2f}x the time per step")
    script_flags.write_outputs(records, "remat: time and peak memory of the language model's step")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
