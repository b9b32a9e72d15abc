"""SIGTERM outside the training loop: during start-up and during the export the run stops at once,
releases its lock, removes partial outputs and says where it stands (exit status 0, as a stop in
training). A stop inside the loop is tests/training/test_kill_and_resume.py."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import tensorflow as tf

from core.run_lock import LOCK_NAME
from training import TrainConfig, run
from training.tasks.classification_report import REPORT_FILE
from training.signals import StopSignal, stop_on_signals

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sigterm_during_start_up_stops_with_one_line_and_leaves_no_lock(tmp_path):
    # A model whose construction takes long: the data are checked, and the run directory is not
    # touched until the model is built and checked against them.
    (tmp_path / "slow_nets.py").write_text(textwrap.dedent('''
        import sys, time
        import keras

        class Net(keras.Model):
            def __init__(self, num_classes):
                super().__init__()
                print("constructing", flush=True)
                time.sleep(120)
    '''))
    model_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "training.train", "--model=slow_nets:Net", f"--model_dir={model_dir}",
         "--train_steps=5", "--warmup_steps=0"], cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), REPOSITORY])))
    try:
        for line in process.stdout:
            if line.strip() == "constructing":
                break
        assert not model_dir.exists()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == ("Stopped by SIGTERM before the first checkpoint; nothing to resume. "
                                               "Run the same command again to start.")
    assert "Traceback" not in stderr
    assert not model_dir.exists()


def test_sigterm_during_the_export_keeps_the_report_and_leaves_no_partial_export(tmp_path, monkeypatch):
    real_save = tf.saved_model.save

    def save_then_get_stopped(module, directory, **kwargs):
        real_save(module, directory, **kwargs)  # The staging directory is full, not yet renamed into place.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # The handler raises here.
        raise AssertionError("SIGTERM did not stop the export")

    monkeypatch.setattr(tf.saved_model, "save", save_then_get_stopped)
    model_dir = tmp_path / "run"
    config = TrainConfig(model="mlp", dataset="digits", batch_size=32, train_steps=10, warmup_steps=2,
                         steps_per_loop=10, eval_every=0, precision="float32", jit_compile="false",
                         model_dir=str(model_dir))
    started = time.monotonic()
    with pytest.raises(StopSignal, match="stopped by SIGTERM"):
        with stop_on_signals():
            run.run_training(config, log=lambda line: None)
    assert time.monotonic() - started < 30
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # The handlers are restored.
    left = sorted(os.listdir(model_dir))
    assert REPORT_FILE in left and "ckpt-10.index" in left
    assert not [name for name in left if name.startswith(("export", LOCK_NAME))], left
