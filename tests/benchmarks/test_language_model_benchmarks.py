"""The language model in the benchmarks: its workload, what each variant reads, that `fit` and
tapecraft's step minimize the same loss, whole runs through the task, and remat's cost script."""

import dataclasses
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import language_model_inputs
from benchmarks.inputs import create_dataset, create_iterator
from benchmarks.remat_effects import remat_effects
from benchmarks.results import validate_result
from benchmarks.runners import KerasFitRunner, TapecraftRunner, build_model, keras_adam, workload_task
from benchmarks.workloads import find_workload, synthetic_examples, with_sequence_length
from core.data.byte_windows import training_windows
from core.data.text_splits import TextSplits
from layers.models.decoder_only_transformer import DecoderOnlyTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# byte_lm_tiny on 8-byte windows, one block of width 16: what costs seconds to compile.
TINY = dataclasses.replace(with_sequence_length(find_workload("byte_lm_tiny"), 8),
                           model_options={"width": 16, "depth": 1, "num_heads": 2})


def _corpus():
    """A few kilobytes of text as TextSplits: what the stdlib corpus is, without reading it."""
    rng = np.random.RandomState(3)
    text = lambda size: rng.randint(32, 127, size).astype(np.uint8)  # noqa: E731
    return TextSplits("tiny", text(2000), text(200), text(200), {"train": 1, "validation": 1, "test": 1}, "test text")


def test_the_workload_is_the_task_s_model_on_byte_windows():
    model = language_model_inputs.language_model_task(TINY)  # The task, configured as a run would be.
    assert model.config.task == "language_model" and model.config.sequence_length == 8
    windows = synthetic_examples(TINY, 4)
    assert windows.shape == (4, 9) and windows.dtype == np.uint8
    assert TINY.tokens_per_example == 8 and find_workload("byte_lm").input_shape == (256,)
    with pytest.raises(ValueError, match="only language models"):
        with_sequence_length(find_workload("mlp"), 8)


def test_train_input_is_the_task_s_pipeline_and_keras_input_reads_the_same_windows():
    corpus = _corpus()
    batch = next(iter(create_dataset("train_input", TINY, 4, seed=5, splits=corpus)))
    expected = next(iter(training_windows(corpus.train, 8, 4, seed=5)))
    np.testing.assert_array_equal(batch, expected)
    windows = {bytes(window) for window in language_model_inputs.byte_windows(corpus.train, 8)}
    keras_batch = next(iter(create_dataset("keras_input", TINY, 4, splits=corpus)))
    assert keras_batch.shape == (4, 9) and all(bytes(window) in windows for window in keras_batch.numpy())


def test_fit_minimizes_the_task_s_loss():
    """fit's SparseCategoricalCrossentropy on (ids[:, :-1], ids[:, 1:]) is the task's mean loss."""
    model = DecoderOnlyTransformer(max_length=8, width=16, depth=1, num_heads=2)
    windows = tf.constant(synthetic_examples(TINY, 4))
    inputs, targets = next(iter(language_model_inputs.fit_pairs(tf.data.Dataset.from_tensors(windows))))
    fit_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets, model(inputs))
    task_loss, _ = workload_task(TINY).compute_loss(model, windows, training=False)
    np.testing.assert_allclose(fit_loss, tf.reduce_mean(task_loss), rtol=1e-5)


def test_tapecraft_and_fit_train_the_language_model_for_the_steps_they_report():
    strategy = tf.distribute.get_strategy()
    model, optimizer = build_model(TINY, "float32", strategy)
    tapecraft = TapecraftRunner(model, optimizer, strategy, create_iterator("synthetic", TINY, 4, strategy), 4,
                                False, 2, workload=TINY)
    assert tapecraft.run(2)[1] == 4 and int(optimizer.iterations.numpy()) == 4
    model, optimizer = build_model(TINY, "float32", optimizer_factory=keras_adam)
    fit = KerasFitRunner(model, optimizer, language_model_inputs.fit_pairs(create_dataset("synthetic", TINY, 4)),
                         False, 2)
    assert fit.run(1)[1] == 2 and int(optimizer.iterations.numpy()) == 4  # Two executions, one timed.


def test_a_whole_run_trains_the_task_from_its_own_input():
    lines = []
    runner = language_model_inputs.train_and_evaluate_runner(TINY, _corpus(), 4, "float32", "false", 2,
                                                             log=lines.append)
    seconds, steps = runner.run(1)
    assert steps == 2 and seconds > 0 and len(runner.lines) == 2
    assert runner.result.final_step == 4 and runner.result.task.config.sequence_length == 8
    assert runner.result.model.width == 16  # The workload's model, built by the task.
    assert any(line.startswith("Data: test text") for line in lines)  # The task's own data line.


def test_remat_effects_pair_each_length_with_and_without():
    records = [dict(sequence_length=64, remat=False, peak_memory_bytes=1000, ms_per_step={"median": 10.0}),
               dict(sequence_length=64, remat=True, peak_memory_bytes=400, ms_per_step={"median": 13.0}),
               dict(sequence_length=128, remat=True, peak_memory_bytes=1, ms_per_step={"median": 1.0})]
    assert remat_effects(records) == [(64, pytest.approx(0.6), pytest.approx(1.3))]


def test_remat_cost_measures_less_peak_memory_with_remat(tmp_path):
    output = tmp_path / "remat.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.remat_cost", "--workload=byte_lm_tiny", "--sequence_length=128",
         "--batch_size=4", "--jit_compile=false", "--steps_per_loop=1", "--steps=1", "--repeats=1",
         f"--output={output}", "--chart="],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = {line["remat"]: line for line in map(json.loads, output.read_text().splitlines())}
    for line in lines.values():
        validate_result(line)
        assert line["sequence_length"] == 128 and line["tokens_per_second"]["median"] > 0
    # Two blocks' activations at T=128 are most of the step's memory: remat keeps far less.
    assert 0 < lines[True]["peak_memory_bytes"] < 0.8 * lines[False]["peak_memory_bytes"]
    assert "T=128: remat gives" in result.stdout
