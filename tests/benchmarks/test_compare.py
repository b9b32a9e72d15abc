"""The compare script's arithmetic: speedups and the best baseline."""

import pytest

from benchmarks.compare import best_of, speedups


def test_speedups_divide_the_reference_by_each_variant():
    medians = {"tapecraft float32": 1200.0, "keras_fit_default float32": 1000.0, "eager float32": 300.0}
    assert speedups(medians, "tapecraft float32") == pytest.approx(
        {"tapecraft float32": 1.0, "keras_fit_default float32": 1.2, "eager float32": 4.0})


def test_best_of_picks_the_fastest_listed_variant_only():
    medians = {"keras_fit_default float32": 1000.0, "keras_fit_xla float32": 900.0, "tapecraft float32": 5000.0}
    assert best_of(medians, ["keras_fit_default float32", "keras_fit_xla float32", "absent"]) == (
        "keras_fit_default float32", 1000.0)
    assert best_of(medians, []) == (None, None)
