"""The scripts' arithmetic: speedups, the best baseline, the input-bound verdict."""

import pytest

from benchmarks.comparisons import best_of, speedups, verdict


def test_speedups_divide_the_reference_by_each_variant():
    medians = {"tapecraft float32": 1200.0, "keras_fit_default float32": 1000.0, "eager float32": 300.0}
    assert speedups(medians, "tapecraft float32") == pytest.approx(
        {"tapecraft float32": 1.0, "keras_fit_default float32": 1.2, "eager float32": 4.0})


def test_best_of_picks_the_fastest_listed_variant_only():
    medians = {"keras_fit_default float32": 1000.0, "keras_fit_xla float32": 900.0,
               "tapecraft float32": 5000.0}
    assert best_of(medians, ["keras_fit_default float32", "keras_fit_xla float32", "absent"]) == (
        "keras_fit_default float32", 1000.0)
    assert best_of(medians, []) == (None, None)


def test_input_pipeline_verdict_names_the_bottleneck():
    assert verdict(pipeline_rate=500.0, step_rate=1000.0, fed_step_rate=480.0).startswith(
        "INPUT-BOUND: the pipeline delivers 500 examples/s, 2.00x slower")
    sentence = verdict(pipeline_rate=4000.0, step_rate=1000.0, fed_step_rate=900.0)
    assert sentence.startswith("not input-bound") and "4.00x" in sentence and "(-10%)" in sentence
