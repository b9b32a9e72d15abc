"""Time tapecraft's training step, and whole training runs: examples/s, ms/step, compile time, MFU.

  python -m benchmarks.throughput --workload=cifar_cnn --precision=float32,mixed_bfloat16
  python -m benchmarks.throughput --workload=mlp --jit_compile=true,false --steps_per_loop=1,32
  python -m benchmarks.throughput --workload=resnet20 --data=synthetic,pipeline --num_replicas=2
  python -m benchmarks.throughput --workload=mlp --data=synthetic,train_input \
      --timed=step,train_and_evaluate --fail_below=0.85     # the real path's regression guard
  python -m benchmarks.throughput --workload=byte_lm --sequence_length=256,1024 --jit_compile=auto,true,loop,false

List flags take comma-separated values; every combination is one configuration. All are built
and compiled first, then timed in turns (A B C A B C ...) so load from other processes is shared
fairly. `--timed=step` times the step the trainer runs: training.step.make_train_step inside
training.loop.make_train_loop, with --jit_compile=auto resolved by training.jit as in training.
`--timed=train_and_evaluate` times whole `train_and_evaluate` runs between progress lines
(benchmarks/real_run.py), which read their own input (`--data=train_input` only); the script
then prints each run's examples/s over the step alone (the same configuration on synthetic
data), and with --fail_below exits with status 1 when a ratio is lower.
Language-model workloads (byte_lm, byte_lm_tiny) train the language_model task's step on byte
windows and report tokens/s beside examples (sequences)/s; `--timed=train_and_evaluate` runs
`--task=language_model` on the workload's corpus.
"""

import itertools
import sys

from absl import app, flags

from benchmarks import script_flags
from core.flag_parsing import parse_flags_or_exit

flags.DEFINE_list("workload", ["cifar_cnn"], "Workloads from benchmarks.workloads: mlp, cifar_cnn, resnet20, "
                  "resnet50, transformer, byte_lm, byte_lm_tiny.")
flags.DEFINE_list("sequence_length", ["0"], "Language-model workloads: bytes per sequence; 0 means the workload's "
                  "default.")
flags.DEFINE_list("batch_size", ["0"], "Global batch sizes; 0 means the workload's default.")
flags.DEFINE_list("precision", ["auto"], "float32, mixed_float16, mixed_bfloat16 or auto (for the device).")
flags.DEFINE_list("jit_compile", ["auto"], "XLA: auto (training.jit's rule), true (the step), loop (the "
                  "whole loop) or false.")
flags.DEFINE_list("steps_per_loop", ["16"], "Training steps per compiled host call.")
flags.DEFINE_list("data", ["synthetic"], "synthetic (one batch held in device memory), pipeline, train_input "
                  "(train_and_evaluate's input), keras_input or per_example_input; see benchmarks/inputs.py.")
flags.DEFINE_list("timed", ["step"], "step (the compiled loop) and/or train_and_evaluate (whole runs, timed "
                  "between progress lines; with --data=train_input only).")
flags.DEFINE_float("fail_below", 0.0, "Exit with status 1 when a train_and_evaluate run's examples/s is below "
                   "this fraction of the step alone's (0: never).")
flags.DEFINE_integer("num_replicas", 1, "Replicas (MirroredStrategy over GPUs, or logical CPU devices).")
script_flags.define_timing_flags(default_steps=32, default_repeats=5)
script_flags.define_output_flags("throughput")
flags.DEFINE_boolean("mfu", True, "Count the step's FLOPs and measure the matmul peak, for MFU.")

FLAGS = flags.FLAGS


