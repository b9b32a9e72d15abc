"""The same workload through tapecraft's loop, whole tapecraft runs, Keras `fit` and an eager
loop, interleaved.

  python -m benchmarks.compare --workload=cifar_cnn --precision=float32,auto
  python -m benchmarks.compare --workload=mlp --data=real --variants=tapecraft_run_on_user_model,\
      tapecraft_run,keras_fit_loop,keras_fit_xla_loop,keras_fit_xla_loop_on_train_input
  python -m benchmarks.compare --workload=byte_lm --data=real --variants=tapecraft,tapecraft_run,\
      keras_fit_loop,keras_fit_xla_loop

Variants (each with its own model and optimizer):
  tapecraft            make_train_loop(make_train_step(...)), --jit_compile resolved as training/training_phase.py does
  tapecraft_on_user_model  the same loop on the stock-Keras model a user writes
  tapecraft_run, tapecraft_run_on_user_model
                       whole `train_and_evaluate` runs (tapecraft's model, or the user's model
                       through `model_fn=`), timed between progress lines (benchmarks/real_run.py);
                       they always read train_and_evaluate's own input
  keras_fit_default    fit with Keras' defaults: jit_compile="auto" (off on CPU), 1 step per call
  keras_fit_loop       fit, no XLA, steps_per_execution=--steps_per_loop
  keras_fit_xla        fit, jit_compile=True, 1 step per call
  keras_fit_xla_loop   fit, jit_compile=True, steps_per_execution=--steps_per_loop
  keras_fit_loop_on_tapecraft_model, keras_fit_xla_loop_on_tapecraft_model
                       the two *_loop fits on tapecraft's own model and optimizer: the loop alone
  keras_fit_loop_on_train_input, keras_fit_xla_loop_on_train_input
                       the two *_loop fits fed tapecraft's input (train_input) instead
  eager                tapecraft's step in a plain Python loop, no tf.function
The other keras_fit_* variants train what a Keras user writes: keras.optimizers.Adam and the
model from stock layers (benchmarks/keras_reference.py) where the workload has one, else
tapecraft's model. --data picks what the variants read (benchmarks/inputs.py); --data=real
feeds each the way its user would: tapecraft variants train_and_evaluate's input, `fit` a Keras
user's tf.data pipeline (keras_input) from the same arrays. Every variant runs at every
--precision; the rounds go A B C ... A B C ... . With --mfu the step's FLOPs (tapecraft's step,
the same arithmetic in every variant) and the matmul peak are measured too, so each line has its
MFU. The printout ends with each tapecraft variant's speedup over the best Keras fit setting, at
the same precision and in float32.
A language-model workload (byte_lm) trains the language_model task: tapecraft's step computes
the task's loss on byte windows, `tapecraft_run` is `--task=language_model` through
train_and_evaluate, and `fit` trains the same DecoderOnlyTransformer (no stock-Keras copy) on
(inputs, targets) pairs of the same windows with SparseCategoricalCrossentropy(from_logits=True);
lines add tokens/s.
"""

import sys

from absl import app, flags

from benchmarks import script_flags
from core.flag_parsing import parse_flags_or_exit
from benchmarks.comparisons import best_of, speedups

from benchmarks.compare_variants import (ALL_VARIANTS, ON_TAPECRAFT_MODEL, ON_TRAIN_INPUT, ON_USER_MODEL,
                                       TAPECRAFT_VARIANTS, VARIANTS)

flags.DEFINE_string("workload", "cifar_cnn", "A workload from benchmarks.workloads.")
flags.DEFINE_integer("sequence_length", 0, "Language-model workloads: bytes per sequence; 0 means the workload's "
                     "default.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_list("precision", ["float32"], "Precisions every variant runs at: float32, mixed_float16, "
                  "mixed_bfloat16, auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA for tapecraft: auto (training.jit's rule), true (the step), "
                    "loop (the whole loop) or false.")
flags.DEFINE_integer("steps_per_loop", 32, "tapecraft's steps per loop; steps_per_execution of *_loop fits.")
flags.DEFINE_string("data", "synthetic", "synthetic (one batch repeated by tf.data), pipeline, train_input "
                    "(train_and_evaluate's input), keras_input (a Keras user's tf.data pipeline), the same "
                    "for every variant; or real: each variant fed as its user feeds it.")
flags.DEFINE_list("variants", list(VARIANTS), "Which of " + ", ".join(ALL_VARIANTS) + " to run.")
script_flags.define_timing_flags(default_steps=64, default_repeats=5)
script_flags.define_output_flags("compare")
flags.DEFINE_boolean("mfu", True, "Count the step's FLOPs and measure the matmul peak, for MFU.")

FLAGS = flags.FLAGS


def variant_data(variant, data):
    """The data source a variant reads under --data=`data`."""
    if variant.startswith("tapecraft_run") or variant.endswith(ON_TRAIN_INPUT):
        return "train_input"
    if data != "real":
        return data
    return "keras_input" if variant.startswith("keras_fit") else "train_input"


