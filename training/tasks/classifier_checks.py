"""An image classifier is checked against the data before training: one line when they disagree.

A user's `--model=package.module:Net` can be anything: a class whose constructor fails, something
that is not a Keras model, a model whose output is not [batch, num_classes] floating-point logits
for this dataset, or one without a trainable weight. Each would otherwise fail 30-80 lines deep in
the first compiled step (or, for integer logits, train nothing); here each is a ConfigError naming
the flag, the value and what was expected.
"""

import importlib

import keras
import tensorflow as tf

from training.config import ConfigError


def import_model_module(model: str):
    """Imports the module of an import path `module:Class`, so whatever it raises becomes one line.

    Raises:
      ConfigError: naming --model and the module's exception, when importing the module fails
        for any reason other than not finding it (layers/registry.py names a missing module).
    """
    module_name, colon, _ = model.partition(":")
    if not colon or not module_name:
        return
    try:
        importlib.import_module(module_name)
    except ImportError:
        return
    except Exception as error:  # pylint: disable=broad-except  # The user's module-level code.
        raise ConfigError(f"--model={model!r}: importing {module_name} raised {_gist(error)}") from None


def create_checked_model(model_fn, num_classes, input_shape, model_flag, dataset_flag):
    """Returns `model_fn(num_classes)`, built and checked (`check_model`).

    Raises:
      ConfigError: naming the model when its constructor raises, or `check_model` refuses it.
    """
    try:
        built = model_fn(num_classes)
    except Exception as error:  # pylint: disable=broad-except  # The user's constructor.
        raise ConfigError(f"{model_flag}: constructing it with num_classes={num_classes} raised "
                          f"{_gist(error)}") from None
    return check_model(built, num_classes, input_shape, model_flag, dataset_flag)


def check_model(model, num_classes, input_shape, model_flag, dataset_flag):
    """Creates the weights of `model` by a call on one zero image and checks what it returns.

    Args:
      model: should be a Keras model or layer mapping images [B, *input_shape] to logits
        [B, num_classes].
      num_classes: the dataset's number of classes.
      input_shape: one example's shape, e.g. (H, W, C).
      model_flag: how messages name the model, e.g. "--model='my.nets:Net'".
      dataset_flag: how messages name the data, e.g. "--dataset=digits".

    Returns:
      `model`, built.

    Raises:
      ConfigError: one line naming the model when it is not a Keras model or layer, cannot take
        the images, gives other than [batch, num_classes] floating-point logits, or has no
        trainable weight.
    """
    if not isinstance(model, keras.layers.Layer):
        raise ConfigError(f"{model_flag}: gives a {type(model).__name__}, not a Keras model or layer")
    try:
        outputs = model(tf.zeros((1,) + tuple(input_shape)), training=False)
    except Exception as error:  # pylint: disable=broad-except  # The user's call().
        raise ConfigError(f"{model_flag}: cannot take {dataset_flag}'s images of shape {tuple(input_shape)}: "
                          f"{_gist(error, with_type=False)}") from None
    expected = f"logits of shape [batch, {num_classes}] for {dataset_flag}'s {num_classes} classes"
    if not tf.is_tensor(outputs):
        raise ConfigError(f"{model_flag}: returns a {type(outputs).__name__}; expected one tensor of {expected}")
    if outputs.shape.rank != 2 or outputs.shape[-1] != num_classes:
        raise ConfigError(f"{model_flag}: returns shape {tuple(outputs.shape)} for one image; expected {expected}")
    if not outputs.dtype.is_floating:
        raise ConfigError(f"{model_flag}: returns {outputs.dtype.name} logits; expected floating-point {expected} "
                          "(the loss and its gradients need them)")
    if not model.trainable_variables:
        raise ConfigError(f"{model_flag}: has no trainable weights; there is nothing to train")
    return model


def _gist(error, with_type=True) -> str:
    lines = str(error).strip().splitlines()
    text = lines[0][:300] if lines else ""
    return f"{type(error).__name__}: {text}" if with_type else text or type(error).__name__
