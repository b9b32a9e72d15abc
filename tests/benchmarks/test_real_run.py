"""Whole runs as benchmarks: the runner times the loops it says it timed, on the user's model and
train_and_evaluate's own input; the Keras user's pipeline reads the same training arrays."""

import numpy as np
import tensorflow as tf

from benchmarks.inputs import create_dataset, workload_splits
from benchmarks.keras_reference import create_reference_model
from benchmarks.real_run import TrainAndEvaluateRunner
from benchmarks.real_run import real_path_ratios
from benchmarks.timing import measure_interleaved
from benchmarks.workloads import Workload

TINY = Workload("tiny_mlp", "mlp", (4, 4, 1), 8, "tiny MLP", model_options={"hidden_units": (8,)})


def test_a_run_is_timed_from_its_first_progress_line_to_its_last():
    splits = workload_splits(TINY)
    built = []

    def user_model(num_classes):
        built.append(create_reference_model(Workload("mlp", "mlp", (4, 4, 1), 8, "user's", num_classes=num_classes)))
        return built[-1]

    runner = TrainAndEvaluateRunner(splits, user_model, 8, "float32", "false", steps_per_loop=3)
    timings = measure_interleaved({"run": runner}, repeats=2, steps_per_repeat=6, warmup_calls=1)
    assert timings["run"].repeat_steps == [6, 6] and all(s > 0 for s in timings["run"].repeat_seconds)
    # One run for the compile call and one per repeat (no warm-up run); each trained its own
    # model through model_fn, 3 loops of 3 steps: the untimed first loop and the 2 timed ones.
    assert len(built) == 3 and runner.result.model is built[-1]
    assert runner.result.final_step == 9 and len(runner.lines) == 3 and runner.lines[-1].startswith("step 9/9 |")
    split = runner.median_cpu_ms_per_step()
    assert split["compute"] + split["tf_Compute"] + split["main"] > 0


def test_the_keras_users_pipeline_reads_the_training_arrays_shuffled():
    splits = workload_splits(TINY)
    train = splits.train_examples
    images, labels = next(iter(create_dataset("keras_input", TINY, 8, splits=splits)))
    assert images.shape == (8, 4, 4, 1) and labels.dtype == tf.int32
    rows = {row.tobytes(): label for row, label in zip(train.images, train.labels)}
    assert all(rows[image.tobytes()] == label for image, label in zip(images.numpy(), labels.numpy()))
    first_epoch = np.concatenate([batch[1].numpy() for batch in
                                  create_dataset("keras_input", TINY, len(train) // 4, splits=splits).take(4)])
    assert sorted(first_epoch) == sorted(train.labels) and not np.array_equal(first_epoch, train.labels)


def test_the_per_example_baseline_reads_whole_epochs_of_the_training_split():
    splits = workload_splits(TINY)
    train = splits.train_examples
    batches = create_dataset("per_example_input", TINY, len(train) // 4, splits=splits).take(4)
    images, labels = (np.concatenate(parts) for parts in zip(*[(b[0].numpy(), b[1].numpy()) for b in batches]))
    assert sorted(labels) == sorted(train.labels)
    rows = {row.tobytes(): label for row, label in zip(train.images, train.labels)}
    assert all(rows[image.tobytes()] == label for image, label in zip(images, labels))


def test_the_real_path_ratio_pairs_each_run_with_its_step_alone():
    def record(label, data, timed, rate, precision="float32"):
        return dict(label=label, data=data, timed=timed, workload="mlp", batch_size=256, precision=precision,
                    jit_compile=True, steps_per_loop=32, num_replicas=1, examples_per_second={"median": rate})

    records = [record("step", "synthetic", "step", 40_000.0), record("fed", "train_input", "step", 38_000.0),
               record("run", "train_input", "train_and_evaluate", 36_000.0),
               record("bf16 run", "train_input", "train_and_evaluate", 30_000.0, precision="mixed_bfloat16")]
    assert real_path_ratios(records) == {"run": 0.9}  # The bfloat16 run has no step alone to compare with.
    assert records[2]["step_alone_examples_per_second"] == 40_000.0


def test_thread_time_splits_this_process_cpu_by_kind_of_thread():
    from benchmarks.thread_time import GROUPS, milliseconds_per_step, thread_cpu_seconds

    before = thread_cpu_seconds()
    total = 0
    for value in range(3_000_000):  # Busy the main thread only.
        total += value
    after = thread_cpu_seconds()
    split = milliseconds_per_step(before, after, steps=10)
    assert set(split) == set(GROUPS) and all(ms >= 0 for ms in split.values())
    assert split["main"] > 0 and split["main"] >= split["compute"]
    assert milliseconds_per_step(None, after, 10) is None
