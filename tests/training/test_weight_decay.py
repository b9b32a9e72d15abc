"""Decoupled weight decay: kernels shrink by lr * decay per step; biases and normalization do not."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core import precision as precision_lib
from training.optimizers import create_optimizer
from training.weight_decay import is_decayed

LEARNING_RATE, WEIGHT_DECAY = 0.1, 0.5


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.BatchNormalization(name="batch_norm"),
        keras.layers.Flatten(),
        keras.layers.Dense(8, name="dense"),
        keras.layers.LayerNormalization(name="layer_norm"),
        keras.layers.Dense(3, name="classifier"),
    ])
    model(tf.zeros((1, 6, 6, 1)))
    for variable in model.trainable_variables:  # Move gammas off 1 and betas off 0, so decay would show.
        variable.assign(variable + 0.5)
    return model


def test_the_rule_decays_kernels_only():
    # Paths without the model's own name, which Keras numbers by how many models the process made.
    decayed = {variable.path.split("/", 1)[1] for variable in _model().trainable_variables if is_decayed(variable)}
    assert decayed == {"conv/kernel", "dense/kernel", "classifier/kernel"}


@pytest.mark.parametrize("loss_scaling", [False, True], ids=["plain", "loss_scale_optimizer"])
@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_decay_alone_shrinks_kernels_and_leaves_excluded_variables_unchanged(name, loss_scaling):
    model = _model()
    variables = model.trainable_variables
    optimizer = create_optimizer(name, LEARNING_RATE, WEIGHT_DECAY, variables)
    if loss_scaling:
        optimizer = precision_lib.wrap_for_loss_scaling(optimizer, "mixed_float16")
    optimizer.build(variables)
    before = [variable.numpy() for variable in variables]
    # Zero gradients: Adam's and SGD's own updates are 0, so any change is the decay.
    optimizer.apply([tf.zeros_like(variable) for variable in variables], variables)
    for variable, old in zip(variables, before):
        if is_decayed(variable):
            np.testing.assert_allclose(variable.numpy(), old * (1 - LEARNING_RATE * WEIGHT_DECAY), rtol=1e-6,
                                       err_msg=variable.path)
        else:
            np.testing.assert_array_equal(variable.numpy(), old, err_msg=variable.path)


def test_adamw_decays_by_default_and_adam_refuses_decay():
    variables = _model().trainable_variables
    assert create_optimizer("adamw", LEARNING_RATE, None, variables).weight_decay == pytest.approx(0.01)
    assert create_optimizer("sgd", LEARNING_RATE, None, variables).weight_decay is None
    with pytest.raises(ValueError, match="adam has no weight decay"):
        create_optimizer("adam", LEARNING_RATE, 0.1, variables)
