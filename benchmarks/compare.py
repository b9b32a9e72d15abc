"""The same model and data through tapecraft's loop, Keras `fit` and an eager loop, interleaved.

  python -m benchmarks.compare --workload=cifar_cnn --precision=float32,auto
  python -m benchmarks.compare --workload=mlp --batch_size=256 --repeats=9

Variants (each with its own model and optimizer; all read identically built tf.data pipelines):
  tapecraft            make_train_loop(make_train_step(...)), --jit_compile resolved as train_lib does
  keras_fit_default    fit with Keras' defaults: jit_compile="auto" (off on CPU), 1 step per call
  keras_fit_loop       fit, no XLA, steps_per_execution=--steps_per_loop
  keras_fit_xla        fit, jit_compile=True, 1 step per call
  keras_fit_xla_loop   fit, jit_compile=True, steps_per_execution=--steps_per_loop
  eager                tapecraft's step in a plain Python loop, no tf.function
Every variant runs at every --precision; the rounds go A B C ... A B C ... . The printout ends
with tapecraft's speedup over the best Keras fit setting, at the same precision and in float32.
"""

from absl import app, flags

from benchmarks import script_flags
from benchmarks.comparisons import best_of, speedups

VARIANTS = ("tapecraft", "keras_fit_default", "keras_fit_loop", "keras_fit_xla", "keras_fit_xla_loop",
            "eager")

flags.DEFINE_string("workload", "cifar_cnn", "A workload from benchmarks.workloads.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_list("precision", ["float32"], "Precisions every variant runs at: float32, mixed_float16, "
                  "mixed_bfloat16, auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA for tapecraft: auto (training.jit's rule), true (the step), "
                    "loop (the whole loop) or false.")
flags.DEFINE_integer("steps_per_loop", 32, "tapecraft's steps per loop; steps_per_execution of *_loop fits.")
flags.DEFINE_string("data", "synthetic", "synthetic (one batch repeated by tf.data) or pipeline (the "
                    "trainer's tf.data pipeline); the same for every variant.")
flags.DEFINE_list("variants", list(VARIANTS), "Which of " + ", ".join(VARIANTS) + " to run.")
script_flags.define_timing_flags(default_steps=64, default_repeats=5)
script_flags.define_output_flags("compare")

FLAGS = flags.FLAGS


def create_runner(variant, workload, policy, jit_setting, device):
    """(runner, facts for its result line) for one variant at one precision."""
    import tensorflow as tf

    from benchmarks.inputs import create_dataset
    from benchmarks.runners import (EagerRunner, KerasFitRunner, TapecraftRunner, build_model,
                                    resolve_compilation)

    strategy = tf.distribute.get_strategy()
    batch_size = FLAGS.batch_size or workload.batch_size
    dataset = create_dataset(FLAGS.data, workload, batch_size)
    model, optimizer = build_model(workload, policy)
    if variant == "tapecraft":
        jit, compile_loop, reason = resolve_compilation(jit_setting, device, model, workload, policy)
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        runner = TapecraftRunner(model, optimizer, strategy, iterator, batch_size, jit, FLAGS.steps_per_loop,
                                 compile_loop)
        return runner, dict(jit_compile=jit, compile_loop=compile_loop, jit_reason=reason)
    if variant == "eager":
        runner = EagerRunner(model, optimizer, iter(dataset), batch_size, FLAGS.steps_per_loop)
        return runner, dict(jit_compile=False, jit_reason="eager: no tf.function")
    jit = {"keras_fit_default": "auto", "keras_fit_loop": "auto"}.get(variant, True)
    steps = FLAGS.steps_per_loop if variant.endswith("_loop") else 1
    runner = KerasFitRunner(model, optimizer, dataset, jit, steps)
    reason = "Keras' default" if jit == "auto" else "requested"
    return runner, dict(jit_compile=runner.jit_compile, jit_reason=reason)


def print_speedups(records):
    """tapecraft over every variant at its precision, then over the best Keras fit settings."""
    medians = {record["label"]: record["examples_per_second"]["median"] for record in records}
    fits = [record["label"] for record in records if record["variant"].startswith("keras_fit")]
    float32_fits = [record["label"] for record in records
                    if record["variant"].startswith("keras_fit") and record["precision"] == "float32"]
    for record in records:
        if record["variant"] != "tapecraft":
            continue
        label = record["label"]
        same_precision = [fit for fit in fits if fit.endswith(f" {record['precision']}")]
        for name, candidates in (("at the same precision", same_precision), ("in float32", float32_fits)):
            best, median = best_of(medians, candidates)
            if best:
                print(f"{label}: {medians[label] / median:.2f}x the best Keras fit {name} ({best}, "
                      f"{median:,.0f} examples/s)")


def main(argv):
    script_flags.refuse_arguments(argv)
    workload = script_flags.workload_or_exit(FLAGS.workload)
    from benchmarks.inputs import DATA_SOURCES
    from core.precision import PRECISIONS

    script_flags.choices_or_exit("precision", FLAGS.precision, PRECISIONS)
    script_flags.choices_or_exit("variants", FLAGS.variants, VARIANTS)
    script_flags.choices_or_exit("jit_compile", [FLAGS.jit_compile], ("auto", "true", "loop", "false"))
    script_flags.choices_or_exit("data", [FLAGS.data], DATA_SOURCES)
    script_flags.integers_or_exit("batch_size", [FLAGS.batch_size], minimum=0)
    script_flags.integers_or_exit("steps_per_loop", [FLAGS.steps_per_loop], minimum=1)

    from benchmarks import report, results
    from benchmarks.environment import describe_environment
    from benchmarks.timing import measure_interleaved
    from core.devices import detect_device
    from core.precision import resolve_precision

    device = detect_device()
    environment = describe_environment()
    print(report.format_header(environment))
    runners, facts = {}, {}
    for policy in dict.fromkeys(resolve_precision(precision, device)[0] for precision in FLAGS.precision):
        for variant in FLAGS.variants:
            label = f"{variant} {policy}"
            runner, facts[label] = create_runner(variant, workload, policy, FLAGS.jit_compile, device)
            runners[label] = runner
            facts[label].update(variant=variant, precision=policy, steps_per_loop=runner.steps_per_call)
            xla = "on" if facts[label]["jit_compile"] else "off"
            print(f"{label}: XLA {xla} ({facts[label]['jit_reason']}), "
                  f"{runner.steps_per_call} steps per call")

    timings = measure_interleaved(runners, FLAGS.repeats, FLAGS.steps, FLAGS.warmup_calls, log=print)
    batch_size = FLAGS.batch_size or workload.batch_size
    records = [results.make_record(environment, timings[label], script="compare", label=label,
                                   workload=workload.name, batch_size=batch_size, data=FLAGS.data,
                                   num_replicas=1, **facts[label]) for label in runners]
    medians = {record["label"]: record["examples_per_second"]["median"] for record in records}
    for record in records:
        reference = f"tapecraft {record['precision']}"
        if reference in medians:
            record["speedup_of_tapecraft"] = speedups(medians, reference)[record["label"]]
    print(report.format_table(records, extra_columns=[
        ("tapecraft is", lambda r: f"{r['speedup_of_tapecraft']:.2f}x" if "speedup_of_tapecraft" in r
         else "-")]))
    print_speedups(records)
    script_flags.write_outputs(records, f"{workload.name}: tapecraft vs Keras fit vs eager")


if __name__ == "__main__":
    app.run(main, flags_parser=script_flags.parse_flags_or_exit)