def configurations():
    """Every combination of the list flags, validated; exits with one line naming a bad value."""
    from benchmarks.inputs import DATA_SOURCES
    from core.precision import PRECISIONS

    lengths = script_flags.integers_or_exit("sequence_length", FLAGS.sequence_length, minimum=0)
    workloads = [script_flags.workload_or_exit(name, length) for name in FLAGS.workload for length in lengths]
    workloads = list({(workload.name, workload.input_shape): workload for workload in workloads}.values())
    batch_sizes = script_flags.integers_or_exit("batch_size", FLAGS.batch_size, minimum=0)
    loops = script_flags.integers_or_exit("steps_per_loop", FLAGS.steps_per_loop, minimum=1)
    script_flags.choices_or_exit("precision", FLAGS.precision, PRECISIONS)
    script_flags.choices_or_exit("jit_compile", FLAGS.jit_compile, ("auto", "true", "loop", "false"))
    script_flags.choices_or_exit("data", FLAGS.data, DATA_SOURCES)
    if any(workload.is_language_model for workload in workloads) and "per_example_input" in FLAGS.data:
        sys.exit("error: --data=per_example_input: an image pipeline; a language model reads synthetic, pipeline "
                 "or train_input")
    if FLAGS.num_replicas < 1:
        sys.exit(f"error: --num_replicas={FLAGS.num_replicas}: must be a positive integer")
    script_flags.choices_or_exit("timed", FLAGS.timed, ("step", "train_and_evaluate"))
    if "train_and_evaluate" in FLAGS.timed and FLAGS.num_replicas > 1:
        sys.exit("error: --timed=train_and_evaluate: runs are timed on one replica; use --num_replicas=1")
    if "train_and_evaluate" in FLAGS.timed and "train_input" not in FLAGS.data:
        sys.exit("error: --timed=train_and_evaluate: a run reads its own input; add train_input to --data")
    found = []
    for workload, batch, precision, jit, loop, data, timed in itertools.product(
            workloads, batch_sizes, FLAGS.precision, FLAGS.jit_compile, loops, FLAGS.data, FLAGS.timed):
        batch = batch or workload.batch_size
        if batch % FLAGS.num_replicas:
            sys.exit(f"error: --batch_size={batch}: must divide evenly over "
                     f"--num_replicas={FLAGS.num_replicas}")
        if timed == "train_and_evaluate" and data != "train_input":
            continue  # A run reads train_and_evaluate's input, nothing else.
        found.append(dict(workload=workload, batch_size=batch, precision=precision, jit_compile=jit,
                          steps_per_loop=loop, data=data, timed=timed))
    return found


def build_runner(config, strategy, device):
    """The TapecraftRunner for one configuration, and the facts its result line records."""
    from benchmarks.inputs import create_iterator, workload_splits
    from benchmarks.language_model_inputs import train_and_evaluate_runner
    from benchmarks.real_run import TrainAndEvaluateRunner
    from benchmarks.runners import TapecraftRunner, build_model, describe_compilation, resolve_compilation
    from benchmarks.workloads import create_model
    from core import precision as precision_lib

    workload = config["workload"]
    policy, precision_reason = precision_lib.resolve_precision(config["precision"], device)
    model, optimizer = build_model(workload, policy, strategy)
    jit_compile, compile_loop, jit_reason = resolve_compilation(
        config["jit_compile"], device, model, workload, policy, strategy.num_replicas_in_sync)
    if config["jit_compile"] == "loop" and not compile_loop:
        sys.exit("error: --jit_compile=loop: the whole loop compiles for one replica only; "
                 "use --num_replicas=1")
    if jit_compile and strategy.num_replicas_in_sync > 1 and device.kind == "cpu":
        # XLA compiles each replica's step for CPU:0 and cannot reach variables on CPU:1.
        if config["jit_compile"] == "true":
            sys.exit("error: --jit_compile=true: XLA cannot run a step over several logical CPU devices; "
                     "use --jit_compile=false or --num_replicas=1")
        jit_compile, jit_reason = False, "XLA cannot run a step over several logical CPU devices"
    splits = None if config["data"] in ("synthetic", "pipeline") else _loaded_splits(workload, workload_splits)
    if config["timed"] == "train_and_evaluate" and workload.is_language_model:
        # `--task=language_model` runs: the task's model, input and XLA rule.
        runner = train_and_evaluate_runner(workload, splits, config["batch_size"], config["precision"],
                                           config["jit_compile"], config["steps_per_loop"])
    elif config["timed"] == "train_and_evaluate":
        # The run builds its own model (the same class) under the same rules; this one is unused.
        runner = TrainAndEvaluateRunner(splits, lambda num_classes: create_model(workload),
                                        config["batch_size"], config["precision"], config["jit_compile"],
                                        config["steps_per_loop"])
    else:
        iterator = create_iterator(config["data"], workload, config["batch_size"], strategy,
                                   steps_per_loop=config["steps_per_loop"], splits=splits)
        runner = TapecraftRunner(model, optimizer, strategy, iterator, config["batch_size"], jit_compile,
                                 config["steps_per_loop"], compile_loop, workload=workload)
    replicas = f" x{FLAGS.num_replicas} replicas" if FLAGS.num_replicas > 1 else ""
    xla = describe_compilation(jit_compile, compile_loop)
    run = " train_and_evaluate" if config["timed"] == "train_and_evaluate" else ""
    length = f" T{workload.tokens_per_example}" if workload.is_language_model else ""
    label = (f"{workload.name}{length} b{config['batch_size']} {policy} xla={xla} {config['steps_per_loop']}/call "
             f"{config['data']}{replicas}{run}")
    facts = dict(workload=workload.name, variant="tapecraft", batch_size=config["batch_size"],
                 precision=policy, jit_compile=jit_compile, steps_per_loop=config["steps_per_loop"],
                 data=config["data"], num_replicas=FLAGS.num_replicas, compile_loop=compile_loop,
                 jit_reason=jit_reason, precision_reason=precision_reason, timed=config["timed"])
    if workload.is_language_model:
        facts["sequence_length"] = workload.tokens_per_example
    return label, runner, facts


