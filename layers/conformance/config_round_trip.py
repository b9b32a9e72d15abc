"""The `config` check: get_config -> from_config gives an equal layer."""

import keras

from layers.conformance.errors import CheckFailed, describe_exception


def defines_config(layer):
    """Whether the layer's class (or a parent below Keras' own) overrides get_config."""
    return type(layer).get_config not in (keras.layers.Layer.get_config, keras.Model.get_config)


def check_config(subject):
    """from_config(get_config()) builds a layer with the same config and output shape.

    Layers without their own get_config pass: Keras' default only covers base arguments.
    A failure here usually means a constructor argument is missing from get_config, or
    get_config returns a key that __init__ does not accept.
    """
    layer = subject.shared()
    if not defines_config(layer):
        return
    config = layer.get_config()
    try:
        clone = type(layer).from_config(config)
    except Exception as error:  # The constructor's own complaint names the bad key.
        raise CheckFailed(f"from_config(get_config()) raised {describe_exception(error)}; get_config must "
                          "return exactly the constructor's arguments") from error
    clone_config = clone.get_config()
    keys = sorted(set(config) | set(clone_config))
    differing = [key for key in keys if config.get(key) != clone_config.get(key)]
    if differing:
        before = {key: config.get(key) for key in differing}
        after = {key: clone_config.get(key) for key in differing}
        raise CheckFailed(f"the rebuilt layer's config differs in {differing}: {before} vs {after}")
    inputs = subject.inputs()
    clone_shape = tuple(clone(inputs, training=False).shape)
    shape = tuple(layer(inputs, training=False).shape)
    if clone_shape != shape:
        raise CheckFailed(f"the rebuilt layer's output shape {clone_shape} differs from the original's "
                          f"{shape}")
