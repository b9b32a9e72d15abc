"""The `config` check: get_config -> from_config gives an equal layer."""

from layers.conformance.errors import CheckFailed, CheckSkipped, describe_exception


def check_config(subject):
    """from_config(get_config()) builds a layer with the same config and output shape.

    A layer without its own get_config is checked through the config Keras generates from its
    constructor arguments; when Keras cannot (an argument that is not a plain value, such as a
    function or a layer, raises NotImplementedError), the check is skipped. A failure here
    usually means a constructor argument is missing from get_config, or get_config returns a
    key that __init__ does not accept.
    """
    layer = subject.shared()
    try:
        config = layer.get_config()
    except NotImplementedError:
        raise CheckSkipped(f"{type(layer).__name__} defines no get_config and Keras cannot generate one from "
                           "its constructor arguments (one is not a plain value)") from None
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
    return f"{len(config)} config key(s) survive from_config, output shape {shape} kept"
