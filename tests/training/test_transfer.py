"""A whole transfer-learning run: pretrained VGG16, frozen-base phase, fine-tuning phase, report, export.

The "pretrained" weights are a randomly initialized keras.applications VGG16 saved as
keras.applications ships its files; the data are 32x32 colour images whose class is the
dominant channel. Cost: one VGG16 run of 6 + 4 steps at 32x32, ~20-40 s.
"""

import json
import os
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from core.data import load_dataset
from core.data.splits import splits_from_arrays
from layers.pretrained_weights import PretrainedWeightsError
from tests.layers.keras_weight_files import write_keras2_weights
from training import ConfigError, TrainConfig
from training.environment_checks import check_environment
from training.tasks.exported_classifier import PredictError, predict_files
from training.run import run_training

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASS_NAMES = ("red", "green", "blue")


def _colour_datasets(num_examples=150):
    rng = np.random.RandomState(0)
    labels = rng.randint(0, 3, num_examples)
    images = rng.uniform(0.0, 0.4, (num_examples, 32, 32, 3)).astype(np.float32)
    images[np.arange(num_examples), :, :, labels] += 0.6
    order = np.arange(num_examples)
    indices = (order[:100], order[100:120], order[120:])
    return splits_from_arrays("colours", images, labels, indices, num_classes=3, class_names=CLASS_NAMES)


def _file_arrays(path):
    with h5py.File(path, "r") as handle:
        names = [str(name) for name in handle.attrs["layer_names"]]
        return {name: handle[name][f"{name}/kernel:0"][()] for name in names if "conv" in name}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("transfer")
    weights = directory / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    write_keras2_weights(keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)),
                         weights)
    config = TrainConfig(model="vgg16", pretrained_weights=str(weights), freeze_base=True,
                         unfreeze_from="block5",
                         train_steps=6, fine_tune_steps=4, warmup_steps=1, batch_size=8, steps_per_loop=3,
                         eval_every=0, precision="float32", model_dir=str(directory / "run"))
    lines = []
    datasets = _colour_datasets()
    result = run_training(config, datasets=datasets, log=lines.append)
    return config, datasets, result, lines, _file_arrays(weights)


def test_phases_train_the_head_then_the_unfrozen_block_only(finished_run):
    config, _, result, lines, file_kernels = finished_run
    assert "Pretrained weights: 13 layers from " + config.pretrained_weights in lines
    assert any(line.startswith("Training 66,") and line.endswith("(head only; base frozen)")
               for line in lines)
    assert any(line.endswith("(head and base from block5)") for line in lines)
    assert os.path.exists(os.path.join(config.model_dir, "ckpt-6.index"))
    assert os.path.exists(os.path.join(config.model_dir, "fine_tune", "ckpt-4.index"))
    model = result.training.model
    assert result.training.final_step == 4  # The fine-tuning phase's own step count.
    for name, block in model.base_blocks():
        for index, convolution in enumerate(block.convolution_layers(), start=1):
            kept = np.array_equal(convolution.kernel.numpy(), file_kernels[f"{name}_conv{index}"])
            assert kept == (name != "block5"), f"{name}_conv{index}"


