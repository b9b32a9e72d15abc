"""Bad flags, data and checkpoints: each fails before training with one line, and leaves the run
directory exactly as it was; the script prints that line as `error: ...`, without a traceback."""

import dataclasses
import shutil

import numpy as np
import pytest
import tensorflow as tf

from core.checkpointing import CheckpointError
from core.data import DatasetError
from core.data.digits import load_digits
from core.data.splits import splits_from_arrays
from core.data.validation import InvalidSplitsError
from core.run_config_store import RunConfigMismatch
from core.storage_errors import StorageError
from layers.models import MLP
from training import TrainConfig, train_and_evaluate
from training.hooks import HookError
from training.nan_policy import NonFiniteLossError

BASE = dict(model="mlp", dataset="digits", batch_size=32, train_steps=10, warmup_steps=2, steps_per_loop=10,
            checkpoint_every=10, eval_every=0, precision="float32", jit_compile="false")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run directory holding a 10-step mlp run: ckpt-10 and its run_config.json."""
    model_dir = tmp_path_factory.mktemp("finished") / "run"
    train_and_evaluate(TrainConfig(**BASE, model_dir=str(model_dir)), log=lambda line: None)
    return model_dir


def _toy_splits(labels_shift=0, train_examples=40):
    rng = np.random.RandomState(0)
    images = rng.rand(100, 8, 8, 1).astype(np.float32)
    labels = np.arange(100) % 10 + labels_shift
    indices = (np.arange(train_examples), np.arange(80, 90), np.arange(90, 100))
    return splits_from_arrays("toy", images, labels, indices, num_classes=10)


def _truncate_every_checkpoint(model_dir):
    for path in model_dir.glob("ckpt-*.data-*"):
        open(path, "w").close()


def _break_run_config(model_dir):
    (model_dir / "run_config.json").write_text('{"model": "mlp", ')


# (case, change to the run directory, config changes, train_and_evaluate arguments, error, message with
# {run} standing for the run directory).
BAD_INPUTS = [
    ("flags: another run's directory", None, dict(learning_rate=0.01, seed=1), {}, RunConfigMismatch,
     "--model_dir={run} holds a run made with other flags (--learning_rate=0.003 there, 0.01 here; "
     "--seed=0 there, 1 here); resume it with the flags in {run}/run_config.json, or pick a new --model_dir"),
    ("flags: unreadable run_config.json", _break_run_config, {}, {}, RunConfigMismatch,
     "{run}/run_config.json: cannot be read as JSON (Expecting property name enclosed in double quotes: "
     "line 1 column 18 (char 17)); it records the flags of the run in that directory: restore it, or pick "
     "a new --model_dir"),
    ("checkpoint: another model's shapes", None, {},
     dict(model_fn=lambda num_classes: MLP(num_classes, hidden_units=(8, 8), name="mlp")), CheckpointError,
     "checkpoint {run}/ckpt-10 does not fit this run: model_variables[0] (mlp/hidden0/dense/kernel) has "
     "shape (64, 8) here but (64, 512) in the checkpoint (a different model or layer sizes)"),
    ("checkpoint: another architecture", None, {},
     dict(model_fn=lambda num_classes: MLP(num_classes, hidden_units=(8, 8, 8))), CheckpointError,
     "checkpoint {run}/ckpt-10 does not fit this run: it holds 6 model_variables, this run has 8 "
     "(a different model or architecture)"),
    ("checkpoint: every file truncated", _truncate_every_checkpoint, {}, {}, CheckpointError,
     "no readable checkpoint in {run}: {run}/ckpt-10: Read less bytes than requested. Move the directory "
     "away to start from scratch"),
    ("data: label out of range", None, {}, dict(datasets=_toy_splits(labels_shift=1)), InvalidSplitsError,
     "dataset 'toy', train split: label 10 is outside 0..9 (num_classes=10)"),
    ("data: empty training split", None, {}, dict(datasets=_toy_splits(train_examples=0)), InvalidSplitsError,
     "dataset 'toy', train split: is empty"),
    ("data: batch larger than the dataset", None, {}, dict(datasets=_toy_splits(train_examples=20)),
     InvalidSplitsError,
     "--batch_size=32 is larger than the training split of 'toy' (20 examples); use at most 20"),
]


def _snapshot(directory):
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    return {path.relative_to(directory): path.read_bytes() for path in files}


@pytest.mark.parametrize("change,overrides,arguments,error_type,message", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_with_one_line_and_leaves_the_run_alone(finished_run, tmp_path, change, overrides,
                                                               arguments, error_type, message):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    if change:
        change(run)
    before = _snapshot(run)
    config = TrainConfig(**dict(BASE, model_dir=str(run), **overrides))
    with pytest.raises(error_type) as error:
        train_and_evaluate(config, log=lambda line: None, **arguments)
    assert str(error.value) == message.format(run=run)
    assert _snapshot(run) == before


def test_data_is_checked_before_a_new_run_writes_anything(tmp_path):
    with pytest.raises(InvalidSplitsError):
        train_and_evaluate(TrainConfig(**BASE, model_dir=str(tmp_path / "new")),
                           datasets=dataclasses.replace(load_digits(), num_classes=9), log=lambda line: None)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("error", [
    RunConfigMismatch("--model_dir=runs/a holds a run made with other flags (...)"),
    CheckpointError("checkpoint runs/a/ckpt-10 does not fit this run: ..."),
    InvalidSplitsError("dataset 'toy', train split: is empty"),
    DatasetError("/data/cifar/data_batch_1: is truncated or not a pickle"),
    NonFiniteLossError("the training loss is nan at step 30 (--on_nan=stop); ..."),
    StorageError("cannot write runs/a/ckpt-30: no space left on the device: free some space ..."),
    HookError("hook my_hooks.plot raised ValueError at step 30: ...; the run stopped with checkpoint runs/a/ckpt-30"),
], ids=lambda error: type(error).__name__)
def test_script_prints_each_run_error_as_one_line(monkeypatch, tmp_path, error):
    from training import run
    from training import train as train_script

    def fail(config):
        raise error

    monkeypatch.setattr(run, "run_training", fail)
    train_script.FLAGS(["train", f"--model_dir={tmp_path}"])
    try:
        with pytest.raises(SystemExit) as exit_info:
            train_script.main(["train"])
    finally:
        train_script.FLAGS.unparse_flags()
    assert exit_info.value.code == f"error: {error}"  # sys.exit prints it to stderr and exits with 1.


def test_unreadable_checkpoint_is_not_mistaken_for_a_fresh_directory(tmp_path):
    # A state file whose checkpoints are gone: starting over would overwrite a user's run.
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint").write_text('model_checkpoint_path: "ckpt-90"\n'
                                                  'all_model_checkpoint_paths: "ckpt-90"\n')
    with pytest.raises(CheckpointError, match=r"^no readable checkpoint in .*/run: .*/run/ckpt-90: "):
        train_and_evaluate(TrainConfig(**BASE, model_dir=str(tmp_path / "run")), log=lambda line: None)
    assert tf.io.gfile.listdir(str(tmp_path / "run")) == ["checkpoint"]
