"""Full and read-only disks: one line naming the path and what to do, the earlier checkpoints kept,
the evaluation report written before the export, nothing partial left behind. The run directory
stays locked until the export is written.

The disks are real: a tmpfs of a few hundred KB (full) and one mounted read-only, which even
root cannot write. Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests skip and say so.
"""

import contextlib
import os
import re
import subprocess
import uuid

import keras
import pytest
import tensorflow as tf

from core.checkpointing import TrainingCheckpoint
from core.run_config_store import write_run_config
from core.run_lock import LOCK_NAME, RunDirectoryLockedError, run_directory_lock
from core.storage_errors import StorageError
from training import TrainConfig, run, train_and_evaluate
from training.tasks.classification_report import REPORT_FILE, write_report

TINY_RUN = dict(model="mlp", dataset="digits", batch_size=32, train_steps=10, warmup_steps=2, steps_per_loop=10,
                eval_every=0, precision="float32", jit_compile="false")
NO_SPACE = "no space left on the device: free some space (or pick a --model_dir on another disk) and run the " \
           "same command again"


@contextlib.contextmanager
def _tmpfs(tmp_path, size, read_only=False):
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(directory):
    """Writes one file until the disk is full."""
    with contextlib.suppress(OSError), open(os.path.join(directory, "filler"), "wb") as filler:
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()


def test_a_checkpoint_save_on_a_full_disk_is_one_line_and_keeps_the_earlier_ones(tmp_path):
    with _tmpfs(tmp_path, "512k") as disk:
        directory = str(disk / "run")
        with run_directory_lock(directory):
            layer = keras.layers.Dense(10)
            layer(tf.zeros((1, 100)))
            checkpoint = TrainingCheckpoint(directory, model=layer, model_variables=list(layer.variables))
            checkpoint.save(1)
            # 800 KB more than the disk holds.
            too_big = TrainingCheckpoint(directory, model=layer, model_variables=list(layer.variables),
                                         big=[tf.Variable(tf.zeros((200, 1000)))])
            with pytest.raises(StorageError) as error:
                too_big.save(2)
            assert str(error.value) == (f"cannot write {directory}/ckpt-2: {NO_SPACE}; the newest whole checkpoint, "
                                        f"{directory}/ckpt-1, is kept (removed the partial ckpt-2_temp)")
            assert sorted(os.listdir(directory)) == [LOCK_NAME, "checkpoint", "ckpt-1.data-00000-of-00001",
                                                     "ckpt-1.index"]
            layer.kernel.assign(tf.ones_like(layer.kernel))
            assert checkpoint.restore_latest(lambda line: None) == f"{directory}/ckpt-1"
            assert float(tf.reduce_sum(layer.kernel)) != 1000.0


def test_the_report_comes_before_an_export_that_fills_the_disk_and_the_lock_is_held_throughout(tmp_path,
                                                                                            monkeypatch):
    real_export = run.export_saved_model
    seen = {}

    def export_onto_a_full_disk(model, directory, *args, **kwargs):
        model_dir = os.path.dirname(directory)
        seen["report_first"] = os.path.exists(os.path.join(model_dir, REPORT_FILE))
        with pytest.raises(RunDirectoryLockedError):  # The run still owns its directory.
            with run_directory_lock(model_dir):
                pass
        _fill(model_dir)
        return real_export(model, directory, *args, **kwargs)

    monkeypatch.setattr(run, "export_saved_model", export_onto_a_full_disk)
    with _tmpfs(tmp_path, "4m") as disk:
        model_dir = str(disk / "run")
        config = TrainConfig(**TINY_RUN, model_dir=model_dir)
        with pytest.raises(StorageError) as error:
            run.run_training(config, log=lambda line: None)
        assert str(error.value) == (f"cannot write {model_dir}/export: {NO_SPACE}; the checkpoints and the "
                                    "task's report are kept, and the run exports again when started again")
        assert seen == {"report_first": True}
        left = sorted(os.listdir(model_dir))
        assert REPORT_FILE in left and "ckpt-10.index" in left
        assert not [name for name in left if name.startswith(("export", LOCK_NAME, "ckpt-10_temp"))], left
        assert not [name for name in left if ".tmp" in name], left


def test_a_read_only_model_dir_is_refused_with_one_line_before_training(tmp_path):
    with _tmpfs(tmp_path, "1m", read_only=True) as disk:
        with pytest.raises(StorageError) as error:
            train_and_evaluate(TrainConfig(**TINY_RUN, model_dir=f"{disk}/run"), log=lambda line: None)
    # training.train prints it as "error: <message>" (tests/training/test_bad_inputs.py).
    assert str(error.value) == (f"cannot write {disk}/run/{LOCK_NAME}: the file system is read-only: pick a "
                                "writable --model_dir")


def test_run_config_and_report_on_a_full_disk_are_one_line_and_leave_no_temporary_file(tmp_path):
    report = {"test_accuracy": 0.5, "num_examples": 2, "class_names": ["a", "b"],
              "per_class": [], "confusion_matrix": [[1, 0], [1, 0]]}
    with _tmpfs(tmp_path, "256k") as disk:
        _fill(disk)
        with pytest.raises(StorageError, match=rf"^cannot write {disk}/run_config.json: {re.escape(NO_SPACE)}$"):
            write_run_config(str(disk), {"seed": 0, "model": "x" * 100_000})
        with pytest.raises(StorageError, match=rf"^cannot write {disk}/(evaluation_report.json|confusion_matrix.png): "
                                               rf"{re.escape(NO_SPACE)}$"):
            write_report(dict(report, padding="x" * 100_000), str(disk))
        assert sorted(os.listdir(disk)) == ["filler"]