def test_report_is_printed_and_written(finished_run):
    config, datasets, result, lines, _ = finished_run
    with open(os.path.join(config.model_dir, "evaluation_report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report == result.report
    assert report["num_examples"] == datasets.num_examples["test"] == 30
    assert report["test_accuracy"] == pytest.approx(result.training.test_accuracy, abs=1e-6)
    assert [row["class"] for row in report["per_class"]] == list(CLASS_NAMES)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == 30
    assert [row["examples"] for row in report["per_class"]] == matrix.sum(axis=1).tolist()
    assert any(line.startswith("Evaluation on the test split: accuracy ") for line in lines)
    assert any(line.startswith("Confusion matrix (rows: true class, columns: predicted class):")
               for line in "\n".join(lines).splitlines())
    with open(os.path.join(config.model_dir, "confusion_matrix.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_exported_model_reloads_and_predicts_what_the_model_predicts(finished_run):
    config, datasets, result, _, _ = finished_run
    images = np.stack([image for image, _ in datasets.test.take(5).as_numpy_iterator()])
    expected = tf.nn.softmax(result.training.model(images, training=False)).numpy()
    loaded = tf.saved_model.load(result.export_directory)
    outputs = loaded.signatures["serving_default"](images=tf.constant(images))
    # Same graph, same kernels: equal up to float32 rounding.
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert outputs["class_names"].numpy().tolist() == [[name.encode() for name in CLASS_NAMES]] * 5
    pixels = np.round(images * 255).astype(np.uint8)
    from_uint8 = loaded.signatures["serving_uint8"](images=tf.constant(pixels))["probabilities"].numpy()
    np.testing.assert_allclose(from_uint8, tf.nn.softmax(result.training.model(pixels / 255.0)).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_predict_script_prints_the_top_classes_of_a_png(finished_run, tmp_path):
    config, datasets, result, _, _ = finished_run
    image, _ = next(datasets.test.as_numpy_iterator())
    pixels = np.round(image * 255).astype(np.uint8)
    tf.io.write_file(str(tmp_path / "example.png"), tf.io.encode_png(pixels))
    expected = tf.nn.softmax(result.training.model(pixels[np.newaxis] / 255.0))[0].numpy()
    first, second = np.argsort(-expected)[:2]
    completed = subprocess.run(
        [sys.executable, "-m", "training.predict", f"--model_dir={config.model_dir}", "--top_k=2",
         str(tmp_path / "example.png")], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr
    ranked = f"{CLASS_NAMES[first]} {expected[first]:.4f} | {CLASS_NAMES[second]} {expected[second]:.4f}"
    assert completed.stdout.strip() == f"{tmp_path / 'example.png'}: {ranked}"


def test_prediction_names_a_missing_or_unreadable_image_or_a_missing_export(finished_run, tmp_path):
    config, _, _, _, _ = finished_run
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(PredictError, match=f"^{tmp_path / 'absent.png'}: no such file$"):
        predict_files(config.model_dir, [str(tmp_path / "absent.png")])
    with pytest.raises(PredictError, match=f"^{tmp_path / 'notes.png'}: not an image TensorFlow can decode"):
        predict_files(config.model_dir, [str(tmp_path / "notes.png")])
    expected = f"^--model_dir='{tmp_path}': no exported model in {tmp_path / 'export'}"
    with pytest.raises(PredictError, match=expected):
        predict_files(str(tmp_path), [str(tmp_path / "notes.png")])


def test_transfer_settings_are_checked_against_the_model_before_any_work(tmp_path):
    # Single bad values are in tests/training/test_config.py; these depend on the model, which the
    # run resolves on its machine when it starts (training/environment_checks.py).
    weights = tmp_path / "weights.h5"
    weights.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"^--unfreeze_from='conv9': must be one of the base's blocks \("):
        check_environment(TrainConfig(model="resnet50", pretrained_weights=str(weights), freeze_base=True,
                                      unfreeze_from="conv9"))
    with pytest.raises(ConfigError, match=r"^--pretrained_weights='absent.h5': no such file"):
        check_environment(TrainConfig(model="vgg16", pretrained_weights="absent.h5"))
    cifar = dict(model="vgg16", pretrained_weights=str(weights), dataset="cifar10", data_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"^--normalize=True: --pretrained_weights needs the plain pixels"):
        TrainConfig(**cifar)
    assert TrainConfig(**cifar, normalize=False).normalize is False


def test_model_that_cannot_take_the_images_or_the_weights_fails_with_one_message(tmp_path):
    config = TrainConfig(model="vgg16", dataset="digits", precision="float32", model_dir=str(tmp_path / "a"))
    with pytest.raises(ConfigError, match=r"^--model='vgg16': cannot take --dataset=digits's images of shape "
                                          r"\(8, 8, 1\): VGG16 needs images of at least 32x32"):
        run_training(config, log=lambda line: None)
    not_weights = tmp_path / "vgg16.h5"
    not_weights.write_text("not weights")
    config = TrainConfig(model="vgg16", pretrained_weights=str(not_weights), precision="float32",
                         model_dir=str(tmp_path / "b"))
    expected = f"cannot read weights file {not_weights}: not an HDF5 file"
    with pytest.raises(PretrainedWeightsError, match=expected):
        run_training(config, datasets=_colour_datasets(), log=lambda line: None)


def test_report_and_export_use_the_averaged_weights_with_ema(tmp_path):
    # small_cnn on digits, 40 steps: the test accuracy is the EMA weights', so must the rest be.
    config = TrainConfig(train_steps=40, warmup_steps=4, steps_per_loop=20, eval_every=0, ema_decay=0.9,
                         precision="float32", model_dir=str(tmp_path / "run"))
    result = run_training(config, log=lambda line: None)
    assert result.report["test_accuracy"] == pytest.approx(result.training.test_accuracy, abs=1e-6)
    images = np.stack([image for image, _ in load_dataset("digits").test.take(4).as_numpy_iterator()])
    serve = tf.saved_model.load(result.export_directory).signatures["serving_default"]
    served = serve(images=tf.constant(images))
    raw = tf.nn.softmax(result.training.model(images)).numpy()
    with result.training.ema.swapped_in():
        averaged = tf.nn.softmax(result.training.model(images)).numpy()
    np.testing.assert_allclose(served["probabilities"].numpy(), averaged, rtol=1e-5, atol=1e-6)
    assert not np.allclose(raw, averaged, rtol=1e-5, atol=1e-6)
