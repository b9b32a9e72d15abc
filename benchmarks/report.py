"""The human-readable side of result lines: a header naming the machine and an aligned table."""


def format_header(environment: dict) -> str:
    """Device, core count, versions and load: what a reader needs before trusting a number."""
    device = f"{environment['device_kind']} ({environment['device_name']}, x{environment['device_count']})"
    return (f"Device: {device}; "
            f"CPU {environment['cpu_model']}, {environment['cpu_cores']} cores, "
            f"bfloat16 instructions: {'yes' if environment['cpu_bfloat16'] else 'no'}\n"
            f"TensorFlow {environment['tensorflow_version']}, Keras {environment['keras_version']}, "
            f"Python {environment['python_version']}; load average {environment['load_average']} at start; "
            f"{environment['date']}")


def format_table(records, extra_columns=()) -> str:
    """One row per record: examples/s median (min-max), ms/step, compile time, GFLOP/step, MFU.

    Args:
      records: result lines (see results.py).
      extra_columns: (title, function record -> str) pairs appended to each row.
    """
    columns = [
        ("configuration", lambda r: r["label"]),
        ("examples/s median (min-max)", lambda r: _spread(r["examples_per_second"], "{:,.0f}")),
        ("ms/step", lambda r: f"{r['ms_per_step']['median']:.2f}"),
        ("compile s", lambda r: "-" if r["compile_seconds"] is None else f"{r['compile_seconds']:.1f}"),
        ("GFLOP/step", lambda r: "-" if r["step_flops"] is None else f"{r['step_flops'] / 1e9:.3g}"),
        ("MFU", lambda r: "-" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"),
    ] + list(extra_columns)
    if any("tokens_per_second" in record for record in records):  # Language models: tokens count.
        columns.insert(2, ("tokens/s median", lambda r: f"{r['tokens_per_second']['median']:,.0f}"
                           if "tokens_per_second" in r else "-"))
    rows = [[title for title, _ in columns]] + [[cell(record) for _, cell in columns] for record in records]
    widths = [max(len(row[index]) for row in rows) for index in range(len(columns))]
    lines = ["  ".join(text.ljust(width) if index == 0 else text.rjust(width)
                       for index, (text, width) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _spread(spread, number_format):
    median, low, high = (number_format.format(spread[key]) for key in ("median", "min", "max"))
    return f"{median} ({low}-{high})"