_SPLITS = {}


def _loaded_splits(workload, load):
    """The workload's data (a corpus, or arrays), loaded once per script however many configurations read it."""
    key = (workload.name, workload.dataset)
    if key not in _SPLITS:
        _SPLITS[key] = load(workload)
    return _SPLITS[key]


def main(argv):
    script_flags.refuse_arguments(argv)
    found = configurations()

    import tensorflow as tf

    from benchmarks import report, results
    from benchmarks.environment import describe_environment
    from benchmarks.timing import measure_interleaved
    from benchmarks.peak import best_flops_per_second, peak_runners
    from benchmarks.utilization import FlopCounter
    from core.precision import compute_dtype
    from core.devices import detect_device
    from core.distribution import configure_logical_cpus, create_strategy

    # Replicas first: splitting the CPU into logical devices must precede any TensorFlow op.
    if FLAGS.num_replicas > 1 and not tf.config.list_physical_devices("GPU"):
        configure_logical_cpus(FLAGS.num_replicas)
    strategy = create_strategy("mirrored" if FLAGS.num_replicas > 1 else "default", FLAGS.num_replicas)
    device = detect_device()
    environment = describe_environment()
    print(report.format_header(environment))

    built = {}
    for config in found:
        label, runner, facts = build_runner(config, strategy, device)
        if label in built:  # E.g. --jit_compile=auto,false resolving alike: keep both, told apart.
            label += f" (--jit_compile={config['jit_compile']})"
        built[label] = (runner, facts, config["workload"])
        print(f"{label}: {facts['jit_reason']}; precision: {facts['precision_reason']}")

    flop_counter = FlopCounter()
    step_flops = {label: flop_counter.global_step_flops(workload, facts["precision"], facts["batch_size"],
                                                        FLAGS.num_replicas) if FLAGS.mfu else None
                  for label, (_, facts, workload) in built.items()}
    dtypes = {compute_dtype(facts["precision"]) for _, facts, _ in built.values()}
    matmuls = peak_runners(sorted(dtypes) if FLAGS.mfu else [])

    runners = {label: runner for label, (runner, _, _) in built.items()}
    timings = measure_interleaved(dict(runners, **matmuls), FLAGS.repeats, FLAGS.steps, FLAGS.warmup_calls,
                                  log=print)
    peaks = best_flops_per_second(matmuls, timings)
    for dtype, (rate, label) in peaks.items():
        print(f"peak {dtype}: {rate / 1e9:,.1f} GFLOP/s ({label})")

    records = []
    for label, (runner, facts, _) in built.items():
        peak = peaks.get(compute_dtype(facts["precision"]), (None, None))[0]
        split = runner.median_cpu_ms_per_step() if facts["timed"] == "train_and_evaluate" else None
        records.append(results.make_record(environment, timings[label], script="throughput", label=label,
                                           step_flops=step_flops[label], peak_flops_per_second=peak, **facts,
                                           **({"cpu_ms_per_step": split} if split else {})))
    from benchmarks.real_run import real_path_ratios  # pylint: disable=import-outside-toplevel

    ratios = real_path_ratios(records)
    print(report.format_table(records))
    for label, ratio in ratios.items():
        print(f"{label}: {ratio:.2f}x the step alone")
    for record in records:
        if "cpu_ms_per_step" in record:
            print(f"{record['label']}: CPU ms per step by thread: " + ", ".join(
                f"{group} {ms:.2f}" for group, ms in record["cpu_ms_per_step"].items()))
    script_flags.write_outputs(records, "tapecraft training step throughput")
    if FLAGS.fail_below and any(ratio < FLAGS.fail_below for ratio in ratios.values()):
        sys.exit(f"error: a train_and_evaluate run is below --fail_below={FLAGS.fail_below} of the step alone")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
