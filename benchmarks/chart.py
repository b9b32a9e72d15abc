"""A bar chart of examples/s per configuration, from result lines, for the README.

  python -m benchmarks.chart --results=benchmarks/results/compare.jsonl --output=benchmarks/compare.png

Bars are medians; the whiskers span the fastest and slowest repeat. Lines of different
workloads go in separate panels, since their scales differ by orders of magnitude.
"""

import os

from absl import app, flags

def write_chart(records, path: str, title: str = ""):
    """Draws one horizontal bar per record, grouped by workload, and saves a PNG to `path`.

    Raises:
      ValueError: when there are no records.
    """
    if not records:
        raise ValueError("no result lines to chart")
    import matplotlib  # Imported here: only charting needs it.

    matplotlib.use("Agg")  # Files only; no display on a server.
    from matplotlib import pyplot

    workloads = list(dict.fromkeys(record["workload"] for record in records))
    heights = [sum(record["workload"] == workload for record in records) for workload in workloads]
    figure, axes = pyplot.subplots(len(workloads), 1, squeeze=False, height_ratios=heights,
                                   figsize=(9, 1.2 + 0.45 * len(records) + 0.6 * len(workloads)))
    for axis, workload in zip(axes[:, 0], workloads):
        rows = [record for record in records if record["workload"] == workload]
        medians = [row["examples_per_second"]["median"] for row in rows]
        whiskers = [[m - row["examples_per_second"]["min"] for m, row in zip(medians, rows)],
                    [row["examples_per_second"]["max"] - m for m, row in zip(medians, rows)]]
        positions = range(len(rows))
        axis.barh(positions, medians, xerr=whiskers, color="#4c78a8", ecolor="#333333", capsize=3)
        axis.set_yticks(list(positions), [row["label"] for row in rows], fontsize=8)
        axis.invert_yaxis()  # First configuration on top, as in the table.
        for position, median, row in zip(positions, medians, rows):  # The median, right of the whisker.
            axis.text(row["examples_per_second"]["max"], position, f"  {median:,.0f}", va="center",
                      fontsize=8)
        axis.set_title(workload, fontsize=9, loc="left")
        axis.set_xlim(0, max(row["examples_per_second"]["max"] for row in rows) * 1.25)
    axes[-1, 0].set_xlabel("examples / second (median; whiskers: min-max over repeats)")
    first = records[0]
    machine = f"[{first['device_name']}, TF {first['tensorflow_version']}]"
    figure.suptitle(f"{title}  {machine}".strip(), fontsize=10)
    figure.tight_layout()
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def main(argv):
    del argv
    from benchmarks.results import read_results

    if not flags.FLAGS.results or not flags.FLAGS.output:
        raise app.UsageError("--results and --output are required")
    write_chart(read_results(flags.FLAGS.results), flags.FLAGS.output, flags.FLAGS.title)
    print(f"Wrote {flags.FLAGS.output}")


def define_flags():
    """Flags of the script only: the scripts that import write_chart have their own."""
    flags.DEFINE_string("results", None, "A .jsonl file written by a benchmarks script.")
    flags.DEFINE_string("output", None, "PNG file to write.")
    flags.DEFINE_string("title", "", "Chart title; the device and TensorFlow version are added.")


if __name__ == "__main__":
    define_flags()
    app.run(main)
