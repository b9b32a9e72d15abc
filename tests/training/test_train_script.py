"""The absl script as a user runs it: --help, bad flags, and a model from the user's own module."""

import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(args, extra_path=None, timeout=240):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [extra_path, REPO])))
    return subprocess.run([sys.executable, "-m", "training.train", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_help_documents_every_flag():
    from training.config import TrainConfig

    result = _run(["--helpshort"])
    assert "Traceback" not in result.stderr  # absl exits 1 after printing help.
    for flag in TrainConfig.__dataclass_fields__:
        assert f"--{flag}:" in result.stdout or f"--[no]{flag}:" in result.stdout, flag


@pytest.mark.parametrize("args,message", [
    (["--batch_size=abc"], "error: flag --batch_size=abc: invalid literal"),
    (["--precision=float8"], "error: --precision='float8': must be one of float32, mixed_float16"),
    (["--model=nowhere:Net"], "error: --model='nowhere:Net': model 'nowhere:Net': cannot import module 'nowhere'"),
    (["--no_such_flag=1"], "error: Unknown command line flag 'no_such_flag'"),
    (["stray_argument"], "error: unexpected arguments 'stray_argument'"),
    (["--freeze_base"], "error: --freeze_base=True: needs --pretrained_weights"),
    (["--seed=99999999999999999999"], "error: --seed=99999999999999999999: must be an integer >= 0 no larger than"),
    # Found only once the data are loaded: the model cannot take 8x8 digits.
    (["--model=vgg16"], "error: --model='vgg16': cannot take --dataset=digits's images of shape (8, 8, 1)"),
])
def test_bad_flag_exits_nonzero_with_one_line(args, message):
    result = _run(args)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(message), lines[0]
    assert "Traceback" not in result.stderr


def test_trains_a_model_from_the_users_own_module(tmp_path):
    (tmp_path / "my_research").mkdir()
    (tmp_path / "my_research" / "__init__.py").write_text("")
    (tmp_path / "my_research" / "nets.py").write_text(textwrap.dedent('''
        import keras

        class TinyNet(keras.Model):
            def __init__(self, num_classes):
                super().__init__()
                self.flatten = keras.layers.Flatten()
                self.hidden = keras.layers.Dense(64, activation="relu")
                self.out = keras.layers.Dense(num_classes)

            def call(self, images, training=False):
                return self.out(self.hidden(self.flatten(images)))
    '''))
    result = _run(["--model=my_research.nets:TinyNet", "--train_steps=150", "--warmup_steps=10",
                   "--steps_per_loop=50", "--eval_every=0", "--precision=float32",
                   f"--model_dir={tmp_path / 'run'}"], extra_path=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "XLA on: a float32 model without convolutions" in result.stdout
    accuracy = float(result.stdout.strip().splitlines()[-1].split("Test accuracy: ")[1])
    assert accuracy >= 0.9


def test_a_run_directory_in_use_is_refused_with_one_line(tmp_path):
    import json
    import socket

    from core.run_lock import LOCK_NAME

    from core.run_lock import run_directory_lock

    model_dir = tmp_path / "run"
    # This test's own process stands for the trainer already using the directory.
    with run_directory_lock(str(model_dir)):
        started = json.loads((model_dir / LOCK_NAME).read_text())["started"]
        result = _run([f"--model_dir={model_dir}", "--train_steps=2", "--warmup_steps=0", "--eval_every=0"])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: --model_dir={model_dir}: another training process (pid {os.getpid()} on host "
        f"{socket.gethostname()}, started {started}) is using it; wait for it to end or "
        f"choose another --model_dir"]
    assert not list(model_dir.glob("ckpt-*"))
