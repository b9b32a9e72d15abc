"""The runners train for real, and the harness times exactly the steps it says it timed."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks.inputs import DeviceBatch, create_dataset, create_iterator, synthetic_batch
from benchmarks.runners import EagerRunner, KerasFitRunner, PipelineRunner, TapecraftRunner, build_model
from benchmarks.timing import measure_interleaved
from benchmarks.workloads import WORKLOADS, Workload, find_workload

TINY = Workload("tiny_mlp", "mlp", (4, 4, 1), 8, "tiny MLP", model_options={"hidden_units": (8,)})
TOKENS = Workload("tokens", "mlp", (6,), 4, "token ids", input_dtype="int32", vocab_size=50)


def test_every_runner_counts_only_timed_steps():
    strategy = tf.distribute.get_strategy()
    runners, optimizers = {}, {}
    model, optimizers["tapecraft"] = build_model(TINY, "float32")
    runners["tapecraft"] = TapecraftRunner(model, optimizers["tapecraft"], strategy,
                                           create_iterator("synthetic", TINY, 8, strategy), 8, False, 3)
    model, optimizers["eager"] = build_model(TINY, "float32")
    pipeline = iter(create_dataset("pipeline", TINY, 8))
    runners["eager"] = EagerRunner(model, optimizers["eager"], pipeline, 8, 3)
    model, optimizers["fit"] = build_model(TINY, "float32")
    runners["fit"] = KerasFitRunner(model, optimizers["fit"], create_dataset("synthetic", TINY, 8), False, 3)

    timings = measure_interleaved(runners, repeats=2, steps_per_repeat=6, warmup_calls=1)
    for name, timing in timings.items():
        assert timing.repeat_steps == [6, 6], name
        assert all(seconds > 0 for seconds in timing.repeat_seconds), name
    # Steps the optimizers took: compile call + warm-up call + 2 repeats x 2 calls, 3 steps each.
    assert int(optimizers["tapecraft"].iterations) == (1 + 1 + 4) * 3
    assert int(optimizers["eager"].iterations) == (1 + 1 + 4) * 3
    # fit runs one untimed execution more per call, whose end starts the clock.
    assert int(optimizers["fit"].iterations) == (2 + 2 + 2 * 3) * 3


def test_pipeline_runner_pulls_the_batches_it_reports():
    runner = PipelineRunner(create_dataset("pipeline", TINY, 8), steps_per_call=3)
    timings = measure_interleaved({"pipeline": runner}, repeats=2, steps_per_repeat=3, warmup_calls=0)
    assert timings["pipeline"].repeat_steps == [3, 3]
    assert int(runner.sync()) == (1 + 2) * 3 * 8  # Compile call + 2 repeats, 3 batches of 8 each.


def test_device_batch_hands_out_the_same_tensors():
    inputs, labels = synthetic_batch(TINY, 8)
    batch = DeviceBatch((inputs, labels), tf.distribute.get_strategy())
    first, second = next(batch), next(batch)
    assert first[0] is second[0]
    np.testing.assert_array_equal(first[0].numpy(), inputs)
    np.testing.assert_array_equal(first[1].numpy(), labels)


def test_pipeline_batches_have_the_batch_shape():
    images, labels = next(iter(create_dataset("pipeline", TINY, 8)))
    assert images.shape == (8, 4, 4, 1) and labels.shape == (8,)
    assert labels.dtype == tf.int32


def test_token_workloads_draw_ids_without_padding():
    inputs, labels = synthetic_batch(TOKENS, 64)
    assert inputs.dtype == np.int32 and inputs.shape == (64, 6)
    assert inputs.min() >= 1 and inputs.max() < 50
    assert labels.min() >= 0 and labels.max() < 10


def test_unknown_workloads_and_missing_models_are_named(monkeypatch):
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        find_workload("nope")
    assert find_workload("mlp") is WORKLOADS["mlp"]
    monkeypatch.setitem(WORKLOADS, "missing", Workload("missing", "no_such_model", (2,), 2, "missing"))
    with pytest.raises(ValueError, match="workload 'missing' needs model 'no_such_model'"):
        find_workload("missing")
