"""The training script killed for real: SIGKILL at random steps, and SIGTERM.

These run `python -m training.train` in subprocesses, because the process boundary is the point:
a SIGKILL'ed process saves nothing and cleans up nothing. Each process costs ~6 s of TensorFlow
import and set-up on an idle 2-core machine; the two tests start 8 of them (~70 s in all).
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN_STEPS = 150
# Small loops and frequent checkpoints so kills land in many places: 5 steps a loop, a
# checkpoint every 3 loops. `--deterministic` with a fixed seed makes a run repeatable.
RUN_FLAGS = ["--model=fault_model:TinyNet", "--dataset=digits", "--batch_size=32",
             f"--train_steps={TRAIN_STEPS}", "--warmup_steps=10", "--steps_per_loop=5",
             "--checkpoint_every=15", "--eval_every=0", "--keep_checkpoints=2", "--seed=3", "--deterministic",
             "--precision=float32", "--jit_compile=false", "--noexport"]
# Convolution with batch normalization (moving statistics) and dropout (a seed generator): the
# state beyond weights and optimizer slots that an exact resume must also carry.
MODEL_SOURCE = textwrap.dedent('''
    import keras

    class TinyNet(keras.Model):
        def __init__(self, num_classes):
            super().__init__()
            self.conv = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
            self.norm = keras.layers.BatchNormalization()
            self.flatten = keras.layers.Flatten()
            self.dropout = keras.layers.Dropout(0.3)
            self.classifier = keras.layers.Dense(num_classes)

        def call(self, images, training=False):
            x = keras.ops.relu(self.norm(self.conv(images), training=training))
            return self.classifier(self.dropout(self.flatten(x), training=training))
''')


def _start(tmp_path, model_dir, *extra_flags):
    (tmp_path / "fault_model.py").write_text(MODEL_SOURCE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), REPO]), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "training.train", *RUN_FLAGS, f"--model_dir={model_dir}",
                             *extra_flags], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _step_of(progress_line):
    """47 from "step 47/150 | loss ..."."""
    return int(progress_line.split()[1].split("/")[0])


def _read_until_step(process, target):
    """Reads progress lines until one reports a step >= target; returns the lines read."""
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("step ") and "/" in line and _step_of(line) >= target:
            return lines
    raise AssertionError(f"the run ended before step {target}: {lines[-3:]} {process.stderr.read()[-2000:]}")


def _finish(process, timeout=300):
    stdout, stderr = process.communicate(timeout=timeout)
    return stdout.splitlines(), stderr


def _saved_numbers(checkpoint_path):
    """Every numeric tensor of a checkpoint but the save counter, by key."""
    reader = tf.train.load_checkpoint(checkpoint_path)
    dtypes = reader.get_variable_to_dtype_map()
    return {key: reader.get_tensor(key) for key, dtype in dtypes.items()
            if dtype.is_floating or dtype.is_integer if not key.startswith("save_counter")}


def test_sigkill_at_random_steps_then_resume_ends_bit_identical(tmp_path):
    reference = _start(tmp_path, tmp_path / "reference")  # Runs alongside the interrupted one.
    interrupted_dir = tmp_path / "interrupted"
    choices = random.Random(2024)
    # (lowest, highest) kill step per trial: the first kill comes after a checkpoint, the second
    # after at least two.
    windows = [(20, 50), (35, 90), (60, TRAIN_STEPS - 20)]
    seen, step = [], 0
    for trial, (lowest, highest) in enumerate(windows):
        process = _start(tmp_path, interrupted_dir)
        lines = _read_until_step(process, choices.randint(max(lowest, step + 5), highest))
        time.sleep(choices.uniform(0.0, 0.15))  # Inside the next loop or a checkpoint write.
        process.kill()
        process.wait()
        assert process.returncode == -signal.SIGKILL
        seen += lines
        step = _step_of(lines[-1])
        if trial == 1:  # As if a power loss had cut the newest save short: its data file is empty.
            newest = max(interrupted_dir.glob("ckpt-*.index"), key=lambda path: int(path.stem.split("-")[1]))
            open(str(newest).replace(".index", ".data-00000-of-00001"), "w").close()
    final_lines, stderr = _finish(_start(tmp_path, interrupted_dir))
    assert final_lines[-1].startswith("Test accuracy: "), stderr
    seen += final_lines
    assert sum(line.startswith("Resumed from") for line in seen) == 3
    assert any(line.startswith(f"Checkpoint {newest.with_suffix('')} is unreadable (") for line in seen), seen
    reference_lines, stderr = _finish(reference)
    assert reference_lines[-1].startswith("Test accuracy: "), stderr

    assert final_lines[-1] == reference_lines[-1]
    expected = _saved_numbers(str(tmp_path / "reference" / f"ckpt-{TRAIN_STEPS}"))
    actual = _saved_numbers(str(interrupted_dir / f"ckpt-{TRAIN_STEPS}"))
    assert sorted(actual) == sorted(expected)
    assert any(key.startswith("model_variables/") for key in expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key)


def test_sigterm_saves_exits_zero_and_the_rerun_continues_the_step_count(tmp_path):
    model_dir = tmp_path / "run"
    process = _start(tmp_path, model_dir)
    _read_until_step(process, 20)
    process.send_signal(signal.SIGTERM)
    lines, stderr = _finish(process)
    assert process.returncode == 0, stderr
    stopped_at = int(lines[-1].split(" at step ")[1].split(";")[0])
    assert lines[-1] == (f"Stopped by SIGTERM at step {stopped_at}; saved {model_dir}/ckpt-{stopped_at}. "
                         "Run the same command again to resume from there.")
    assert stopped_at % 5 == 0 and (model_dir / f"ckpt-{stopped_at}.index").exists()

    # Another run's flags are refused with one line, and the directory is left as it was.
    refused = _start(tmp_path, model_dir, "--batch_size=64", "--seed=4")
    refused_lines, stderr = _finish(refused)
    assert refused.returncode != 0 and "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        f"error: --model_dir={model_dir} holds a run made with other flags (--batch_size=32 there, 64 here; "
        f"--seed=3 there, 4 here); resume it with the flags in {model_dir}/run_config.json, or pick a new "
        "--model_dir"]

    # The same flags resume; another --train_steps is an allowed change (10 more steps, to be quick).
    end = stopped_at + 10
    resumed_lines, stderr = _finish(_start(tmp_path, model_dir, f"--train_steps={end}"))
    assert f"Resuming with --train_steps={end} (the run was made with {TRAIN_STEPS})" in resumed_lines
    assert f"Resumed from {model_dir}/ckpt-{stopped_at} at step {stopped_at}" in resumed_lines, stderr
    steps = [_step_of(line) for line in resumed_lines if line.startswith("step ") and "/" in line]
    assert steps == [stopped_at + 5, end]
    assert resumed_lines[-1].startswith("Test accuracy: ")
