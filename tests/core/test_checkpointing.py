"""Checkpoints: a damaged newest checkpoint falls back to the previous one, another model's
checkpoint fails with one line naming the file, nothing with NaN is ever written."""

import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.checkpointing import CheckpointError, NonFiniteWeightsError, TrainingCheckpoint
from core.run_lock import run_directory_lock
from layers.models import MLP

DATA_FILE = "ckpt-20.data-00000-of-00001"


def _checkpoint(directory, hidden_units=(16,), num_classes=4, value=None):
    """A TrainingCheckpoint of a small MLP, its Adam slots, a step and a data iterator."""
    model = MLP(num_classes, hidden_units=hidden_units, name="mlp")  # A fixed name: messages quote paths.
    model(tf.zeros((1, 4, 4, 1)))
    if value is not None:
        for variable in model.variables:
            variable.assign(tf.fill(variable.shape, value))
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    iterator = iter(tf.data.Dataset.range(100).shuffle(10, seed=1).batch(4))
    checkpoint = TrainingCheckpoint(str(directory), 3, model=model, optimizer=optimizer, global_step=step,
                                    train_iterator=iterator, model_variables=list(model.variables))
    return checkpoint, model, step


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A directory with ckpt-10 (weights 1.0) and ckpt-20 (weights 2.0)."""
    directory = tmp_path_factory.mktemp("run")
    checkpoint, model, step = _checkpoint(directory, value=1.0)
    step.assign(10)
    checkpoint.save(10)
    for variable in model.variables:
        variable.assign(tf.fill(variable.shape, 2.0))
    step.assign(20)
    checkpoint.save(20)
    return directory


def _copy(saved_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(saved_run, target)
    return target


def _truncate(path, size):
    with open(path, "r+b") as file:
        file.truncate(size)


def _flip_byte(path, offset):
    with open(path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0xFF]))


def test_restores_the_newest_checkpoint(saved_run, tmp_path):
    checkpoint, model, step = _checkpoint(_copy(saved_run, tmp_path))
    lines = []
    assert checkpoint.restore_latest(lines.append).endswith("ckpt-20")
    assert int(step) == 20 and lines == []
    np.testing.assert_array_equal(model.variables[0].numpy(), 2.0)


# The ways a save cut short by a power loss or a full disk leaves the newest files.
DAMAGE = {
    "data file empty": lambda run: _truncate(run / DATA_FILE, 0),
    "data file cut in half": lambda run: _truncate(run / DATA_FILE, os.path.getsize(run / DATA_FILE) // 2),
    "data file flipped byte": lambda run: _flip_byte(run / DATA_FILE, os.path.getsize(run / DATA_FILE) // 3),
    "index file empty": lambda run: _truncate(run / "ckpt-20.index", 0),
    "index file cut": lambda run: _truncate(run / "ckpt-20.index", 200),
    "data file missing": lambda run: os.remove(run / DATA_FILE),
    "index file missing": lambda run: os.remove(run / "ckpt-20.index"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_newest_checkpoint_falls_back_to_the_previous_and_says_so(saved_run, tmp_path, damage):
    run = _copy(saved_run, tmp_path)
    DAMAGE[damage](run)
    checkpoint, model, step = _checkpoint(run)
    lines = []
    assert checkpoint.restore_latest(lines.append).endswith("ckpt-10")
    assert int(step) == 10
    for variable in model.variables:
        np.testing.assert_array_equal(variable.numpy(), 1.0)
    assert any(line.startswith(f"Checkpoint {run}/ckpt-20 is unreadable (") for line in lines), lines
    assert lines[-1] == f"Restored {run}/ckpt-10 instead of the newer, unreadable {run}/ckpt-20"


def test_kill_during_save_leaves_the_previous_checkpoint_listed(saved_run, tmp_path):
    # What a SIGKILL between TensorFlow's temporary write and its renames leaves behind.
    run = _copy(saved_run, tmp_path)
    os.makedirs(run / "ckpt-30_temp")
    shutil.copy(run / DATA_FILE, run / "ckpt-30_temp" / "part-00000-of-00001.data-00000-of-00001")
    shutil.copy(run / DATA_FILE, run / "ckpt-30.data-00000-of-00001")
    checkpoint, _, step = _checkpoint(run)
    assert checkpoint.restore_latest(lambda line: None).endswith("ckpt-20")
    assert int(step) == 20


@pytest.mark.parametrize("state_file", ["missing", "garbage", "empty"])
def test_lost_state_file_still_resumes_the_newest_checkpoint(saved_run, tmp_path, state_file):
    run = _copy(saved_run, tmp_path)
    if state_file == "missing":
        os.remove(run / "checkpoint")
    else:
        (run / "checkpoint").write_text("model_checkpoint_path: {{{" if state_file == "garbage" else "")
    checkpoint, _, step = _checkpoint(run)
    lines = []
    assert checkpoint.restore_latest(lines.append).endswith("ckpt-20")
    assert int(step) == 20
    if state_file == "empty":
        assert lines == [f"{run}/checkpoint was unreadable; moved it to {run}/checkpoint.unreadable"]


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(saved_run, tmp_path):
    run = _copy(saved_run, tmp_path)
    _truncate(run / DATA_FILE, 0)
    _truncate(run / "ckpt-10.index", 0)
    checkpoint, _, _ = _checkpoint(run)
    with pytest.raises(CheckpointError) as error:
        checkpoint.restore_latest(lambda line: None)
    message = str(error.value)
    assert message.startswith(f"no readable checkpoint in {run}: {run}/ckpt-20: ")
    assert f"; {run}/ckpt-10: " in message
    assert message.endswith("Move the directory away to start from scratch")
    assert "\n" not in message


SIZES = " (a different model or layer sizes)"


@pytest.mark.parametrize("hidden_units,num_classes,message", [
    ((8,), 4, "model_variables[0] (mlp/hidden0/dense/kernel) has shape (16, 8) here but (16, 16) in the "
              "checkpoint" + SIZES),
    ((16,), 5, "model_variables[2] (mlp/classifier/kernel) has shape (16, 5) here but (16, 4) in the "
               "checkpoint" + SIZES),
    ((16, 16), 4, "it holds 4 model_variables, this run has 6 (a different model or architecture)"),
])
def test_checkpoint_of_another_model_fails_naming_file_and_variable(saved_run, tmp_path, hidden_units,
                                                                      num_classes, message):
    run = _copy(saved_run, tmp_path)
    checkpoint, _, _ = _checkpoint(run, hidden_units=hidden_units, num_classes=num_classes)
    with pytest.raises(CheckpointError) as error:
        checkpoint.restore_latest(lambda line: None)
    assert str(error.value) == f"checkpoint {run}/ckpt-20 does not fit this run: {message}"


def test_save_refuses_weights_with_nan(tmp_path):
    checkpoint, model, _ = _checkpoint(tmp_path / "run")
    checkpoint.save(5)
    kernel = model.variables[2]
    kernel.assign(tf.tensor_scatter_nd_update(kernel, [[0, 0]], [np.nan]))
    message = r"^variable mlp/classifier/kernel holds NaN or Inf, so ckpt-6 was not written$"
    with pytest.raises(NonFiniteWeightsError, match=message):
        checkpoint.save(6)
    assert not list((tmp_path / "run").glob("ckpt-6*"))
    assert checkpoint.latest_path.endswith("ckpt-5")


def test_leftovers_of_killed_saves_are_removed_once_the_directory_is_locked(saved_run, tmp_path):
    run = _copy(saved_run, tmp_path)
    (run / "ckpt-30_temp").mkdir()
    (run / "ckpt-30_temp" / "part-00000-of-00001.data-00000-of-00001.tempstate123").write_bytes(b"\0" * 64)
    (run / "checkpoint.tmp8a7b6c").write_text("model_checkpoint_path: ")
    _checkpoint(run)  # Without the lock another process may be saving there: nothing is touched.
    assert (run / "ckpt-30_temp").exists() and (run / "checkpoint.tmp8a7b6c").exists()
    with run_directory_lock(str(run)):
        checkpoint, _, step = _checkpoint(run)
        lines = []
        assert checkpoint.restore_latest(lines.append).endswith("ckpt-20")
    assert lines == [f"Removed what interrupted saves left in {run}: checkpoint.tmp8a7b6c, ckpt-30_temp"]
    assert not (run / "ckpt-30_temp").exists() and not (run / "checkpoint.tmp8a7b6c").exists()
    assert int(step) == 20


def test_a_run_directory_without_a_checkpoint_says_it_starts_from_step_0(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run_config.json").write_text("{}")
    checkpoint, _, _ = _checkpoint(tmp_path / "run")
    lines = []
    assert checkpoint.restore_latest(lines.append) is None
    assert lines == [f"{tmp_path}/run holds run_config.json but no checkpoint (the run there stopped before its "
                     "first one): starting from step 0"]
