"""train_and_evaluate end to end: it learns, it resumes exactly, it takes a user's model."""

import numpy as np
import pytest
from tensorflow.python.framework import config as tf_framework_config

from training import TrainConfig, train_and_evaluate


def _config(tmp_path, **overrides):
    settings = dict(model="small_cnn", dataset="digits", train_steps=200, warmup_steps=20, steps_per_loop=25,
                    eval_every=100, batch_size=64, precision="float32", model_dir=str(tmp_path / "run"))
    settings.update(overrides)
    return TrainConfig(**settings)


def test_digits_reaches_high_test_accuracy_in_a_small_budget(tmp_path):
    lines = []
    result = train_and_evaluate(_config(tmp_path), log=lines.append)
    # 200 steps (~10 epochs) of the default CNN: >= 0.95 here, typically 0.98-0.99.
    assert result.test_accuracy >= 0.95
    assert result.final_step == 200
    assert [step for step, _ in result.validation_history] == [100, 200]
    assert any(line.startswith("step 25/200 | loss") and "examples/s | ETA" in line for line in lines)
    assert (tmp_path / "run" / "ckpt-200.index").exists()
    assert list((tmp_path / "run" / "train").glob("events.out.tfevents.*"))


class _Interrupted(Exception):
    pass


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    settings = dict(train_steps=60, warmup_steps=5, steps_per_loop=10, eval_every=20, checkpoint_every=20,
                    deterministic=True)
    straight = train_and_evaluate(_config(tmp_path / "a", **settings), log=lambda line: None)

    def crash_after_first_checkpoint(line):
        if line.startswith("Saved checkpoint") and line.endswith("ckpt-20"):
            raise _Interrupted()

    with pytest.raises(_Interrupted):
        train_and_evaluate(_config(tmp_path / "b", **settings), log=crash_after_first_checkpoint)
    lines = []
    resumed = train_and_evaluate(_config(tmp_path / "b", **settings), log=lines.append)
    assert any(line.startswith("Resumed from") and "at step 20" in line for line in lines)
    for a, b in zip(straight.model.variables, resumed.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert resumed.test_accuracy == straight.test_accuracy
    # Op determinism was on for these runs only: it is off again for the caller (a later XLA
    # compilation of max-pool gradients, e.g., has no deterministic kernel).
    assert not tf_framework_config.is_op_determinism_enabled()


def test_a_checkpoint_of_an_older_input_pipeline_resumes_by_replaying_the_input(tmp_path, monkeypatch):
    # Before the tf.data service (issue 17) the batch indices came from Dataset.counter(); now from
    # Dataset.range(), same batches, and a counter's iterator state does not restore into a range.
    # The run restores everything else and replays the input to the step.
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    settings = dict(model="mlp", train_steps=40, warmup_steps=5, steps_per_loop=10, eval_every=0,
                    checkpoint_every=20, deterministic=True)
    straight = train_and_evaluate(_config(tmp_path / "a", **settings), log=lambda line: None)

    def crash_after_first_checkpoint(line):
        if line.startswith("Saved checkpoint") and line.endswith("ckpt-20"):
            raise _Interrupted()

    endless_range = tf.data.Dataset.range
    with monkeypatch.context() as older_version:
        older_version.setattr(tf.data.Dataset, "range", staticmethod(
            lambda *args, **kwargs: tf.data.Dataset.counter() if args == (np.iinfo(np.int64).max,)
            else endless_range(*args, **kwargs)))
        with pytest.raises(_Interrupted):
            train_and_evaluate(_config(tmp_path / "b", **settings), log=crash_after_first_checkpoint)
    lines = []
    resumed = train_and_evaluate(_config(tmp_path / "b", **settings), log=lines.append)
    assert any("its train_iterator does not fit this version's input pipeline" in line for line in lines), lines
    assert any(line.startswith("Resumed from") and line.endswith("; input replayed to step 20") for line in lines)
    for a, b in zip(straight.model.variables, resumed.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    lines = []  # The resumed run's checkpoints hold no input position: later resumes replay, silently.
    train_and_evaluate(_config(tmp_path / "b", **dict(settings, train_steps=50)), log=lines.append)
    assert any(line.startswith("Resumed from") and line.endswith("at step 40; input replayed to step 40")
               for line in lines), lines
    assert not any("does not fit" in line for line in lines)


def test_a_run_that_already_finished_only_evaluates(tmp_path):
    config = _config(tmp_path, train_steps=30, warmup_steps=5, steps_per_loop=10, eval_every=0)
    first = train_and_evaluate(config, log=lambda line: None)
    lines = []
    second = train_and_evaluate(config, log=lines.append)
    assert not any(line.startswith("step ") for line in lines)
    assert second.test_accuracy == first.test_accuracy
