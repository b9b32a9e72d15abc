"""What rematerialization changes, from remat_cost's result lines (flag-free: the tests import it
beside training.train, whose absl flags would collide with the script's)."""


def remat_effects(records) -> list:
    """[(sequence_length, memory saved as a fraction, time per step with / without)] per length
    measured both ways, from the records' peak_memory_bytes and median ms/step."""
    by_length = {}
    for record in records:
        by_length.setdefault(record["sequence_length"], {})[record["remat"]] = record
    effects = []
    for length, pair in sorted(by_length.items()):
        if True in pair and False in pair:
            plain, remat = pair[False], pair[True]
            peak, remat_peak = plain["peak_memory_bytes"], remat["peak_memory_bytes"]
            saved = 1.0 - remat_peak / peak if peak else None
            effects.append((length, saved, remat["ms_per_step"]["median"] / plain["ms_per_step"]["median"]))
    return effects
