"""Result lines: one JSON object per measured configuration, appended to a .jsonl file.

The schema below is the documentation: every field, its type and its meaning. A "spread" is
{"median": x, "min": x, "max": x} over the timed repeats. Fields from
`benchmarks.environment.describe_environment` (device, versions, command, date) are in every
line, so a line read on its own says where and how it was measured.
"""

import json
import numbers

SCHEMA_VERSION = 1

SPREAD = "spread"
_NUMBER = (numbers.Real,)
_OPTIONAL_NUMBER = (numbers.Real, type(None))

# field -> (allowed types, meaning)
RESULT_SCHEMA = {
    "schema_version": ((int,), "format version of this line (SCHEMA_VERSION)"),
    "script": ((str,), "throughput, compare, input_pipeline, op_profile, source_trees or remat_cost"),
    "label": ((str,), "the configuration as the table and chart name it"),
    "workload": ((str,), "benchmarks.workloads name, e.g. cifar_cnn"),
    "variant": ((str,), "what ran: tapecraft, keras_fit_*, eager, or input_pipeline"),
    "batch_size": ((int,), "global examples per step"),
    "precision": ((str,), "the Keras dtype policy the model computed in"),
    "jit_compile": ((bool, type(None)), "XLA for the step (None: not applicable)"),
    "steps_per_loop": ((int,), "training steps per host call (steps_per_execution for fit)"),
    "data": ((str,), "synthetic (one batch in device memory), pipeline, train_input (train_and_evaluate's "
             "input), keras_input (a Keras user's tf.data pipeline) or per_example_input (a map call per example); "
             "benchmarks/inputs.py; records or image_folder (benchmarks/record_pipeline.py)"),
    "num_replicas": ((int,), "replicas the global batch is split over"),
    "examples_per_second": ((dict,), SPREAD + " of examples per second"),
    "ms_per_step": ((dict,), SPREAD + " of milliseconds per training step"),
    "compile_seconds": (_OPTIONAL_NUMBER, "first call: tracing, compilation and one execution"),
    "repeats": ((int,), "timed repeats"),
    "steps_per_repeat": ((int,), "training steps in each timed repeat"),
    "step_flops": (_OPTIONAL_NUMBER, "FLOPs of one global step from its XLA HLO (None: unavailable)"),
    "peak_flops_per_second": (_OPTIONAL_NUMBER, "fastest matmul measured at the policy's dtype"),
    "mfu": (_OPTIONAL_NUMBER, "median achieved FLOP/s divided by peak_flops_per_second"),
    "device_kind": ((str,), "cpu, gpu or tpu"),
    "device_name": ((str,), "GPU name, or the CPU model"),
    "device_count": ((int,), "devices of that kind"),
    "cpu_model": ((str,), "host CPU model"),
    "cpu_cores": ((int,), "logical CPU cores"),
    "cpu_bfloat16": ((bool,), "native bfloat16 instructions (AVX512_BF16/AMX)"),
    "tensorflow_version": ((str,), "tf.__version__"),
    "keras_version": ((str,), "keras.__version__"),
    "python_version": ((str,), "platform.python_version()"),
    "command": ((str,), "the command line that produced the line"),
    "date": ((str,), "UTC time the run started, ISO 8601"),
    "load_average": (_OPTIONAL_NUMBER, "1-minute load average when the run started"),
}

