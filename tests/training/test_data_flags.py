"""The data flags: one-line ConfigErrors where they meet --dataset, and a run on real-format files with
augmentation and mixing (tests/training/test_config.py covers each flag's bad values alone)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from core.data import load_dataset
from training import train as train_script
from training.config import ConfigError, TrainConfig
from training.environment_checks import check_environment
from training.training_phase import train_and_evaluate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("settings, start", [
    (dict(dataset="mnist"), "--data_dir=None: --dataset=mnist reads its files from a directory"),
    (dict(dataset="cifar10", data_dir="/no/such/place"), "--data_dir='/no/such/place': no such directory"),
    (dict(dataset="image_folder", data_dir=""), "--data_dir='': --dataset=image_folder reads its files"),
    (dict(dataset="image_folder", image_size=4),
     "--image_size=4: must be 0 (the dataset's default) or from 8 to 1024"),
    (dict(dataset="image_folder", image_size=2.5), "--image_size=2.5: must be an integer >= 0"),
    (dict(dataset="cifar10", image_size=64),
     "--image_size=64: only --dataset=image_folder/records resizes its images"),
    (dict(cutmix_alpha="1"), "--cutmix_alpha='1': must be a number from 0 (off) to 100"),
])
def test_bad_data_flag_gives_one_line_naming_it(tmp_path, settings, start):
    if settings.get("data_dir") is None and settings.get("dataset") in ("cifar10", "image_folder"):
        settings = dict(settings, data_dir=str(tmp_path))
    with pytest.raises(ConfigError) as error:  # A bad value, or a directory this machine lacks.
        check_environment(TrainConfig(**settings))
    assert str(error.value).startswith(start) and "\n" not in str(error.value)


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"^--data_dir='.*mnist.npz': is a file; give the directory that"):
        check_environment(TrainConfig(dataset="mnist", data_dir=str(tmp_path / "mnist.npz")))


def test_data_dir_may_start_with_a_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mnist").mkdir()
    images, labels = np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10
    np.savez(tmp_path / "mnist" / "mnist.npz", x_train=images, y_train=labels, x_test=images, y_test=labels)
    config = TrainConfig(dataset="mnist", data_dir="~/mnist")
    splits = load_dataset(config.dataset, config.data_dir)
    assert splits.num_examples == {"train": 18, "validation": 2, "test": 20}


def test_image_folder_flags_decide_the_images_the_run_trains_on(tmp_path):
    """The script's flags, parsed as the script parses them, reach the loader: the run reports
    images resized to --image_size and left unnormalized by --nonormalize, with the augmentation
    and mixing asked for."""
    for label, color in enumerate((40, 200)):  # 12 flat 20x12 PNGs of two classes.
        (tmp_path / "images" / f"class{label}").mkdir(parents=True)
        for index in range(6):
            png = tf.io.encode_png(tf.fill((20, 12, 3), tf.constant(color, tf.uint8))).numpy()
            (tmp_path / "images" / f"class{label}" / f"{index}.png").write_bytes(png)
    arguments = ["train", "--dataset=image_folder", f"--data_dir={tmp_path / 'images'}", "--image_size=16",
                 "--nonormalize", "--augment=crop_flip", "--mixup_alpha=0.2", "--cutmix_alpha=1.0",
                 "--model=mlp", "--batch_size=4", "--train_steps=2", "--steps_per_loop=1", "--warmup_steps=0",
                 "--eval_every=0", "--precision=float32", "--jit_compile=false", "--noexport",
                 f"--model_dir={tmp_path / 'run'}"]
    train_script.FLAGS(arguments)
    try:
        config = train_script.config_from_flags()
    finally:
        train_script.FLAGS.unparse_flags()  # The flags are process-wide; leave them as found.
    lines = []
    result = train_and_evaluate(config, log=lines.append)
    data_lines = [line for line in lines if line.startswith("Data: ")]
    # No "normalized by the training split's mean" clause: --nonormalize reached the loader.
    assert data_lines == ["Data: image_folder, 10/1/1 train/validation/test examples of (16, 16, 3); "
                          "augmentation crop_flip, mixup 0.2, cutmix 1.0"]
    assert result.final_step == 2 and np.isfinite(result.test_loss)


def test_mnist_run_with_augmentation_and_mixing(tmp_path):
    # 200 training images whose label is which image quadrant is bright: learnable in a few steps.
    rng = np.random.RandomState(0)
    labels = np.arange(240) % 4
    images = rng.randint(0, 60, (240, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        top, left = 14 * (label // 2), 14 * (label % 2)
        images[index, top : top + 14, left : left + 14] += 150
    np.savez(tmp_path / "mnist.npz", x_train=images[:200], y_train=labels[:200], x_test=images[200:],
             y_test=labels[200:])
    config = TrainConfig(model="mlp", dataset="mnist", data_dir=str(tmp_path), batch_size=20, train_steps=40,
                         warmup_steps=0, steps_per_loop=20, eval_every=0, learning_rate=1e-3, augment="crop",
                         mixup_alpha=0.2, cutmix_alpha=1.0, model_dir=str(tmp_path / "run"),
                         precision="float32")
    lines = []
    result = train_and_evaluate(config, log=lines.append)
    assert any(line.startswith("Data: mnist, 180/20/40 train/validation/test examples of (28, 28, 1); "
                               "normalized by the training split's mean") and line.endswith(
                                   "augmentation crop, mixup 0.2, cutmix 1.0") for line in lines)
    assert np.isfinite(result.test_loss)
    assert result.test_accuracy >= 0.9  # 4 quadrant classes; chance is 0.25.


def test_script_prints_the_missing_files_message_without_traceback(tmp_path):
    # Subprocess (~6 s): the point is what the user sees, the exit status and no traceback.
    completed = subprocess.run(
        [sys.executable, "-m", "training.train", "--dataset=cifar10", f"--data_dir={tmp_path}",
         f"--model_dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert f"error: --dataset=cifar10: the dataset files are not in {tmp_path}" in completed.stderr
    assert "cifar-10-python.tar.gz" in completed.stderr and "cifar-10-batches-bin/" in completed.stderr
