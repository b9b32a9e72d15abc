"""Is training input-bound? The tf.data pipeline's examples/s against the training step's.

  python -m benchmarks.input_pipeline --workload=cifar_cnn
  python -m benchmarks.input_pipeline --workload=mlp --batch_size=1024

Three runners take turns: the pipeline alone (batches pulled and dropped inside a compiled
loop), the step on one batch held in device memory, and the step fed by the pipeline. If the
pipeline alone is slower than the step, training is input-bound: a faster step will not help;
cache, parallelize or simplify the input instead. On a CPU the pipeline and the step share the
cores, so the third figure shows what feeding costs the step even when it keeps up.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Keep TensorFlow's start-up lines out of the table.

from absl import app, flags  # noqa: E402

from benchmarks import script_flags  # noqa: E402

flags.DEFINE_string("workload", "cifar_cnn", "A workload from benchmarks.workloads.")
flags.DEFINE_integer("batch_size", 0, "Global batch size; 0 means the workload's default.")
flags.DEFINE_string("precision", "auto", "float32, mixed_float16, mixed_bfloat16 or auto.")
flags.DEFINE_string("jit_compile", "auto", "XLA for the step: auto (training.jit's rule), true or false.")
flags.DEFINE_integer("steps_per_loop", 16, "Steps (or batches) per compiled host call.")
script_flags.define_timing_flags(default_steps=32, default_repeats=5)
script_flags.define_output_flags("input_pipeline")

FLAGS = flags.FLAGS


class PipelineRunner:
    """Pulls `steps_per_call` batches per call from a dataset inside a compiled loop; no training."""

    def __init__(self, dataset, steps_per_call):
        import tensorflow as tf

        self.steps_per_call = steps_per_call
        self._iterator = iter(dataset)
        self._num_steps = tf.constant(steps_per_call, tf.int32)
        self._examples = tf.Variable(0, dtype=tf.int64, trainable=False)

        @tf.function
        def drain(iterator, num_steps):
            for _ in tf.range(num_steps):
                _, labels = next(iterator)
                self._examples.assign_add(tf.size(labels, out_type=tf.int64))

        self._drain = drain

    def run(self, calls):
        from benchmarks.timing import time_calls

        seconds = time_calls(lambda: self._drain(self._iterator, self._num_steps), self._examples.numpy, calls)
        return seconds, calls * self.steps_per_call


def verdict(pipeline_rate, step_rate, fed_step_rate) -> str:
    """One sentence a user acts on, from the three medians (examples/s)."""
    change = 100.0 * (fed_step_rate / step_rate - 1.0)
    if pipeline_rate < step_rate:
        return (f"INPUT-BOUND: the pipeline delivers {pipeline_rate:,.0f} examples/s, {step_rate / pipeline_rate:.2f}x "
                f"slower than the step consumes them ({step_rate:,.0f}/s); speed up the input first.")
    return (f"not input-bound: the pipeline delivers {pipeline_rate:,.0f} examples/s, {pipeline_rate / step_rate:.2f}x "
            f"what the step consumes ({step_rate:,.0f}/s); fed by it, the step ran at {fed_step_rate:,.0f}/s "
            f"({change:+.0f}%).")


def main(argv):
    script_flags.refuse_arguments(argv)
    workload = script_flags.workload_or_exit(FLAGS.workload)
    from core.precision import PRECISIONS

    script_flags.choices_or_exit("precision", [FLAGS.precision], PRECISIONS)
    script_flags.choices_or_exit("jit_compile", [FLAGS.jit_compile], ("auto", "true", "false"))
    batch_size = (script_flags.integers_or_exit("batch_size", [FLAGS.batch_size], minimum=0)[0]
                  or workload.batch_size)
    script_flags.integers_or_exit("steps_per_loop", [FLAGS.steps_per_loop], minimum=1)

    import tensorflow as tf

    from benchmarks import report, results
    from benchmarks.environment import describe_environment
    from benchmarks.inputs import create_dataset, create_iterator
    from benchmarks.runners import TapecraftRunner, build_model
    from benchmarks.timing import measure_interleaved
    from core.devices import detect_device
    from core.precision import compute_dtype, resolve_precision
    from training.jit import resolve_jit_compile

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
        jit, reason = resolve_jit_compile(FLAGS.jit_compile, device, model, workload.input_shape, compute_dtype(policy))
        label = f"step, {'one batch in device memory' if data == 'synthetic' else 'fed by the tf.data pipeline'}"
        runners[label] = TapecraftRunner(model, optimizer, strategy, create_iterator(data, workload, batch_size, strategy),
                                         batch_size, jit, FLAGS.steps_per_loop)
        facts[label] = dict(variant="tapecraft", data=data, jit_compile=jit, jit_reason=reason)

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
    app.run(main, flags_parser=script_flags.parse_flags_or_exit)