# Present only in some lines.
OPTIONAL_FIELDS = {
    "compile_loop": ((bool,), "tapecraft: XLA compiled the whole loop, not only the step"),
    "jit_reason": ((str,), "why --jit_compile=auto chose what it chose"),
    "precision_reason": ((str,), "why --precision=auto chose the policy"),
    "speedup_of_tapecraft": (_NUMBER, "compare: tapecraft's median examples/s over this variant's"),
    "step_examples_per_second": (_NUMBER, "input_pipeline: the step's median examples/s on synthetic data"),
    "input_bound": ((bool,), "input_pipeline: the pipeline is slower than the step"),
    "model": ((str,), "compare: whose model trained: tapecraft (its registered model) or user (the stock-Keras "
              "model of benchmarks/keras_reference.py)"),
    "timed": ((str,), "throughput: step (the compiled loop) or train_and_evaluate (a whole run between "
              "progress lines)"),
    "step_alone_examples_per_second": (_NUMBER, "throughput: median of the same configuration's step on "
                                       "synthetic data"),
    "source_tree": ((str,), "source_trees: the tree (--trees name, and its commit) the line measured; its "
                    "spreads are over processes, one per round"),
    "cpu_ms_per_step": ((dict,), "train_and_evaluate runs: median CPU ms per step by thread: main (host loop), "
                        "tf_Compute (tf.data and the graph executor), compute (oneDNN/Eigen/XLA pools)"),
    "fit_setup": ((str,), "compare, fit variants: keras (keras.optimizers.Adam, stock-layer model where "
                  "benchmarks/keras_reference.py has one) or tapecraft (tapecraft's model and Adam)"),
    "kernel_ms_per_step": ((dict,), "op_profile: {kind of work: self milliseconds per step}, summed over "
                           "threads (can exceed the wall time); the spreads are the traced call's wall time"),
    "top_ops_ms_per_step": ((dict,), "op_profile: {op name: self milliseconds per step} of the busiest ops"),
    "data_service_workers": ((int,), "input_pipeline --data_service_workers: tf.data service workers that made "
                             "the batches (0: the reading process made them)"),
    "data_service_mode": ((str,), "input_pipeline --data_service_workers: the service's processing mode"),
    "speedup_of_service": (_NUMBER, "input_pipeline --data_service_workers: median examples/s over the "
                           "locally made input's"),
    "tf_data_threads": ((int,), "input_pipeline --pipeline=records: threads tf.data was given (the cores used)"),
    "examples_per_second_per_core": (_NUMBER, "input_pipeline --pipeline=records: median examples/s over "
                                     "tf_data_threads"),
    "cores_for_resnet50_a100": ((int,), "input_pipeline --pipeline=records: cores of this kind that feed "
                                "NVIDIA's 2,375 images/s (ResNet-50, one A100, AMP + XLA)"),
    "dataset_examples": ((int,), "input_pipeline --pipeline=records_memory: training examples in the records"),
    "peak_rss_mb": (_NUMBER, "input_pipeline --pipeline=records_memory: peak resident memory of the training "
                    "process, MB"),
    "sequence_length": ((int,), "language-model workloads: tokens (bytes) per example, T"),
    "tokens_per_second": ((dict,), SPREAD + " of tokens per second: examples_per_second x sequence_length"),
    "remat": ((bool,), "remat_cost: the transformer blocks' activations were recomputed in the backward pass"),
    "peak_memory_bytes": ((int,), "remat_cost: the largest rise of the device allocator's bytes in use during "
                          "a timed call over what was allocated before it (activations, gradients, temporaries)"),
}


def validate_result(record: dict):
    """Raises ValueError listing every missing, mistyped or unknown field of a result line."""
    problems = []
    for field, (types, _) in RESULT_SCHEMA.items():
        if field not in record:
            problems.append(f"missing {field}")
        elif not _has_type(record[field], types):
            problems.append(f"{field}={record[field]!r} is not {' or '.join(t.__name__ for t in types)}")
    for field, value in record.items():
        if field in OPTIONAL_FIELDS:
            if not _has_type(value, OPTIONAL_FIELDS[field][0]):
                problems.append(f"{field}={value!r} has the wrong type")
        elif field not in RESULT_SCHEMA:
            problems.append(f"unknown field {field}")
    for field in ("examples_per_second", "ms_per_step"):
        spread = record.get(field)
        if isinstance(spread, dict) and not (set(spread) == {"median", "min", "max"}
                                             and spread["min"] <= spread["median"] <= spread["max"]):
            problems.append(f"{field} must be {{median, min, max}} with min <= median <= max")
    if problems:
        raise ValueError("invalid result line: " + "; ".join(problems))


def _has_type(value, types):
    if isinstance(value, bool) and bool not in types:
        return False  # bool is an int subclass; a flag is not a count.
    return isinstance(value, types)


def append_results(path: str, records):
    """Validates each record and appends it to `path` as one JSON line."""
    with open(path, "a", encoding="utf-8") as output:
        for record in records:
            validate_result(record)
            output.write(json.dumps(record, sort_keys=True) + "\n")


def read_results(path: str) -> list:
    """The records of a .jsonl file, in order."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def make_record(environment: dict, timing, *, script, label, workload, variant, batch_size, precision,
                jit_compile, steps_per_loop, data, num_replicas, step_flops=None, peak_flops_per_second=None,
                **optional) -> dict:
    """One result line from a Timing (benchmarks.timing) and the configuration it measured.

    `optional` takes fields of OPTIONAL_FIELDS. MFU uses the median steps per second. With
    `sequence_length` the line gets `tokens_per_second` too.
    """
    summary = timing.summary(batch_size)
    if "sequence_length" in optional:
        optional["tokens_per_second"] = {key: value * optional["sequence_length"]
                                         for key, value in summary["examples_per_second"].items()}
    mfu = None
    if step_flops and peak_flops_per_second:
        mfu = step_flops * summary["steps_per_second_median"] / peak_flops_per_second
    record = dict(
        environment, schema_version=SCHEMA_VERSION, script=script, label=label, workload=workload,
        variant=variant, batch_size=batch_size, precision=precision, jit_compile=jit_compile,
        steps_per_loop=steps_per_loop, data=data, num_replicas=num_replicas,
        examples_per_second=summary["examples_per_second"], ms_per_step=summary["ms_per_step"],
        compile_seconds=summary["compile_seconds"], repeats=summary["repeats"],
        steps_per_repeat=summary["steps_per_repeat"], step_flops=step_flops,
        peak_flops_per_second=peak_flops_per_second, mfu=mfu, **optional)
    validate_result(record)
    return record
