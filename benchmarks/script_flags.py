"""Flags and flag checks the benchmark scripts share, so each bad value ends with one clear line."""

import os
import sys

from absl import flags

FLAGS = flags.FLAGS
RESULTS_DIRECTORY = os.path.join("runs", "benchmarks")


def define_timing_flags(default_steps, default_repeats):
    flags.DEFINE_integer("steps", default_steps, "Timed training steps per repeat (whole loops, rounded up).")
    flags.DEFINE_integer("repeats", default_repeats, "Timed repeats per configuration; medians are reported.")
    flags.DEFINE_integer("warmup_calls", 1, "Untimed host calls after the first (compiling) one.")


def define_output_flags(script):
    flags.DEFINE_string("output", os.path.join(RESULTS_DIRECTORY, f"{script}.jsonl"),
                        "JSON-lines file the results are appended to ('' for none).")
    flags.DEFINE_string("chart", os.path.join(RESULTS_DIRECTORY, f"{script}.png"),
                        "PNG bar chart of examples/s per configuration ('' for none).")



def quiet_tensorflow_logs():
    """Errors only from TensorFlow's Python logger.

    Every configuration owns a compiled loop, which tf.function's retracing heuristic reports
    as a warning, and strategy INFO lines would bury the table.
    """
    from absl import logging

    logging.set_verbosity(logging.ERROR)


def refuse_arguments_only(argv):
    """Exits when the command line has words that are not flags."""
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")


def refuse_arguments(argv):
    """Exits on stray arguments or a timing budget that cannot be run; quiets TensorFlow's logs."""
    refuse_arguments_only(argv)
    quiet_tensorflow_logs()
    for name in ("steps", "repeats"):
        if FLAGS[name].value < 1:
            sys.exit(f"error: --{name}={FLAGS[name].value}: must be a positive integer")
    if FLAGS.warmup_calls < 0:
        sys.exit(f"error: --warmup_calls={FLAGS.warmup_calls}: must be an integer >= 0")


def workload_or_exit(name, sequence_length=0):
    """The workload called `name`, on `sequence_length`-byte sequences when it is a language model
    and the length is not 0; exits with one line for an unknown name or a length it cannot take."""
    from benchmarks.workloads import find_workload, with_sequence_length

    try:
        workload = find_workload(name)
    except ValueError as error:
        sys.exit(f"error: --workload={name}: {error}")
    try:
        return with_sequence_length(workload, sequence_length)
    except ValueError as error:
        sys.exit(f"error: --sequence_length={sequence_length}: {error}")


def integers_or_exit(flag, values, minimum):
    numbers = []
    for value in values:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            sys.exit(f"error: --{flag}={value}: must be an integer >= {minimum}")
        numbers.append(number)
    return numbers


def choices_or_exit(flag, values, choices):
    for value in values:
        if value not in choices:
            sys.exit(f"error: --{flag}={value}: must be one of {', '.join(choices)}")


def write_outputs(records, title):
    """Appends the records to --output and draws --chart from them, saying where both went."""
    from benchmarks.chart import write_chart
    from benchmarks.results import append_results

    for path in (FLAGS.output, FLAGS.chart):
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    if FLAGS.output:
        append_results(FLAGS.output, records)
        print(f"Appended {len(records)} result lines to {FLAGS.output}")
    if FLAGS.chart:
        write_chart(records, FLAGS.chart, title)
        print(f"Wrote {FLAGS.chart}")
