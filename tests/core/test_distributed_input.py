"""Per-replica input: every cluster shape trains on the same global batches, and resumes in place."""

import numpy as np
import pytest
import tensorflow as tf

from core.data import evaluation_dataset, training_dataset
from core.data.synthetic import load_synthetic
from core.distributed_input import (distribute_evaluation_batches, distribute_training_batches,
                                    is_checkpointable, per_replica_dataset_fn)
from core.distribution import create_strategy
from layers.registry import create_model
from training.loop import make_eval_loop
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_eval_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.

GLOBAL_BATCH = 16


@pytest.fixture(scope="module")
def data():
    return load_synthetic(input_shape=(4, 4, 1), num_examples=200, seed=1)


def _make_batches(data):
    return lambda batch_size: training_dataset(data.train, data.num_examples["train"], batch_size, seed=5)


def _global_batches(data, count, start=0):
    """The stream one replica with the whole global batch trains on: (images, labels) per step."""
    batches = _make_batches(data)(GLOBAL_BATCH).skip(start).take(count)
    return [(images.numpy(), labels.numpy()) for images, labels in batches]


def _sorted_rows(images, labels):
    """Examples as rows, sorted: the order of examples inside a global batch does not matter."""
    rows = np.concatenate([images.reshape(len(images), -1), labels[:, None].astype(np.float32)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def _distributed_steps(strategy, iterator, count):
    steps = []
    for _ in range(count):
        replicas = strategy.experimental_local_results(next(iterator))
        steps.append((np.concatenate([r[0].numpy() for r in replicas]),
                      np.concatenate([r[1].numpy() for r in replicas])))
    return steps


@pytest.mark.parametrize("name,replicas", [("one_device", 0), ("mirrored", 2)])
def test_replicas_split_exactly_the_global_batch_of_one(data, name, replicas):
    strategy = create_strategy(name, replicas)
    iterator = distribute_training_batches(strategy, _make_batches(data), GLOBAL_BATCH)
    assert not is_checkpointable(iterator)  # TensorFlow 2.21's distributed iterator is not a Trackable.
    for (images, labels), (expected_images, expected_labels) in zip(
            _distributed_steps(strategy, iterator, 20), _global_batches(data, 20)):
        # With two replicas, replica 0 holds the first half of the global batch, replica 1 the second.
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)


def test_a_resumed_iterator_continues_where_the_global_step_left_off(data):
    strategy = create_strategy("mirrored", 2)
    iterator = distribute_training_batches(strategy, _make_batches(data), GLOBAL_BATCH, skip_steps=13)
    for (images, labels), (expected_images, expected_labels) in zip(
            _distributed_steps(strategy, iterator, 8), _global_batches(data, 8, start=13)):
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)


def test_the_default_strategy_gives_the_plain_tf_data_iterator_a_checkpoint_can_save(data):
    iterator = distribute_training_batches(tf.distribute.get_strategy(), _make_batches(data), GLOBAL_BATCH)
    assert is_checkpointable(iterator)
    np.testing.assert_array_equal(next(iterator)[0].numpy(), _global_batches(data, 1)[0][0])


@pytest.mark.parametrize("steps_done", [0, 7])
def test_two_workers_with_two_replicas_each_train_on_the_global_batches_of_one_replica(data, steps_done):
    # What MultiWorkerMirroredStrategy asks of each worker's pipeline, simulated with InputContexts:
    # worker w's local replicas take its next two batches in turn.
    workers, local_replicas = 2, 2
    streams = [iter(per_replica_dataset_fn(_make_batches(data), GLOBAL_BATCH, steps_done)(
        tf.distribute.InputContext(num_input_pipelines=workers, input_pipeline_id=worker,
                                   num_replicas_in_sync=workers * local_replicas)))
               for worker in range(workers)]
    for images, labels in _global_batches(data, 6, start=steps_done):
        parts = [next(stream) for stream in streams for _ in range(local_replicas)]
        assert all(part[0].shape[0] == GLOBAL_BATCH // 4 for part in parts)
        np.testing.assert_array_equal(
            _sorted_rows(np.concatenate([p[0].numpy() for p in parts]),
                         np.concatenate([p[1].numpy() for p in parts])),
            _sorted_rows(images, labels))


def _evaluate(strategy, model, split, global_batch):
    with strategy.scope():
        metrics = TaskMetrics("eval", CLASSIFICATION)
    loop = make_eval_loop(make_eval_step(CLASSIFICATION, model, metrics), strategy, jit_compile=False)
    loop(distribute_evaluation_batches(strategy, lambda batch_size: evaluation_dataset(split, batch_size),
                                       global_batch))
    return metrics.results()


def test_evaluation_with_uneven_and_empty_last_batches_counts_every_example_once(data):
    # 33 examples in per-replica batches of 4: eight full batches and one of a single example,
    # so in the last step replica 1 receives an empty batch, which the convolutions of small_cnn
    # refuse on CPU and whose mean loss would be NaN.
    split = data.train.take(33)
    strategy = create_strategy("mirrored", 2)
    with strategy.scope():
        model = create_model("small_cnn", data.num_classes)
        model(tf.zeros((1, 4, 4, 1)))
    expected = _evaluate(tf.distribute.get_strategy(), model, split, 8)
    distributed = _evaluate(strategy, model, split, 8)
    # Same weights and examples; float32 sums of 33 losses in a different grouping.
    assert distributed["accuracy"] == expected["accuracy"]
    assert distributed["loss"] == pytest.approx(expected["loss"], rel=1e-6)
    images, labels = next(iter(split.batch(33)))
    logits = model(images).numpy()
    assert expected["accuracy"] == pytest.approx(np.mean(np.argmax(logits, axis=1) == labels.numpy()))
