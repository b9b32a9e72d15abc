"""Freezing the pretrained base and unfreezing its top blocks change exactly the intended variables.

Cost: one ResNet-50 at 32x32 trained for two eager steps per phase, ~15-25 s.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layers.freezing import freeze_base, resolve_block_index, unfreeze_base_from
from layers.models import VGG16, ResNet50
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.


def _built(model_class):
    model = model_class(num_classes=4)
    model(tf.zeros((1, 32, 32, 3)))
    return model


def _path(variable):
    """The path below the model, e.g. "block5/conv1/kernel" (Keras numbers repeated model names)."""
    return variable.path.split("/", 1)[1]


def _trainable_paths(model):
    return {_path(variable) for variable in model.trainable_variables}


def _paths(model, keep):
    return {_path(variable) for variable in model.variables if keep(_path(variable))}


def test_block_is_named_by_name_stage_or_index():
    names = ResNet50.BLOCK_NAMES
    assert resolve_block_index(names, "conv5_block2") == 15
    assert resolve_block_index(names, "conv5") == 14  # A stage names its first block.
    assert resolve_block_index(names, "-1") == 16
    assert resolve_block_index(names, 0) == 0
    expected = (r"must be one of the base's blocks \(block1, block2, block3, block4, block5\) "
                "or an index from -5 to 4")
    with pytest.raises(ValueError, match=expected):
        resolve_block_index(VGG16.BLOCK_NAMES, "block6")


def test_vgg16_freeze_leaves_the_head_and_unfreeze_adds_exactly_the_named_blocks():
    model = _built(VGG16)
    head = _paths(model, lambda path: path.startswith("head/"))
    assert len(head) == 4  # hidden and classifier kernels and biases.
    freeze_base(model)
    assert _trainable_paths(model) == head
    assert unfreeze_base_from(model, "block5") == ["block5"]
    assert _trainable_paths(model) == head | _paths(model, lambda path: path.startswith("block5/"))
    unfreeze_base_from(model, -2)
    top_two = _paths(model, lambda path: path.split("/")[0] in ("block4", "block5"))
    assert _trainable_paths(model) == head | top_two


def _batchnorm_statistics(model):
    return {_path(variable): variable.numpy() for variable in model.variables if "moving_" in variable.path}


def _train(model, steps, learning_rate=1e-3):
    optimizer = keras.optimizers.SGD(learning_rate)
    optimizer.build(model.trainable_variables)
    train_step = make_train_step(CLASSIFICATION, model, optimizer, TaskMetrics("train", CLASSIFICATION),
                                 global_batch_size=4)
    rng = np.random.RandomState(0)
    for _ in range(steps):
        images = rng.uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
        train_step((tf.constant(images), tf.constant(rng.randint(0, 4, 4), tf.int32)))


def _calibrate_batchnorm(model):
    """Sets every moving mean and variance to one batch's statistics, as a pretrained model's would be.

    With the initial statistics (0 and 1) inference mode does not normalize, and a random
    ResNet-50's activations grow to ~1e5 by conv5, where any update overflows.
    """
    layers = [layer for layer in model._flatten_layers()  # pylint: disable=protected-access
              if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in layers:
        layer.momentum = 0.0  # moving = momentum * moving + (1 - momentum) * batch.
    model(np.random.RandomState(1).uniform(0, 1, (8, 32, 32, 3)).astype(np.float32), training=True)
    for layer in layers:
        layer.momentum = 0.99


def test_resnet50_batchnorm_stays_in_inference_mode_through_both_phases():
    keras.utils.set_random_seed(0)
    model = _built(ResNet50)
    _calibrate_batchnorm(model)
    statistics = _batchnorm_statistics(model)
    assert len(statistics) == 2 * 53  # Moving mean and variance of 53 BatchNorm layers.
    head = _paths(model, lambda path: path.startswith("head/"))

    freeze_base(model)
    assert _trainable_paths(model) == head
    before = {_path(variable): variable.numpy() for variable in model.variables}
    _train(model, steps=2)
    for variable in model.variables:
        path = _path(variable)
        if path in head and path.endswith("kernel"):
            assert not np.array_equal(before[path], variable.numpy()), path
        elif path not in head:  # The base, its BatchNorm statistics included.
            np.testing.assert_array_equal(before[path], variable.numpy(), err_msg=path)

    unfreeze_base_from(model, "conv5")
    conv5_convolutions = _paths(model, lambda path: path.startswith("conv5_") and "/conv/" in path)
    assert len(conv5_convolutions) == 2 * (4 + 3 + 3)  # Kernel and bias; the first block has a projection.
    assert _trainable_paths(model) == head | conv5_convolutions
    assert all(not layer.trainable for layer in model._flatten_layers()  # pylint: disable=protected-access
               if isinstance(layer, keras.layers.BatchNormalization))
    before = {_path(variable): variable.numpy() for variable in model.variables}
    _train(model, steps=2, learning_rate=1e-4)
    for path, value in _batchnorm_statistics(model).items():
        np.testing.assert_array_equal(value, statistics[path], err_msg=path)
    for variable in model.variables:
        path = _path(variable)
        assert np.all(np.isfinite(variable.numpy())), path
        if path in conv5_convolutions and path.endswith("kernel"):
            assert not np.array_equal(before[path], variable.numpy()), path
        elif path not in head | conv5_convolutions:
            np.testing.assert_array_equal(before[path], variable.numpy(), err_msg=path)
