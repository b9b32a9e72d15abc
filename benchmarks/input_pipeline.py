"""Is training input-bound? The tf.data pipeline's examples/s against the training step's.

  python -m benchmarks.input_pipeline --workload=cifar_cnn
  python -m benchmarks.input_pipeline --workload=mlp --batch_size=1024
  python -m benchmarks.input_pipeline --workload=cifar_cnn --data_service_workers=1,2
  python -m benchmarks.input_pipeline --pipeline=records --num_images=2560 --cores=2
  python -m benchmarks.input_pipeline --pipeline=records_memory --num_images=1000

Three runners take turns: the pipeline alone (batches pulled and dropped inside a compiled
loop), the step on one batch held in device memory, and the step fed by the pipeline. If the
pipeline alone is slower than the step, training is input-bound: a faster step will not help;
cache, parallelize or simplify the input instead. On a CPU the pipeline and the step share the
cores, so the third figure shows what feeding costs the step even when it keeps up.

`--data_service_workers=1,2` measures instead the trainer's input made here against the same
input made by a tf.data service of 1 and 2 workers (benchmarks/data_service_rate.py).
`--pipeline=records` times the record pipeline instead: decode + resize + augment of generated
224x224 JPEGs, from records (`--dataset=records`) and from the same files in an image folder, with
tf.data limited to `--cores` threads, and says how many such cores NVIDIA's ResNet-50 rate on one
A100 needs. `--pipeline=records_memory` trains from records of `--num_images` and of 10x as many
in two processes and reports each one's peak resident memory (it must not grow with the data).
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
flags.DEFINE_list("data_service_workers", [], "Instead of the step comparison: examples/s of train_input "
                  "made here and by a local tf.data service of each of these worker counts, e.g. 1,2.")
flags.DEFINE_enum("pipeline", "step", ["step", "records", "records_memory"], "step: the workload's pipeline "
                  "against its training step; records: the record pipeline's examples/s per core against the "
                  "image folder's; records_memory: peak memory training from 1x and 10x records.")
flags.DEFINE_integer("num_images", 2560, "records*: generated JPEGs (records_memory: the 1x size).")
flags.DEFINE_integer("jpeg_size", 224, "records*: side of the generated JPEGs and of the decoded images.")
flags.DEFINE_integer("cores", 0, "records: tf.data threads (0: every core this process may use).")
flags.DEFINE_string("work_dir", "", "records*: where the generated images and records go (reused when "
                    "present; default: a temporary directory).")
flags.DEFINE_integer("memory_steps", 100, "records_memory: training steps of each run.")
script_flags.define_timing_flags(default_steps=32, default_repeats=5)
script_flags.define_output_flags("input_pipeline")

FLAGS = flags.FLAGS


def main(argv):
    script_flags.refuse_arguments(argv)
    if FLAGS.pipeline != "step":
        from benchmarks.record_benchmarks import run_record_benchmark  # pylint: disable=import-outside-toplevel

        return run_record_benchmark(FLAGS)
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
    if FLAGS.data_service_workers:
        _measure_data_service(workload, batch_size, environment, policy)
        return
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


def _measure_data_service(workload, batch_size, environment, policy):
    """The --data_service_workers mode: train_input made here and by the service (own module)."""
    from benchmarks import report
    from benchmarks.data_service_rate import measure_service_rates

    worker_counts = script_flags.integers_or_exit("data_service_workers", FLAGS.data_service_workers, minimum=1)
    records = measure_service_rates(workload, batch_size, worker_counts, FLAGS.steps_per_loop, FLAGS.repeats,
                                    FLAGS.steps, FLAGS.warmup_calls, environment, policy)
    speedup = ("x local", lambda record: f"{record.get('speedup_of_service', 1.0):.2f}")
    print(report.format_table(records, extra_columns=(speedup,)))
    script_flags.write_outputs(records, f"{workload.name}: input made here vs by a tf.data service")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
