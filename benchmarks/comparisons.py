"""Arithmetic on measured medians: speedups, the best baseline, and whether input bounds the step."""


def speedups(medians: dict, reference: str) -> dict:
    """{label: medians[reference] / medians[label]}: how many times faster `reference` ran."""
    return {label: medians[reference] / median for label, median in medians.items()}


def best_of(medians: dict, labels) -> tuple:
    """(label, median) of the fastest of `labels`, or (None, None) when there are none."""
    candidates = [(medians[label], label) for label in labels if label in medians]
    if not candidates:
        return None, None
    median, label = max(candidates)
    return label, median


def verdict(pipeline_rate, step_rate, fed_step_rate) -> str:
    """One sentence a user acts on, from the three medians (examples/s)."""
    change = 100.0 * (fed_step_rate / step_rate - 1.0)
    if pipeline_rate < step_rate:
        return (f"INPUT-BOUND: the pipeline delivers {pipeline_rate:,.0f} examples/s, "
                f"{step_rate / pipeline_rate:.2f}x slower than the step consumes them ({step_rate:,.0f}/s); "
                f"speed up the input first.")
    return (f"not input-bound: the pipeline delivers {pipeline_rate:,.0f} examples/s, "
            f"{pipeline_rate / step_rate:.2f}x what the step consumes ({step_rate:,.0f}/s); "
            f"fed by it, the step ran at {fed_step_rate:,.0f}/s ({change:+.0f}%).")
