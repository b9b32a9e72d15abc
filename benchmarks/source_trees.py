"""The same benchmark on several source trees, in turns: did a change cost speed?

  python -m benchmarks.source_trees --trees=before=/tmp/old-checkout,after=. --rounds=3 \
      --benchmark="--workload=mlp --data=train_input --timed=train_and_evaluate --steps=64 --repeats=3 --nomfu"

Each round runs `python -m benchmarks.throughput BENCHMARK` once in every tree (a checkout of
another commit, e.g. `git worktree add /tmp/old-checkout COMMIT`), in its own process with that
tree's code, trees taking turns so that load from elsewhere hits each alike. Each process's median
examples/s is one round's figure; the result lines give, per tree and configuration, the median,
min and max over the rounds, all with this run's date, so their ratio is a same-run ratio.
"""

import os
import subprocess
import sys
import tempfile

from absl import app, flags

from benchmarks import script_flags
from core.flag_parsing import parse_flags_or_exit

flags.DEFINE_list("trees", None, "name=directory of each source tree, e.g. before=/tmp/old,after=.")
flags.DEFINE_integer("rounds", 3, "Processes per tree; the figures are medians over them.")
flags.DEFINE_string("benchmark", "--workload=mlp --data=train_input --timed=train_and_evaluate --nomfu",
                    "Flags for benchmarks.throughput, the same in every tree.")
script_flags.define_output_flags("source_trees")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    trees = {}
    for entry in FLAGS.trees or []:
        name, _, directory = entry.partition("=")
        if not name or not os.path.isfile(os.path.join(directory, "benchmarks", "throughput.py")):
            sys.exit(f"error: --trees entry {entry!r}: must be name=directory of a tapecraft checkout")
        trees[name] = os.path.abspath(directory)
    if len(trees) < 2:
        sys.exit("error: --trees: give at least two name=directory entries to compare")
    if FLAGS.rounds < 1:
        sys.exit(f"error: --rounds={FLAGS.rounds}: must be at least 1")

    from benchmarks import results  # pylint: disable=import-outside-toplevel
    from benchmarks.environment import describe_environment  # pylint: disable=import-outside-toplevel

    environment = describe_environment()
    rounds = {name: [] for name in trees}  # name -> [the result lines of one process, ...]
    for round_index in range(FLAGS.rounds):
        for name, directory in trees.items():
            rounds[name].append(_run_throughput(directory, FLAGS.benchmark.split()))
            print(f"round {round_index + 1}/{FLAGS.rounds}, {name}: " + ", ".join(
                f"{line['label']} {line['examples_per_second']['median']:,.0f} examples/s" for line in rounds[name][-1]))

    records = []
    for name, directory in trees.items():
        revision = _revision(directory)
        records += [_combined(environment, name, revision, lines) for lines in _by_label(rounds[name])]
    for record in records:
        print(f"{record['label']}: median {record['examples_per_second']['median']:,.0f} examples/s "
              f"({record['examples_per_second']['min']:,.0f}-{record['examples_per_second']['max']:,.0f})")
    if FLAGS.output:
        os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
        results.append_results(FLAGS.output, records)


def _run_throughput(directory, benchmark_flags):
    """The result lines of one `benchmarks.throughput` process run with `directory`'s code."""
    from benchmarks import results  # pylint: disable=import-outside-toplevel

    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "lines.jsonl")
        env = dict(os.environ, PYTHONPATH=directory)
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.throughput", *benchmark_flags, f"--output={output}", "--chart="],
            cwd=directory, env=env, capture_output=True, text=True, check=False)
        if completed.returncode != 0 or not os.path.exists(output):
            sys.exit(f"error: benchmarks.throughput failed in {directory}: "
                     f"{(completed.stderr.strip().splitlines() or ['no output'])[-1]}")
        return results.read_results(output)


def _by_label(processes):
    """[[the lines of one configuration, one per process], ...] from [[the lines of one process], ...]."""
    labels = [line["label"] for line in processes[0]]
    return [[next(line for line in lines if line["label"] == label) for lines in processes] for label in labels]


def _combined(environment, name, revision, lines):
    """One result line for a tree and configuration: the spread of the processes' medians."""
    medians = sorted(line["examples_per_second"]["median"] for line in lines)
    milliseconds = sorted(1000.0 * lines[0]["batch_size"] / rate for rate in medians)
    middle = len(medians) // 2

    def spread(values):  # The lower median of an even count: a figure that was measured.
        return {"median": values[middle if len(values) % 2 else middle - 1], "min": values[0], "max": values[-1]}

    record = {key: value for key, value in lines[0].items() if key not in ("cpu_ms_per_step",)}
    record.update(environment, script="source_trees", label=f"{name}: {lines[0]['label']}", examples_per_second=spread(medians),
                  ms_per_step=spread(milliseconds), repeats=len(lines), source_tree=f"{name} ({revision})")
    record["mfu"] = None
    return record


def _revision(directory):
    """The tree's commit, with "+changes" when its tracked files differ from it."""
    def git(*arguments):
        return subprocess.run(["git", "-C", directory, *arguments], capture_output=True, text=True,
                              check=False).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