def create_runner(variant, workload, policy, jit_setting, device, splits):
    """(runner, facts for its result line) for one variant at one precision."""
    import tensorflow as tf

    from benchmarks.inputs import create_dataset
    from benchmarks.keras_reference import create_reference_model, has_reference
    from benchmarks.language_model_inputs import fit_pairs, train_and_evaluate_runner
    from benchmarks.real_run import TrainAndEvaluateRunner
    from benchmarks.runners import (EagerRunner, KerasFitRunner, TapecraftRunner, build_model, keras_adam,
                                    resolve_compilation, tapecraft_adam)
    from benchmarks.workloads import create_model

    strategy = tf.distribute.get_strategy()
    batch_size = FLAGS.batch_size or workload.batch_size
    data = variant_data(variant, FLAGS.data)
    on_user_model = variant.endswith(ON_USER_MODEL) and has_reference(workload)
    facts = dict(data=data, model="user" if on_user_model else "tapecraft")
    if workload.is_language_model:
        facts["sequence_length"] = workload.tokens_per_example
    if variant.startswith("tapecraft_run") and workload.is_language_model:
        runner = train_and_evaluate_runner(workload, splits, batch_size, policy, jit_setting, FLAGS.steps_per_loop)
        return runner, dict(facts, jit_compile=None, jit_reason="train_and_evaluate: --jit_compile=" + jit_setting)
    if variant.startswith("tapecraft_run"):
        factory = create_reference_model if on_user_model else create_model
        runner = TrainAndEvaluateRunner(splits, lambda num_classes: factory(workload), batch_size, policy,
                                        jit_setting, FLAGS.steps_per_loop)
        return runner, dict(facts, jit_compile=None, jit_reason="train_and_evaluate: --jit_compile="
                            + jit_setting)
    dataset = create_dataset(data, workload, batch_size, splits=splits, steps_per_loop=FLAGS.steps_per_loop)
    if variant.startswith("tapecraft"):
        model, optimizer = build_model(workload, policy,
                                       model_factory=create_reference_model if on_user_model else create_model)
        jit, compile_loop, reason = resolve_compilation(jit_setting, device, model, workload, policy)
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        runner = TapecraftRunner(model, optimizer, strategy, iterator, batch_size, jit, FLAGS.steps_per_loop,
                                 compile_loop, workload=workload)
        return runner, dict(facts, jit_compile=jit, compile_loop=compile_loop, jit_reason=reason)
    if variant == "eager":
        model, optimizer = build_model(workload, policy)
        runner = EagerRunner(model, optimizer, iter(dataset), batch_size, FLAGS.steps_per_loop, workload=workload)
        return runner, dict(facts, jit_compile=False, jit_reason="eager: no tf.function")
    # A fit user's model (where the workload has a stock-Keras one) and keras.optimizers.Adam; the
    # *_on_tapecraft_model fits get tapecraft's model and optimizer, so only the loop differs.
    on_tapecraft = variant.endswith(ON_TAPECRAFT_MODEL)
    stock = has_reference(workload) and not on_tapecraft
    model, optimizer = build_model(workload, policy, model_factory=create_reference_model if stock else create_model,
                                   optimizer_factory=tapecraft_adam if on_tapecraft else keras_adam)
    setting = variant.removesuffix(ON_TAPECRAFT_MODEL).removesuffix(ON_TRAIN_INPUT)
    jit = {"keras_fit_default": "auto", "keras_fit_loop": "auto"}.get(setting, True)
    steps = FLAGS.steps_per_loop if setting.endswith("_loop") else 1
    runner = KerasFitRunner(model, optimizer, fit_pairs(dataset) if workload.is_language_model else dataset, jit, steps)
    reason = "Keras' default" if jit == "auto" else "requested"
    return runner, dict(facts, jit_compile=runner.jit_compile, jit_reason=reason,
                        fit_setup="tapecraft" if on_tapecraft else "keras",
                        model="tapecraft" if not stock else "user")


def cpu_split(runner) -> dict:
    """{"cpu_ms_per_step": ...} for a whole-run runner when /proc gave the figures, else {}."""
    split = runner.median_cpu_ms_per_step()
    return {"cpu_ms_per_step": split} if split else {}


def print_speedups(records):
    """tapecraft over the best Keras fit setting, with a Keras user's model and optimizer and with
    tapecraft's (the loop alone), at its precision and in float32."""
    medians = {record["label"]: record["examples_per_second"]["median"] for record in records}
    for record in records:
        if record["variant"] not in TAPECRAFT_VARIANTS:
            continue
        label = record["label"]
        for setup, model in (("keras", "a Keras user's model and Adam"), ("tapecraft", "tapecraft's model and Adam")):
            fits = [r for r in records if r.get("fit_setup") == setup]
            same_precision = [r["label"] for r in fits if r["precision"] == record["precision"]]
            float32 = [r["label"] for r in fits if r["precision"] == "float32"]
            for name, candidates in (("at the same precision", same_precision), ("in float32", float32)):
                best, median = best_of(medians, candidates)
                if best:
                    print(f"{label}: {medians[label] / median:.2f}x the best Keras fit with {model} "
                          f"{name} ({best}, {median:,.0f} examples/s)")


