"""Is training input-bound? The tf.data pipeline's examples/s against the training step's.

  python -m benchmarks.input_pipeline --workload=cifar_cnn
  python -m benchmarks.input_pipeline --workload=mlp --batch_size=1024

Three runners take turns: the pipeline alone (batches pulled and dropped inside a compiled
loop), the step on one batch held in device memory, and the step fed by the pipeline. If the
pipeline alone is slower than the step, training is input-bound: a faster step will not help;
cache, parallelize or simplify the input instead. On a CPU the pipeline and the step share the
cores, so the third figure shows what feeding costs the step even when it keeps up.
"""

from absl import app, flags

from benchmarks import script_flags
from core.flag_parsing import parse_flags_or_exit
from benchmarks.comparisons import verdict

flags.DEFINE_string("workload", "cifar_cnn", "A workload from benchmarks.workloads.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_string("precision", "auto", "float32, mixed_float16, mixed_bfloat16 or auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA: auto (training.jit's rule), true (the step), loop (the "
                    "whole loop) or false.")
flags.DEFINE_integer("steps_per_loop", 16, "Steps (or batches) per compiled host call.")
script_flags.define_timing_flags(default_steps=32, default_repeats=5)
script_flags.define_output_flags("input_pipeline")

FLAGS = flags.FLAGS


def main(argv):
    script_flags.refuse_arguments(argv)
    workload = script_flags.workload_or_exit(FLAGS.workload)
    from core.precision import PRECISIONS

    script_flags.choices_or_exit("precision", [FLAGS.precision], PRECISIONS)
    script_flags.choices_or_exit("jit_compile", [FLAGS.jit_compile], ("auto", "true", "loop", "false"))
    batch_size = (script_flags.integers_or_exit("batch_size", [FLAGS.batch_size], minimum=0)[0]
                  or workload.batch_size)
    script_flags.integers_or_exit("steps_per_loop", [FLAGS.steps_per_loop], minimum=1)

    import tensorflow as tf

    from benchmarks import report, results
    from benchmarks.environment import describe_environment
    from benchmarks.inputs import create_dataset, create_iterator
    from benchmarks.runners import PipelineRunner, TapecraftRunner, build_model, resolve_compilation
    from benchmarks.timing import measure_interleaved
    from core.devices import detect_device
    from core.precision import resolve_precision

    device = detect_device()
    environment = describe_environment()
    print(report.format_header(environment))
    policy, _ = resolve_precision(FLAGS.precision, device)
    strategy = tf.distribute.get_strategy()
    runners, facts = {}, {}
    runners["input pipeline alone"] = PipelineRunner(create_dataset("pipeline", workload, batch_size),
                                                     FLAGS.steps_per_loop)
    facts["input pipeline alone"] = dict(variant="input_pipeline", data="pipeline", jit_compile=None)
    for data in ("synthetic", "pipeline"):
        model, optimizer = build_model(workload, policy)
        jit, compile_loop, reason = resolve_compilation(FLAGS.jit_compile, device, model, workload, policy)
        source = "one batch in device memory" if data == "synthetic" else "fed by the tf.data pipeline"
        label = f"step, {source}"
        iterator = create_iterator(data, workload, batch_size, strategy)
        runners[label] = TapecraftRunner(model, optimizer, strategy, iterator, batch_size, jit,
                                         FLAGS.steps_per_loop, compile_loop, workload=workload)
        facts[label] = dict(variant="tapecraft", data=data, jit_compile=jit, compile_loop=compile_loop,
                            jit_reason=reason)

    timings = measure_interleaved(runners, FLAGS.repeats, FLAGS.steps, FLAGS.warmup_calls, log=print)
    records = [results.make_record(environment, timings[label], script="input_pipeline", label=label,
                                   workload=workload.name, batch_size=batch_size, precision=policy,
                                   steps_per_loop=FLAGS.steps_per_loop, num_replicas=1, **facts[label])
               for label in runners]
    pipeline, step, fed = (record["examples_per_second"]["median"] for record in records)
    records[0].update(step_examples_per_second=step, input_bound=pipeline < step)
    print(report.format_table(records))
    print(verdict(pipeline, step, fed))
    script_flags.write_outputs(records, f"{workload.name}: input pipeline vs training step")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