def measure_mfu_inputs(workload, policies):
    """({policy: step FLOPs}, {label: matmul runner}) for --mfu, else empty dicts."""
    if not FLAGS.mfu:
        return {}, {}
    from benchmarks.peak import peak_runners
    from benchmarks.utilization import FlopCounter
    from core.precision import compute_dtype

    batch_size = FLAGS.batch_size or workload.batch_size
    counter = FlopCounter()
    step_flops = {policy: counter.global_step_flops(workload, policy, batch_size, 1) for policy in policies}
    return step_flops, peak_runners(sorted({compute_dtype(policy) for policy in policies}))


def main(argv):
    script_flags.refuse_arguments(argv)
    workload = script_flags.workload_or_exit(FLAGS.workload, FLAGS.sequence_length)
    from benchmarks.inputs import DATA_SOURCES
    from core.precision import PRECISIONS

    script_flags.choices_or_exit("precision", FLAGS.precision, PRECISIONS)
    script_flags.choices_or_exit("variants", FLAGS.variants, ALL_VARIANTS)
    script_flags.choices_or_exit("jit_compile", [FLAGS.jit_compile], ("auto", "true", "loop", "false"))
    script_flags.choices_or_exit("data", [FLAGS.data], DATA_SOURCES + ("real",))
    script_flags.integers_or_exit("batch_size", [FLAGS.batch_size], minimum=0)
    script_flags.integers_or_exit("steps_per_loop", [FLAGS.steps_per_loop], minimum=1)
    if workload.is_language_model and FLAGS.data == "per_example_input":
        sys.exit("error: --data=per_example_input: an image pipeline; a language model reads train_input, "
                 "keras_input, synthetic, pipeline or real")

    from benchmarks import report, results
    from benchmarks.environment import describe_environment
    from benchmarks.inputs import workload_splits
    from benchmarks.peak import best_flops_per_second
    from benchmarks.timing import measure_interleaved
    from core.devices import detect_device
    from core.precision import compute_dtype, resolve_precision

    device = detect_device()
    environment = describe_environment()
    print(report.format_header(environment))
    runners, facts = {}, {}
    splits = workload_splits(workload)  # What train_input and keras_input read; built once.
    for policy in dict.fromkeys(resolve_precision(precision, device)[0] for precision in FLAGS.precision):
        for variant in FLAGS.variants:
            label = f"{variant} {policy}"
            runner, facts[label] = create_runner(variant, workload, policy, FLAGS.jit_compile, device, splits)
            runners[label] = runner
            facts[label].update(variant=variant, precision=policy, steps_per_loop=runner.steps_per_call)
            xla = {True: "on", False: "off", None: "as the run resolves it"}[facts[label]["jit_compile"]]
            model = {"keras": ", a Keras user's model and Adam", "tapecraft": ", tapecraft's model and Adam"}.get(
                facts[label].get("fit_setup"), "")
            print(f"{label}: XLA {xla} ({facts[label]['jit_reason']}), "
                  f"{runner.steps_per_call} steps per call{model}")

    policies = list(dict.fromkeys(fact["precision"] for fact in facts.values()))
    step_flops, matmuls = measure_mfu_inputs(workload, policies)
    timings = measure_interleaved(dict(runners, **matmuls), FLAGS.repeats, FLAGS.steps, FLAGS.warmup_calls,
                                  log=print)
    peaks = best_flops_per_second(matmuls, timings)
    batch_size = FLAGS.batch_size or workload.batch_size
    records = []
    for label, runner in runners.items():
        policy = facts[label]["precision"]
        if getattr(runner, "result", None) is not None:  # A whole run: what its XLA rule chose, where the CPU went.
            facts[label]["jit_compile"] = runner.result.jit_compile
            facts[label].update(cpu_split(runner))
        records.append(results.make_record(
            environment, timings[label], script="compare", label=label, workload=workload.name,
            batch_size=batch_size, num_replicas=1, step_flops=step_flops.get(policy),
            peak_flops_per_second=peaks.get(compute_dtype(policy), (None,))[0], **facts[label]))
    medians = {record["label"]: record["examples_per_second"]["median"] for record in records}
    for record in records:
        reference = f"tapecraft {record['precision']}"
        if reference in medians:
            record["speedup_of_tapecraft"] = speedups(medians, reference)[record["label"]]
    print(report.format_table(records, extra_columns=[
        ("tapecraft is", lambda r: f"{r['speedup_of_tapecraft']:.2f}x" if "speedup_of_tapecraft" in r
         else "-")]))
    print_speedups(records)
    for record in records:
        if "cpu_ms_per_step" in record:
            print(f"{record['label']}: CPU ms per step by thread: " + ", ".join(
                f"{group} {ms:.2f}" for group, ms in record["cpu_ms_per_step"].items()))
    script_flags.write_outputs(records, f"{workload.name}: tapecraft vs Keras fit vs eager")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
